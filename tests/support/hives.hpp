// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The real hives of tests/data/hives placed under a machine root, and changed with hivex's own
// tools (hivexsh), never by mkeys' writer alone.

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "support/process.hpp"

namespace mkeys::test {

// Decompresses tests/data/hives/<name>.xz to `root`/Windows/System32/config/<name>
// (replacing what is there). Missing test data is a failure, never a skip.
inline std::filesystem::path PlaceRealHive(const std::filesystem::path& root,
                                           const std::string& name) {
  const auto src = TestDataDir() / "hives" / (name + ".xz");
  REQUIRE(std::filesystem::exists(src));
  const auto dst = root / "Windows/System32/config" / name;
  std::filesystem::create_directories(dst.parent_path());
  std::filesystem::remove(dst);
  const auto r = Run({"sh", "-c", "xz -dc \"$1\" > \"$2\"", "sh", src.string(), dst.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return dst;
}

// Removes privilege number `luid` from Policy\Accounts\<sid>\Privilgs with hivexsh: reads the
// value with `lsval`, drops the 12-byte entry, writes it back with `setval` and commits.
inline void HivexDropPrivilege(const std::filesystem::path& security, const std::string& sid,
                               std::uint32_t luid) {
  const std::string key = "\\Policy\\Accounts\\" + sid + "\\Privilgs";
  const auto listed = Run({"hivexsh", security.string()}, "cd " + key + "\nlsval\n");
  INFO(listed.out << listed.err);
  REQUIRE(listed.exit_code == 0);
  const auto colon = listed.out.find("hex(0):");
  REQUIRE(colon != std::string::npos);
  std::vector<std::uint32_t> bytes;
  std::istringstream in(listed.out.substr(colon + 7));
  std::string byte;
  while (std::getline(in, byte, ',')) bytes.push_back(std::stoul(byte, nullptr, 16));
  REQUIRE(bytes.size() >= 8);
  std::vector<std::uint32_t> out(bytes.begin(), bytes.begin() + 8);
  std::uint32_t kept = 0;
  for (std::size_t at = 8; at + 12 <= bytes.size(); at += 12) {
    if (bytes[at] == luid && bytes[at + 1] == 0) continue;
    out.insert(out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at),
               bytes.begin() + static_cast<std::ptrdiff_t>(at + 12));
    ++kept;
  }
  out[0] = kept & 0xff;
  std::string hex;
  for (auto b : out) hex += fmt::format("{}{:02x}", hex.empty() ? "" : ",", b);
  const auto r = Run({"hivexsh", "-w", security.string()},
                     "cd " + key + "\nsetval 1\n@\nhex:0:" + hex + "\ncommit\n");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace mkeys::test
