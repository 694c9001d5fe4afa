// SPDX-License-Identifier: GPL-3.0-or-later
// Issue 17: `sd get` -> `sd set` of a descriptor with resource attribute (RA) and conditional
// (XA, XD) ACEs gives back the same bytes, on a model machine and on an ntfs-3g volume. The
// descriptor carries owner and group (ntfs-3g refuses descriptors without them).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/security_store.hpp"
#include "support/ntfs.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {

const char* kSddl =
    "O:SYG:SYD:(XD;;FX;;;WD;(@User.Project Any_of @Resource.Project))"
    "(XA;;FR;;;WD;(Member_of {SID(BA), SID(BU)}))(A;;FA;;;SY)"
    "S:(RA;;;;;WD;(\"Project\",TS,0x0,\"Alpha\",\"Beta\"))";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Sets kSddl, reads it back as SDDL, sets that, and checks the stored bytes did not change.
// `samba_ntacl`: the model machine stores Samba's NTACL v1 blob around the descriptor (what
// `sd get --format hex` prints is the attribute as stored); ntfs-3g stores the descriptor itself.
void CheckRoundTrip(const fs::path& file, bool samba_ntacl) {
  auto first = test::Mkeys({"sd", "set", file.string(), kSddl});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  auto hex1 = test::Mkeys({"sd", "get", file.string(), "--format", "hex"});
  REQUIRE(hex1.exit_code == 0);
  // What was stored is what the SDDL encodes to (the RA and the conditions were not dropped).
  const auto want = acl::ParseSddl(kSddl);
  REQUIRE(want);
  CHECK(Trim(hex1.out) == HexEncode(samba_ntacl ? keystore::EncodeNtaclV1(*want) : want->Encode()));

  auto got = test::Mkeys({"sd", "get", file.string()});
  REQUIRE(got.exit_code == 0);
  const std::string sddl = Trim(got.out);
  CHECK(sddl.find("(RA;;;;;WD;(\"Project\",TS,0x0,\"Alpha\",\"Beta\"))") != std::string::npos);
  CHECK(sddl.find("Member_of {SID(BA), SID(BU)}") != std::string::npos);
  auto again = test::Mkeys({"sd", "set", file.string(), sddl});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  auto hex2 = test::Mkeys({"sd", "get", file.string(), "--format", "hex"});
  CHECK(hex2.out == hex1.out);
}

}  // namespace

TEST_CASE("sd get then sd set keeps RA and conditional ACEs byte for byte on a model machine",
          "[integration][acl][roundtrip]") {
  test::TempDir dir;
  const fs::path root = dir.path() / "m";
  REQUIRE(test::Mkeys({"machine", "init", root.string()}).exit_code == 0);
  const fs::path file = root / "ProgramData/Microsoft/Crypto/RSA/MachineKeys/roundtrip.bin";
  std::ofstream(file) << "x";
  CheckRoundTrip(file, true);
}

TEST_CASE("sd get then sd set keeps RA and conditional ACEs byte for byte on NTFS",
          "[integration][acl][roundtrip][ntfs]") {
  std::string why;
  auto mount = test::NtfsMount::Create(why);
  if (!mount) {
    WARN("SKIPPED: " + why);
    return;
  }
  const fs::path keys = mount->path() / "ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  fs::create_directories(keys);
  const fs::path file = keys / "roundtrip.bin";
  std::ofstream(file) << "x";
  CheckRoundTrip(file, false);
  const auto stored = test::NtfsMount::GetDescriptor(file);
  CHECK(HexEncode(stored) == HexEncode(acl::ParseSddl(kSddl)->Encode()));
}
