// SPDX-License-Identifier: GPL-3.0-or-later
// audit --format hdf: MITRE's inspecjs (what Heimdall reads files with) loads it, one control per
// rule with the audit's statuses, and rejects a damaged copy.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/report_test_support.hpp"

using namespace mkeys;
using test::Mkeys;

TEST_CASE("audit --format hdf loads in inspecjs with one control per rule", "[cli][report][hdf]") {
  test::HardenedMember m;
  const auto out = m.dir.path() / "results.hdf.json";
  auto run = Mkeys({"audit", m.root, "--service", test::ServiceArg(), "--format", "hdf", "--output",
                    out.string()});
  CHECK(run.exit_code == 1);
  auto loaded = test::LoadWithInspecjs(out);
  INFO(loaded.err);
  REQUIRE(loaded.exit_code == 0);

  // The controls are the rules, and fail exactly where the JSON report has findings.
  auto json = Mkeys({"audit", m.root, "--service", test::ServiceArg(), "--format", "json"});
  std::set<std::string> with_findings;
  const auto audit = nlohmann::json::parse(json.out);
  for (const auto& r : audit["results"]) {
    if (r["count"].get<int>() > 0) with_findings.insert(r["rule"].get<std::string>());
  }
  REQUIRE_FALSE(with_findings.empty());
  auto rules = nlohmann::json::parse(Mkeys({"--json", "rules"}).out)["rules"];
  std::string expected;
  for (const auto& r : rules) {
    const auto code = r["code"].get<std::string>();
    expected += code + (with_findings.count(code) ? " Failed\n" : " Passed\n");
  }
  CHECK(loaded.out == expected);

  // Each failed result carries the evidence and when the audit started.
  const auto doc = nlohmann::json::parse(test::ReadText(out));
  for (const auto& control : doc["profiles"][0]["controls"]) {
    for (const auto& result : control["results"]) {
      CHECK_FALSE(result["code_desc"].get<std::string>().empty());
      CHECK(result["start_time"].get<std::string>().size() == 20u);
      if (result["status"] == "failed") {
        CHECK(result["message"].get<std::string>().find("evidence: ") != std::string::npos);
      }
    }
  }
}

TEST_CASE("inspecjs rejects a damaged HDF file", "[cli][report][hdf]") {
  test::TempDir dir;
  const std::string root = (dir.path() / "clean").string();
  REQUIRE(Mkeys({"machine", "init", root}).exit_code == 0);
  const auto good = dir.path() / "good.json";
  REQUIRE(Mkeys({"audit", root, "--format", "hdf", "--output", good.string()}).exit_code == 0);
  auto ok = test::LoadWithInspecjs(good);
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  // Not-applicable service rules without a declared service; the others pass.
  CHECK(ok.out.find("MK004 Not Applicable") != std::string::npos);
  CHECK(ok.out.find("MK001 Passed") != std::string::npos);

  auto doc = nlohmann::json::parse(test::ReadText(good));
  doc["profiles"][0]["controls"][0]["impact"] = "high";  // the schema wants a number
  doc["profiles"][0]["controls"][1].erase("results");
  const auto bad = dir.path() / "bad.json";
  std::ofstream(bad) << doc.dump();
  CHECK(test::LoadWithInspecjs(bad).exit_code != 0);
  const auto truncated = dir.path() / "truncated.json";
  const std::string text = test::ReadText(good);
  std::ofstream(truncated) << text.substr(0, text.size() / 2);
  CHECK(test::LoadWithInspecjs(truncated).exit_code != 0);
}
