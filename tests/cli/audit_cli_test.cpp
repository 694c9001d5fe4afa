// SPDX-License-Identifier: GPL-3.0-or-later
// audit through the binary: rule IDs, SARIF 2.1.0 required fields, JUnit XML parsed, exit codes.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/repair_cli_support.hpp"

using namespace mkeys;
using test::Mkeys;

TEST_CASE("audit reports each damage of the seed machine with its rule ID", "[cli][audit]") {
  test::SeedMachine m;
  const std::string service = std::string(test::kNs) + "=" + test::kArrayKey;
  auto text = Mkeys({"--no-color", "audit", m.root, "--service", service});
  CHECK(text.exit_code == 1);
  CHECK(text.out.find("MK001") != std::string::npos);
  CHECK(text.out.find("MK004") != std::string::npos);
  CHECK(text.out.find("MachineKeys/" + m.file) != std::string::npos);
  CHECK(text.out.find("no ACE grants NETWORK SERVICE read") != std::string::npos);

  auto json = Mkeys({"audit", m.root, "--service", service, "--format", "json"});
  const auto doc = nlohmann::json::parse(json.out);
  std::set<std::string> rules;
  for (const auto& r : doc["results"]) rules.insert(r["rule"].get<std::string>());
  CHECK(rules == std::set<std::string>{"MK001", "MK004"});
  CHECK(doc["key_files"] == 2);

  // Warnings only do not fail the default gate; --fail-on warning does.
  REQUIRE(Mkeys({"repair", m.root, "--service", service, "--apply", "--journal",
                 (m.dir.path() / "J").string()})
              .exit_code == 0);
  CHECK(Mkeys({"audit", m.root, "--service", service}).exit_code == 0);
  REQUIRE(Mkeys({"sd", "set", (m.keys / m.file).string(),
                 "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)(A;;FR;;;BU)"})
              .exit_code == 0);
  auto warn = Mkeys({"audit", m.root, "--service", service});
  CHECK(warn.exit_code == 0);
  CHECK(warn.out.find("MK012") != std::string::npos);
  CHECK(Mkeys({"audit", m.root, "--service", service, "--fail-on", "warning"}).exit_code == 1);
  CHECK(Mkeys({"audit", m.root, "--fail-on", "bogus"}).exit_code == 2);
  CHECK(Mkeys({"audit", (m.dir.path() / "nothing").string()}).exit_code == 3);
}

TEST_CASE("audit --format sarif holds the SARIF 2.1.0 required fields", "[cli][audit][sarif]") {
  test::SeedMachine m;
  const auto out = m.dir.path() / "audit.sarif";
  auto run = Mkeys({"audit", m.root, "--service", std::string(test::kNs) + "=" + test::kArrayKey,
                    "--format", "sarif", "--output", out.string()});
  CHECK(run.exit_code == 1);
  std::ifstream in(out);
  const auto doc = nlohmann::json::parse(in);
  CHECK(doc["version"] == "2.1.0");
  CHECK(doc["$schema"].get<std::string>().find("sarif") != std::string::npos);
  REQUIRE(doc["runs"].size() == 1u);
  const auto& driver = doc["runs"][0]["tool"]["driver"];
  CHECK(driver["name"] == "mkeys");
  CHECK(driver["rules"].size() == 25u);  // MK001-MK017, MK030-MK033, MK040-MK043
  std::set<std::string> rule_ids;
  for (const auto& r : driver["rules"]) rule_ids.insert(r["id"].get<std::string>());
  const auto& results = doc["runs"][0]["results"];
  REQUIRE(results.size() == 2u);
  for (const auto& r : results) {
    CHECK(rule_ids.count(r["ruleId"].get<std::string>()) == 1u);
    CHECK(r["level"] == "error");
    CHECK_FALSE(r["message"]["text"].get<std::string>().empty());
    CHECK_FALSE(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .get<std::string>()
                    .empty());
  }
}

TEST_CASE("audit --format junit parses as JUnit XML with one failing testcase per rule hit",
          "[cli][audit][junit]") {
  test::SeedMachine m;
  const auto out = m.dir.path() / "audit.xml";
  auto run = Mkeys({"audit", m.root, "--service", std::string(test::kNs) + "=" + test::kArrayKey,
                    "--format", "junit", "--output", out.string()});
  CHECK(run.exit_code == 1);
  const std::string script =
      "import sys, xml.etree.ElementTree as ET\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "assert root.tag == 'testsuites', root.tag\n"
      "suites = root.findall('testsuite')\n"
      "assert len(suites) == 1\n"
      "cases = suites[0].findall('testcase')\n"
      "failed = sorted(c.get('name').split()[0] for c in cases if c.find('failure') is not None)\n"
      "assert int(suites[0].get('failures')) == len(failed)\n"
      "print(len(cases), ' '.join(failed))\n";
  auto parsed = test::Run({"python3", "-c", script, out.string()});
  CHECK(parsed.exit_code == 0);
  CHECK(parsed.out == "25 MK001 MK004\n");
}
