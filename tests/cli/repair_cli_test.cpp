// SPDX-License-Identifier: GPL-3.0-or-later
// The seed's case end to end through the binary: diagnose, repair --apply, diagnose again,
// restore byte for byte, --emit icacls.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/repair_cli_support.hpp"

using namespace mkeys;
using test::Mkeys;

TEST_CASE("seed 002: diagnose, repair exactly what is needed, diagnose again, restore",
          "[cli][repair][diagnose][restore]") {
  test::SeedMachine m;
  const auto before = m.Snapshot();

  auto diag = Mkeys({"diagnose", m.root, "--as", test::kNs, "--container", test::kArrayKey});
  CHECK(diag.exit_code == 1);
  CHECK(diag.out.find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);
  CHECK(diag.out.find(m.file) != std::string::npos);
  CHECK(diag.out.find("no ACE grants NETWORK SERVICE read") != std::string::npos);
  CHECK(diag.out.find("mkeys repair") != std::string::npos);

  auto json =
      Mkeys({"--json", "diagnose", m.root, "--as", test::kNs, "--container", test::kArrayKey});
  CHECK(json.exit_code == 1);
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["would_succeed"] == false);
  CHECK(doc["windows_code"] == "0x80090016");
  CHECK(doc["file"] == m.file);
  REQUIRE(doc["plan"]["steps"].size() == 2u);

  // Dry run changes nothing.
  const std::string service = std::string(test::kNs) + "=" + test::kArrayKey;
  auto plan = Mkeys({"repair", m.root, "--service", service});
  CHECK(plan.exit_code == 1);
  CHECK(plan.out.find("(A;;FR;;;NS)") != std::string::npos);
  CHECK(m.Snapshot() == before);

  const std::string journal = (m.dir.path() / "J").string();
  auto apply = Mkeys({"repair", m.root, "--service", service, "--apply", "--journal", journal});
  CHECK(apply.exit_code == 0);
  const auto after = m.Snapshot();
  std::vector<std::string> changed;
  for (const auto& [path, bytes] : before) {
    if (after.at(path) != bytes) changed.push_back(path);
  }
  // Exactly the folder and the array key; nothing else.
  REQUIRE(changed.size() == 2u);
  CHECK(std::find(changed.begin(), changed.end(), m.keys.string()) != changed.end());
  CHECK(std::find(changed.begin(), changed.end(), (m.keys / m.file).string()) != changed.end());
  auto sddl = Mkeys({"sd", "get", (m.keys / m.file).string()});
  CHECK(sddl.out == "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)\n");
  CHECK(Mkeys({"sd", "get", m.keys.string()}).out ==
        "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)\n");

  auto again = Mkeys({"diagnose", m.root, "--as", test::kNs, "--container", test::kArrayKey});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("would succeed") != std::string::npos);
  // Nothing left to repair; the journal is not overwritten.
  CHECK(Mkeys({"repair", m.root, "--service", service}).exit_code == 0);
  auto overwrite = Mkeys(
      {"repair", m.root, "--service", service, "--rule", "MK001", "--apply", "--journal", journal});
  CHECK(overwrite.exit_code == 0);  // nothing to do, so no journal is written at all

  auto restore = Mkeys({"restore", journal});
  CHECK(restore.exit_code == 0);
  CHECK(restore.out.find("Restored 2") != std::string::npos);
  CHECK(m.Snapshot() == before);

  auto corrupt_path = m.dir.path() / "bad.journal";
  {
    std::ofstream bad(corrupt_path, std::ios::binary);
    bad << "MKEYSJNL\x01\x00\x00\x00\x00\x00\x00\x00" << std::string(40, 'x');
  }
  auto bad = Mkeys({"restore", corrupt_path.string()});
  CHECK(bad.exit_code == 3);
  CHECK(bad.err.find("offset") != std::string::npos);
}

TEST_CASE("repair --emit icacls starts with the ownership step and grants NETWORK SERVICE read",
          "[cli][repair][emit]") {
  test::SeedMachine m;
  const auto before = m.Snapshot();
  auto emit = Mkeys({"repair", m.root, "--service", std::string(test::kNs) + "=" + test::kArrayKey,
                     "--emit", "icacls"});
  CHECK(emit.exit_code == 1);
  std::istringstream lines(emit.out);
  std::string line, first;
  while (std::getline(lines, line)) {
    if (line.rfind("REM", 0) == 0 || line.rfind("@echo", 0) == 0) continue;
    first = line;
    break;
  }
  const std::string path = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys\\" + m.file;
  CHECK(first == "takeown /F \"" + path + "\" /A");
  CHECK(emit.out.find("icacls \"" + path + "\" /grant \"NT AUTHORITY\\NETWORK SERVICE:(R)\"") !=
        std::string::npos);
  auto ps = Mkeys({"repair", m.root, "--service", std::string(test::kNs) + "=" + test::kArrayKey,
                   "--emit", "powershell"});
  CHECK(ps.out.find("Set-Acl -LiteralPath '" + path + "'") != std::string::npos);
  CHECK(m.Snapshot() == before);  // emitting changes nothing
}
