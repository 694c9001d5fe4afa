// SPDX-License-Identifier: GPL-3.0-or-later
// Windows-recorded SDDL vectors (tests/data/windows-sddl, see its README): every file is read
// from there, reported per file, and must pass in full. A missing file fails the test.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/hex.hpp"
#include "support/process.hpp"

using namespace mkeys::acl;

namespace {

// The domain SID Windows expanded LA, LG, DA, DU, RO, ... with when the vectors were recorded.
const char* kDomainSid = "S-1-5-21-2457507606-2709100691-398136650";

std::filesystem::path VectorDir() {
  return mkeys::test::TestDataDir() / "windows-sddl";
}

bool Available(const std::string& file) {
  const auto path = VectorDir() / file;
  INFO(path.string() << " is part of the repository: a clone without it is broken");
  REQUIRE(std::filesystem::is_regular_file(path));
  REQUIRE(std::filesystem::file_size(path) > 0);
  return true;
}

std::vector<std::string> Lines(const std::string& file) {
  std::ifstream in(VectorDir() / file, std::ios::binary);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

struct Pair {
  std::string in;
  std::string out;
};

std::vector<Pair> Pairs(const std::string& file) {
  std::vector<Pair> pairs;
  for (const auto& line : Lines(file)) {
    const auto arrow = line.find(" -> ");
    REQUIRE(arrow != std::string::npos);
    pairs.push_back({line.substr(0, arrow), line.substr(arrow + 4)});
  }
  return pairs;
}

SddlOptions Options() {
  SddlOptions o;
  o.domain_sid = *Sid::Parse(kDomainSid);
  return o;
}

void Report(const std::string& file, std::size_t ok, std::size_t total, const std::string& what) {
  std::cout << file << ": " << ok << "/" << total << " " << what << " ("
            << (total == 0 ? 100 : ok * 100 / total) << "%)" << std::endl;
}

struct TsvRow {
  std::string sddl;
  std::string hex;
  bool oversize = false;
};

std::vector<TsvRow> TsvRows() {
  std::vector<TsvRow> rows;
  bool oversize = false;
  std::ifstream in(VectorDir() / "windows-sddl-bytes.tsv", std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) {
      if (line.find("oversize-acls") != std::string::npos) oversize = true;
      continue;
    }
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    rows.push_back({line.substr(0, tab), line.substr(tab + 1), oversize});
  }
  return rows;
}

// Formats `in` through ParseSddl/FormatSddl and counts exact matches with Windows.
void CheckFormatting(const std::string& file) {
  if (!Available(file)) return;
  const auto pairs = Pairs(file);
  std::size_t ok = 0;
  for (const auto& p : pairs) {
    auto sd = ParseSddl(p.in, Options());
    const std::string got = sd ? FormatSddl(*sd, Options()) : "error: " + sd.error().ToString();
    if (got == p.out) {
      ++ok;
    } else {
      UNSCOPED_INFO(file << ": " << p.in << "\n  want " << p.out << "\n  got  " << got);
    }
  }
  Report(file, ok, pairs.size(), "formatted exactly as Windows");
  CHECK(pairs.size() > 0);
  CHECK(ok == pairs.size());
}

void CheckRejected(const std::string& file) {
  if (!Available(file)) return;
  const auto pairs = Pairs(file);
  std::size_t ok = 0;
  for (const auto& p : pairs) {
    auto sd = ParseSddl(p.in, Options());
    if (!sd) {
      ++ok;
      // Every rejection says where.
      CHECK(sd.error().position().has_value());
    } else {
      UNSCOPED_INFO(file << ": accepted " << p.in << " as " << FormatSddl(*sd, Options()));
    }
  }
  Report(file, ok, pairs.size(), "rejected as by Windows");
  CHECK(pairs.size() > 0);
  CHECK(ok == pairs.size());
}

}  // namespace

TEST_CASE("SDDL encodes to the bytes Windows produces", "[acl][sddl][conformance]") {
  if (!Available("windows-sddl-bytes.tsv")) return;
  const auto rows = TsvRows();
  std::size_t total = 0, ok = 0, over_total = 0, over_exact = 0, over_consistent = 0;
  for (const auto& row : rows) {
    auto sd = ParseSddl(row.sddl, Options());
    const std::string got = sd ? mkeys::HexEncode(sd->Encode()) : "error: " + sd.error().ToString();
    if (!row.oversize) {
      ++total;
      if (got == row.hex) {
        ++ok;
      } else {
        UNSCOPED_INFO(row.sddl << "\n  want " << row.hex << "\n  got  " << got);
      }
      continue;
    }
    ++over_total;
    if (got == row.hex) ++over_exact;
    // At the least: the bytes decode to the ACEs the SDDL parses to and re-encode unchanged.
    auto bytes = mkeys::HexDecode(row.hex);
    REQUIRE(bytes);
    auto decoded = SecurityDescriptor::Decode(*bytes);
    if (sd && decoded && decoded->dacl && sd->dacl && decoded->dacl->aces == sd->dacl->aces &&
        decoded->Encode() == *bytes) {
      ++over_consistent;
    }
  }
  Report("windows-sddl-bytes.tsv", ok, total, "SDDL->bytes identical");
  Report("windows-sddl-bytes.tsv (oversize ACLs)", over_consistent, over_total,
         "decode to the parsed ACEs and re-encode to the same bytes");
  Report("windows-sddl-bytes.tsv (oversize ACLs)", over_exact, over_total, "SDDL->bytes identical");
  CHECK(total == 7257);
  CHECK(ok == total);
  CHECK(over_total == 9);
  CHECK(over_consistent == over_total);
  CHECK(over_exact == over_total);
}

TEST_CASE("Windows descriptor bytes decode and re-encode unchanged", "[acl][sddl][conformance]") {
  if (!Available("windows-sddl-bytes.tsv")) return;
  const auto rows = TsvRows();
  std::size_t ok = 0;
  for (const auto& row : rows) {
    auto bytes = mkeys::HexDecode(row.hex);
    REQUIRE(bytes);
    auto sd = SecurityDescriptor::Decode(*bytes);
    if (!sd) {
      UNSCOPED_INFO(row.hex << ": " << sd.error().ToString());
      continue;
    }
    // bytes -> SDDL -> bytes as well: the SDDL Windows would print for them encodes back.
    auto again = ParseSddl(FormatSddl(*sd, Options()), Options());
    if (sd->Encode() == *bytes && again && again->Encode() == *bytes) {
      ++ok;
    } else {
      UNSCOPED_INFO(row.sddl << ": does not round-trip via " << FormatSddl(*sd, Options()));
    }
  }
  Report("windows-sddl-bytes.tsv", ok, rows.size(),
         "decode->encode and decode->SDDL->encode round-trips");
  CHECK(ok == rows.size());
}

TEST_CASE("SDDL canonical.txt is formatted as Windows does", "[acl][sddl][conformance]") {
  CheckFormatting("canonical.txt");
}

TEST_CASE("SDDL non_canonical.txt is formatted as Windows does", "[acl][sddl][conformance]") {
  CheckFormatting("non_canonical.txt");
}

TEST_CASE("SDDL windows_is_less_fussy.txt is accepted and normalised", "[acl][sddl][conformance]") {
  CheckFormatting("windows_is_less_fussy.txt");
}

TEST_CASE("SDDL windows_is_weird.txt quirks are reproduced", "[acl][sddl][conformance]") {
  CheckFormatting("windows_is_weird.txt");
}

TEST_CASE("SDDL should_fail.txt is rejected", "[acl][sddl][conformance]") {
  CheckRejected("should_fail.txt");
}

TEST_CASE("SDDL windows_is_fussy.txt is rejected", "[acl][sddl][conformance]") {
  CheckRejected("windows_is_fussy.txt");
}
