// SPDX-License-Identifier: GPL-3.0-or-later
// Reparse point buffers (MS-FSCC 2.1.2.4 symbolic link, 2.1.2.5 mount point), typed as hex from
// the documented layout: the kind and the Windows target of a junction and a symbolic link,
// other tags by number, and malformed buffers rejected at the right offset.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "mkeys/keystore/reparse_point.hpp"
#include "support/reparse.hpp"

namespace ks = mkeys::keystore;

namespace {

std::vector<std::uint8_t> FromHex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

TEST_CASE("a junction buffer names its kind and its Windows target", "[keystore][reparse]") {
  // mklink /J: tag A0000003, substitute "\??\C:\Windows", print "C:\Windows".
  const auto bytes = FromHex(mkeys::test::JunctionReparseHex("C:\\Windows"));
  auto point = ks::ParseReparsePoint(bytes);
  REQUIRE(point);
  CHECK(point->tag == ks::kReparseTagMountPoint);
  CHECK(point->kind == "junction");
  CHECK(point->target == "C:\\Windows");
}

TEST_CASE("a symbolic link buffer with no print name gives its substitute name",
          "[keystore][reparse]") {
  // mklink x ..\y (relative: Flags 1): tag A000000C, ReparseDataLength 0x12 (12 + 6),
  // SubstituteNameOffset 0, SubstituteNameLength 8, PrintNameOffset 8, PrintNameLength 0,
  // Flags 1, then "..\y" in UTF-16LE.
  const auto bytes = FromHex(
      "0c0000a0"
      "1400"
      "0000"  // tag, ReparseDataLength 20, Reserved
      "0000"
      "0800"
      "0800"
      "0000"
      "01000000"  // names, Flags
      "2e002e005c007900"
      "0000");  // "..\y", a terminator
  auto point = ks::ParseReparsePoint(bytes);
  REQUIRE(point);
  CHECK(point->kind == "symbolic link");
  CHECK(point->target == "..\\y");
}

TEST_CASE("other reparse tags are named by number", "[keystore][reparse]") {
  // IO_REPARSE_TAG_DEDUP (0x80000013) with 4 bytes of data.
  auto point =
      ks::ParseReparsePoint(FromHex("13000080"
                                    "0400"
                                    "0000"
                                    "01020304"));
  REQUIRE(point);
  CHECK(point->kind == "reparse point 0x80000013");
  CHECK(point->target.empty());
}

TEST_CASE("malformed reparse buffers are rejected at the offending offset", "[keystore][reparse]") {
  auto short_header = ks::ParseReparsePoint(FromHex("030000a0"));
  REQUIRE_FALSE(short_header);
  CHECK_THAT(short_header.error().message(), Catch::Contains("shorter than the 8-byte header"));

  // ReparseDataLength 0x40 but only 8 bytes of data follow.
  auto past =
      ks::ParseReparsePoint(FromHex("030000a0"
                                    "4000"
                                    "0000"
                                    "0000000000000000"));
  REQUIRE_FALSE(past);
  CHECK(past.error().position() == std::optional<std::size_t>(4));
  CHECK_THAT(past.error().message(), Catch::Contains("ReparseDataLength 64"));

  // A junction whose substitute name (0x20 bytes) runs past its 8-byte path buffer.
  auto name_past =
      ks::ParseReparsePoint(FromHex("030000a0"
                                    "1000"
                                    "0000"
                                    "0000"
                                    "2000"
                                    "0000"
                                    "0000"
                                    "4300"
                                    "3a00"
                                    "5c00"
                                    "0000"));
  REQUIRE_FALSE(name_past);
  CHECK(name_past.error().position() == std::optional<std::size_t>(8));
  CHECK_THAT(name_past.error().message(), Catch::Contains("substitute name"));

  // An odd length.
  auto odd =
      ks::ParseReparsePoint(FromHex("030000a0"
                                    "0c00"
                                    "0000"
                                    "0000"
                                    "0300"
                                    "0000"
                                    "0000"
                                    "43003a00"));
  REQUIRE_FALSE(odd);
  CHECK_THAT(odd.error().message(), Catch::Contains("odd"));
}
