// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/security_store.hpp"

using namespace mkeys;
using namespace mkeys::keystore;

namespace {
// python3-samba 4.17: ndr_pack(xattr.NTACL(version=1, info=descriptor.from_sddl(
//   'O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;0x1f01ff;;;BA)S:(AU;SA;0x1f01ff;;;WD)', ...)))
constexpr const char* kSambaBlob =
    "0100010000000200010014941c00000028000000340000005000000001010000000000051200000001010000"
    "000000051200000004001c000100000002401400ff011f000101000000000001000000000400340002000000"
    "000014009f01120001010000000000010000000000001800ff011f0001020000000000052000000020020000";
}  // namespace

TEST_CASE("NTACL v1 encoding is byte-identical to Samba's ndr_pack", "[keystore][ntacl]") {
  auto sd = acl::ParseSddl("O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)S:(AU;SA;FA;;;WD)");
  REQUIRE(sd);
  // Samba's SDDL parser writes ACL revision 4 (ACL_REVISION_DS) where Windows writes 2; the NDR
  // layout is what this test is about.
  sd->dacl->revision = 4;
  sd->sacl->revision = 4;
  CHECK(HexEncode(EncodeNtaclV1(*sd)) == kSambaBlob);
}

TEST_CASE("NTACL v1 blobs from Samba decode to the same descriptor", "[keystore][ntacl]") {
  auto blob = HexDecode(kSambaBlob);
  REQUIRE(blob);
  auto sd = DecodeNtacl(*blob);
  REQUIRE(sd);
  CHECK(acl::FormatSddl(*sd) == "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)S:(AU;SA;FA;;;WD)");
  CHECK(EncodeNtaclV1(*sd) == *blob);
}

TEST_CASE("Malformed NTACL blobs are rejected with the offset", "[keystore][ntacl]") {
  auto blob = *HexDecode(kSambaBlob);
  SECTION("truncated inside the header") {
    auto r = DecodeNtacl(std::span<const std::uint8_t>(blob.data(), 6));
    REQUIRE_FALSE(r);
    CHECK(r.error().position() == 6u);
  }
  SECTION("another version") {
    blob[0] = 4;
    auto r = DecodeNtacl(blob);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == ErrorCode::kUnsupported);
    CHECK(r.error().message().find("version 4") != std::string::npos);
  }
  SECTION("an offset past the end") {
    blob[12] = 0xff;  // owner offset low byte -> 0xff
    auto r = DecodeNtacl(blob);
    REQUIRE_FALSE(r);
    CHECK(r.error().position() == 12u);
  }
  SECTION("the DACL cut short") {
    blob.resize(blob.size() - 10);
    auto r = DecodeNtacl(blob);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().position());
    CHECK(*r.error().position() >= 0x50u);
  }
  SECTION("every truncation fails cleanly") {
    for (std::size_t n = 0; n < blob.size(); ++n) {
      CHECK_FALSE(DecodeNtacl(std::span<const std::uint8_t>(blob.data(), n)));
    }
  }
}
