// SPDX-License-Identifier: GPL-3.0-or-later
// Bad input a user types or feeds: each gets the input-error exit code (3) and a message that
// says what is wrong and how to fix it.
#include <catch2/catch.hpp>

#include <fstream>

#include "support/process.hpp"

using mkeys::test::Mkeys;
using mkeys::test::TempDir;

TEST_CASE("sd set with malformed SDDL is an input error naming the offset", "[cli][sd]") {
  TempDir dir;
  const auto root = dir.str() + "/m";
  REQUIRE(Mkeys({"machine", "init", root}).exit_code == 0);
  const auto path = root + "/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  auto before = Mkeys({"sd", "get", path});
  REQUIRE(before.exit_code == 0);
  auto r = Mkeys({"sd", "set", path, "O:SYG:SYD:P(A;;FA;;;SY"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("offset") != std::string::npos);
  // Nothing was written.
  CHECK(Mkeys({"sd", "get", path}).out == before.out);
}

TEST_CASE("A domain-relative name without --domain-sid says what is missing", "[cli][sid]") {
  auto r = Mkeys({"sid", "resolve", "Domain Admins"});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("--domain-sid") != std::string::npos);
  auto ok = Mkeys({"sid", "resolve", "--domain-sid", "S-1-5-21-1-2-3", "Domain Admins"});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.rfind("S-1-5-21-1-2-3-512\t", 0) == 0);
}

TEST_CASE("import-icacls rejects an 8-bit text file as not UTF-16LE", "[cli][sd][icacls]") {
  TempDir dir;
  const auto root = dir.str() + "/m";
  REQUIRE(Mkeys({"machine", "init", root}).exit_code == 0);
  const auto file = dir.str() + "/acls.txt";
  std::ofstream(file) << "MachineKeys\r\nD:PAI(A;;FA;;;BA)\r\n";
  auto r = Mkeys({"sd", "import-icacls", file, "--root", root});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("UTF-16LE") != std::string::npos);
}
