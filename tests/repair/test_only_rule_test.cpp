// SPDX-License-Identifier: GPL-3.0-or-later
// A rule that lives only in this test: one RuleDefinition and one RegisterRule
// call, through the public API, and `audit` runs it beside the built-in rules.
// (It proves that adding a rule needs no change to the engine.)
#include <catch2/catch.hpp>
#include <string>

#include "mkeys/repair/audit.hpp"
#include "mkeys/repair/rule_definition.hpp"
#include "repair/model_machine.hpp"

using namespace mkeys;
using namespace mkeys::repair;
using test::ModelMachine;

namespace {

// Test-only: a container whose name starts with "TESTONLY-".
void CheckTestOnlyName(RuleId self, const RuleContext&, const KeyFileFacts& file,
                       std::vector<Finding>& out) {
  if (file.container_name.starts_with("TESTONLY-")) {
    out.push_back({self, file.object(),
                   "container \"" + std::string(file.container_name) + "\" is a test's"});
  }
}

RuleId TestOnlyRule() {
  static const RuleId id = [] {
    RuleDefinition rule;
    rule.info = {.code = "MKT001",
                 .severity = Severity::kWarning,
                 .title = "Container made by a test",
                 .description = "Reports containers whose name starts with TESTONLY-.",
                 .rationale = "Shows that a rule registered outside the repair library runs.",
                 .fix = "delete the container",
                 .auto_fix = false};
    rule.check_key_file = &CheckTestOnlyName;
    auto registered = RegisterRule(rule);
    REQUIRE(registered);
    return *registered;
  }();
  return id;
}

}  // namespace

TEST_CASE("a rule registered by a test is listed and run by the audit", "[repair][registry]") {
  const RuleId id = TestOnlyRule();
  CHECK(Rule(id).code == "MKT001");
  CHECK(Rules().back().code == "MKT001");
  auto parsed = ParseRuleId("mkt001");
  REQUIRE(parsed);
  CHECK(*parsed == id);

  ModelMachine m;
  const std::string marked = m.Create("TESTONLY-one");
  m.Create("an ordinary container");
  AuditOptions options;
  const keystore::MachineRoot& root = m.root();
  auto report = RunAudit(root, options);
  REQUIRE(report);
  REQUIRE(report->results.size() == 1);
  const RuleResult& result = report->results[0];
  CHECK(result.rule == id);
  CHECK(result.count == 1);
  REQUIRE(result.examples.size() == 1);
  CHECK(result.examples[0].object == keystore::MachineRoot::KeyFileLabel(marked));
  CHECK(result.examples[0].evidence == "container \"TESTONLY-one\" is a test's");
  CHECK(report->HasFindingAtOrAbove(Severity::kWarning));
}

TEST_CASE("a rule whose code is taken is refused", "[repair][registry]") {
  RuleDefinition rule;
  rule.info = {.code = "MK004", .title = "a second MK004"};
  auto registered = RegisterRule(rule);
  REQUIRE_FALSE(registered);
  CHECK(registered.error().message().find("MK004") != std::string::npos);
}
