// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

using mkeys::test::Mkeys;

TEST_CASE("sddl encode prints Windows' bytes as lower-case hex", "[cli][sddl]") {
  auto r = Mkeys({"sddl", "encode"}, "D:(A;;FA;;;WD)\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "010004800000000000000000000000001400000002001c000100000000001400ff011f000101000000000001"
        "00000000\n");
}

TEST_CASE("sddl encode gives one line per input and exit 1 on any error", "[cli][sddl]") {
  auto r = Mkeys({"sddl", "encode"}, "O:SY\nD:(A;;QQ;;;WD)\nO:BA\n");
  CHECK(r.exit_code == 1);
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(r.out);
  while (std::getline(in, line)) lines.push_back(line);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "0100008014000000000000000000000000000000010100000000000512000000");
  CHECK(lines[1] == "error: access mask: unknown right 'QQ' (at offset 6)");
  CHECK(lines[2] == "010000801400000000000000000000000000000001020000000000052000000020020000");
}

TEST_CASE("sddl encode expands domain-relative aliases with --domain-sid", "[cli][sddl]") {
  auto without = Mkeys({"sddl", "encode"}, "O:DA\n");
  CHECK(without.exit_code == 1);
  CHECK(without.out.find("domain") != std::string::npos);
  auto with = Mkeys({"sddl", "encode", "--domain-sid", "S-1-5-21-1-2-3"}, "O:DA\n");
  CHECK(with.exit_code == 0);
  CHECK(with.out ==
        "010000801400000000000000000000000000000001050000000000051500000001000000020000000300000000"
        "020000\n");
  auto bad = Mkeys({"sddl", "encode", "--domain-sid", "S-1-nope"}, "O:DA\n");
  CHECK(bad.exit_code == 2);
}

TEST_CASE("sddl decode prints Windows-canonical SDDL", "[cli][sddl]") {
  auto r =
      Mkeys({"sddl", "decode"},
            "010004800000000000000000000000001400000002001c000100000000001400ff011f00010100000000"
            "000100000000\nzz\n0100\n");
  CHECK(r.exit_code == 1);
  std::istringstream in(r.out);
  std::string a, b, c;
  std::getline(in, a);
  std::getline(in, b);
  std::getline(in, c);
  CHECK(a == "D:(A;;FA;;;WD)");
  CHECK(b.rfind("error: ", 0) == 0);
  CHECK(b.find("offset 0") != std::string::npos);
  CHECK(c.rfind("error: ", 0) == 0);
}

TEST_CASE("sddl canon normalises and --json reports each line", "[cli][sddl]") {
  auto r = Mkeys({"sddl", "canon"}, "  O:BA D:P (a;oici;fa;;;sy)\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "O:BAD:P(A;OICI;FA;;;SY)\n");
  auto j = Mkeys({"--json", "sddl", "canon"}, "D:(A;;FA;;;WD)\nD:(\n");
  CHECK(j.exit_code == 1);
  auto doc = nlohmann::json::parse(j.out);
  REQUIRE(doc.is_array());
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["input"] == "D:(A;;FA;;;WD)");
  CHECK(doc[0]["output"] == "D:(A;;FA;;;WD)");
  CHECK(doc[1].contains("error"));
  CHECK(doc[1]["position"] == 2);
}

// Issue 17, class 8: the creator's token from a file, privileges, and an explicit descriptor in
// hex. The hex below is "D:(A;;FR;;;NS)" laid out per MS-DTYP 2.4.6 with SE_DACL_DEFAULTED
// (control 0x800c): a defaulted DACL yields to inheritable ACEs (MS-DTYP 2.5.3.4.2).
TEST_CASE("sddl inherit takes a token file and a hex explicit descriptor", "[cli][sddl][inherit]") {
  mkeys::test::TempDir dir;
  const auto token = dir.path() / "token.json";
  std::ofstream(token) << R"json({"owner": "BA", "primary_group": "SY",
                             "default_dacl": "D:(A;;GA;;;BA)",
                             "privileges": ["SeRestorePrivilege"]})json";
  const std::string none = "O:SYG:SYD:P(A;;FA;;;SY)";
  auto r = mkeys::test::Mkeys({"sddl", "inherit", "--parent", none, "--as", "NETWORK SERVICE",
                               "--token", token.string(), "--privilege", "SeBackupPrivilege"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "O:BAG:SYD:(A;;FA;;;BA)\n");

  const std::string parent = "O:SYG:SYD:AI(A;OICI;FA;;;SY)";
  const std::string defaulted =
      "01000c80000000000000000000000000140000000200"
      "1c000100000000001400890012000101000000000005"
      "14000000";
  auto d = mkeys::test::Mkeys(
      {"sddl", "inherit", "--parent", parent, "--as", "NETWORK SERVICE", "--explicit", defaulted});
  CHECK(d.exit_code == 0);
  CHECK(d.out == "O:NSG:NSD:AI(A;ID;FA;;;SY)\n");

  // Explicit, not defaulted: a file-system create takes it as given; --auto-inherit merges.
  auto plain = mkeys::test::Mkeys(
      {"sddl", "inherit", "--parent", parent, "--as", "NETWORK SERVICE", "--explicit", "D:"});
  CHECK(plain.out == "O:NSG:NSD:\n");
  auto merged = mkeys::test::Mkeys({"sddl", "inherit", "--parent", parent, "--as",
                                    "NETWORK SERVICE", "--explicit", "D:", "--auto-inherit"});
  CHECK(merged.out == "O:NSG:NSD:AI(A;ID;FA;;;SY)\n");

  std::ofstream(token) << "[1, 2]";
  auto bad = mkeys::test::Mkeys(
      {"sddl", "inherit", "--parent", none, "--as", "SYSTEM", "--token", token.string()});
  CHECK(bad.exit_code == 3);
  auto bad_priv = mkeys::test::Mkeys(
      {"sddl", "inherit", "--parent", none, "--as", "SYSTEM", "--privilege", "SeFly"});
  CHECK(bad_priv.exit_code == 2);
}
