// SPDX-License-Identifier: GPL-3.0-or-later
// Inputs that crashed acl parsers, found by the fuzzers (fuzz/) or by the same pattern, kept as
// hex exactly as the parser saw them. Each must now fail with a clean error.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "mkeys/acl/token.hpp"
#include "mkeys/core/hex.hpp"

using namespace mkeys;

TEST_CASE("identity overrides: a number beyond double's range is a parse error, not an exception",
          "[acl][fuzz]") {
  // The pattern fuzz_baseline found in repair ("9e999": nlohmann throws out_of_range.406, which
  // only parse_error handlers let through), in the identity-overrides parser.
  auto bytes = HexDecode("5b3965393939");  // [9e999
  REQUIRE(bytes);
  auto r = acl::LoadTokenCatalogueOverrides(std::string(bytes->begin(), bytes->end()));
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == ErrorCode::kParse);
  CHECK(r.error().message().find("9e999") != std::string::npos);
}
