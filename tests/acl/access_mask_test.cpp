// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/access_mask.hpp"

using namespace mkeys::acl;

TEST_CASE("Generic rights map through the file generic mapping", "[acl][access_mask]") {
  CHECK(MapGeneric(rights::kGenericAll) == 0x1f01ff);
  CHECK(MapGeneric(rights::kGenericRead) == 0x120089);
  CHECK(MapGeneric(rights::kGenericWrite | rights::kDelete) == (0x120116 | 0x10000));
  CHECK(MapGeneric(rights::kGenericExecute) == 0x1200a0);
  CHECK(MapGeneric(0x12019f) == 0x12019f);
}

TEST_CASE("Composite masks are tested with all bits, not any", "[acl][access_mask]") {
  CHECK(HasAll(0x1f01ff, rights::kFileGenericRead));
  CHECK_FALSE(HasAll(rights::kReadData, rights::kFileGenericRead));
}

TEST_CASE("Right names follow bit order", "[acl][access_mask]") {
  auto names = RightNames(rights::kReadData | rights::kWriteDac | 0x200);
  REQUIRE(names.size() == 3);
  CHECK(names[0] == "READ_DATA");
  CHECK(names[1] == "0x200");
  CHECK(names[2] == "WRITE_DAC");
}
