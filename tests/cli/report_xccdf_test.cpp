// SPDX-License-Identifier: GPL-3.0-or-later
// audit --format xccdf and rules --format xccdf: valid XCCDF 1.2 for oscap, one rule-result per
// rule, matching the text report rule for rule.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/report_test_support.hpp"

using namespace mkeys;
using test::Mkeys;

namespace {

// "<rule-results> <rules> <failing ids...>" of an XCCDF file, read with Python's xml.etree.
std::string XccdfSummary(const std::filesystem::path& file) {
  const std::string script =
      "import sys, xml.etree.ElementTree as ET\n"
      "ns = {'x': 'http://checklists.nist.gov/xccdf/1.2'}\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "rules = root.findall('x:Rule', ns)\n"
      "results = root.findall('x:TestResult/x:rule-result', ns)\n"
      "failed = sorted(r.get('idref') for r in results if r.find('x:result', ns).text == 'fail')\n"
      "na = sorted(r.get('idref') for r in results\n"
      "            if r.find('x:result', ns).text == 'notapplicable')\n"
      "print(len(results), len(rules), ' '.join(failed), '|', ' '.join(na))\n";
  auto run = test::Run({"python3", "-c", script, file.string()});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  return run.out;
}

void RequireOscapValid(const std::filesystem::path& file) {
  REQUIRE(test::HaveCommand("oscap"));  // scripts/install-deps.sh installs openscap-scanner
  auto valid = test::Run({"oscap", "xccdf", "validate", file.string()});
  INFO(valid.out << valid.err);
  CHECK(valid.exit_code == 0);
}

// The rule codes the text report lists with findings, in order.
std::string TextReportRules(const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 5 && line.rfind("MK", 0) == 0 && line.find(" finding") != std::string::npos) {
      out +=
          (out.empty() ? "" : " ") + std::string("xccdf_io.github.mkeys_rule_") + line.substr(0, 5);
    }
  }
  return out;
}

}  // namespace

TEST_CASE(
    "audit --format xccdf of a hardened member passes oscap validate and matches the text "
    "report",
    "[cli][report][xccdf]") {
  test::HardenedMember m;
  const auto out = m.dir.path() / "results.xml";
  auto run = Mkeys({"audit", m.root, "--service", test::ServiceArg(), "--format", "xccdf", "--out",
                    out.string()});
  CHECK(run.exit_code == 1);  // the exit code gates a pipeline as with every format
  RequireOscapValid(out);

  auto text = Mkeys({"--no-color", "audit", m.root, "--service", test::ServiceArg()});
  const std::string failing = TextReportRules(text.out);
  CHECK_FALSE(failing.empty());
  CHECK(XccdfSummary(out) == "25 25 " + failing + " | \n");

  const std::string xml = test::ReadText(out);
  CHECK(xml.find("<TestResult id=\"xccdf_io.github.mkeys_testresult_audit\"") != std::string::npos);
  CHECK(xml.find(test::kMemberGuid) != std::string::npos);
  // The evidence: the object, its descriptor as it is and as repair would make it.
  CHECK(xml.find("object: ProgramData/Microsoft/Crypto/RSA/MachineKeys") != std::string::npos);
  CHECK(xml.find("actual SDDL: O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)") != std::string::npos);
  CHECK(xml.find("expected SDDL: ") != std::string::npos);
  CHECK(xml.find("identity: NT AUTHORITY\\NETWORK SERVICE (S-1-5-20)") != std::string::npos);
}

TEST_CASE("audit --format xccdf of a clean machine passes oscap validate with every rule passing",
          "[cli][report][xccdf]") {
  test::TempDir dir;
  const std::string root = (dir.path() / "clean").string();
  REQUIRE(Mkeys({"machine", "init", root}).exit_code == 0);
  const auto out = dir.path() / "clean.xml";
  REQUIRE(Mkeys({"audit", root, "--format", "xccdf", "--output", out.string()}).exit_code == 0);
  RequireOscapValid(out);
  // Without a declared service the two service rules check nothing.
  CHECK(XccdfSummary(out) ==
        "25 25  | xccdf_io.github.mkeys_rule_MK004 xccdf_io.github.mkeys_rule_MK005\n");
}

TEST_CASE("rules --format xccdf is a Benchmark oscap accepts and rules --json lists every rule",
          "[cli][report][xccdf]") {
  test::TempDir dir;
  const auto out = dir.path() / "benchmark.xml";
  auto run = Mkeys({"rules", "--format", "xccdf"});
  REQUIRE(run.exit_code == 0);
  std::ofstream(out) << run.out;
  RequireOscapValid(out);
  CHECK(XccdfSummary(out) == "0 25  | \n");
  CHECK(run.out.find("<rationale>") != std::string::npos);
  CHECK(run.out.find("<fixtext>") != std::string::npos);

  auto json = Mkeys({"--json", "rules"});
  REQUIRE(json.exit_code == 0);
  const auto doc = nlohmann::json::parse(json.out);
  REQUIRE(doc["rules"].size() == 25u);  // MK001-MK017, MK030-MK033, MK040-MK043
  for (const auto& r : doc["rules"]) {
    CHECK(r["xccdf_id"] == "xccdf_io.github.mkeys_rule_" + r["code"].get<std::string>());
    CHECK_FALSE(r["description"].get<std::string>().empty());
    CHECK_FALSE(r["rationale"].get<std::string>().empty());
  }
  // Every format is listed in audit --help.
  auto help = Mkeys({"audit", "--help"});
  for (const char* format : {"text", "json", "sarif", "junit", "xccdf", "hdf", "html"}) {
    INFO(format);
    CHECK(help.out.find(format) != std::string::npos);
  }
  // A rule named by its XCCDF id is the rule of that MK code.
  auto one = Mkeys({"--json", "rules", "xccdf_io.github.mkeys_rule_MK004", "mk002"});
  REQUIRE(one.exit_code == 0);
  const auto picked = nlohmann::json::parse(one.out)["rules"];
  REQUIRE(picked.size() == 2u);
  CHECK(picked[0]["code"] == "MK004");
  CHECK(picked[1]["code"] == "MK002");
  CHECK(Mkeys({"rules", "xccdf_io.github.mkeys_rule_MK999"}).exit_code == 2);
  auto text = Mkeys({"--no-color", "rules"});
  CHECK(text.out.rfind("MK001 error", 0) == 0);
  CHECK(text.out.find("MK017") != std::string::npos);
}
