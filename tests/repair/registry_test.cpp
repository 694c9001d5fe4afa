// SPDX-License-Identifier: GPL-3.0-or-later
// The built-in rules: MK001 to MK017 and MK030 to MK033 in code order, each with the texts reports
// print.
#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <string>

#include "mkeys/repair/rules.hpp"

using namespace mkeys::repair;

TEST_CASE(
    "the built-in rules are MK001 to MK017 then MK030 to MK033 then MK040 to MK043 in code order "
    "with every text",
    "[repair][registry]") {
  REQUIRE(Rules().size() >= kRuleCount);
  for (std::size_t i = 0; i < kRuleCount; ++i) {
    const RuleInfo& rule = Rules()[i];
    INFO(rule.code);
    CHECK(rule.id == RuleId(i));
    if (i < 17) CHECK(rule.code == fmt::format("MK{:03}", i + 1));
    if (i > 0) CHECK(Rules()[i - 1].code < rule.code);
    CHECK_FALSE(rule.title.empty());
    CHECK(rule.description.size() > 20);
    CHECK(rule.rationale.size() > 20);
    CHECK_FALSE(rule.fix.empty());
  }
  for (const char* code :
       {"MK030", "MK031", "MK032", "MK033", "MK040", "MK041", "MK042", "MK043"}) {
    INFO(code);
    CHECK(ParseRuleId(code));
  }
}

TEST_CASE("the named rule constants match their codes", "[repair][registry]") {
  CHECK(Rule(RuleId::kFolderEveryoneMissing).code == "MK001");
  CHECK(Rule(RuleId::kServiceCannotRead).code == "MK004");
  CHECK(Rule(RuleId::kDenyHitsService).code == "MK005");
  CHECK(Rule(RuleId::kForeignMachineGuid).code == "MK008");
  CHECK(Rule(RuleId::kTraverseDenied).code == "MK013");
  CHECK(Rule(RuleId::kDescriptorUnreadable).code == "MK016");
  CHECK(Rule(RuleId::kNotAContainerName).code == "MK017");
  CHECK(Rule(RuleId::kNotAContainerName).severity == Severity::kNote);
  CHECK_FALSE(Rule(RuleId::kCorruptContainer).auto_fix);
  CHECK(Rule(RuleId::kKeyFileTooOpen).auto_fix);
}

TEST_CASE("rule codes parse case-insensitively and unknown ones are named", "[repair][registry]") {
  auto id = ParseRuleId("mk012");
  REQUIRE(id);
  CHECK(*id == RuleId::kKeyFileTooOpen);
  auto unknown = ParseRuleId("MK999");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message() ==
        "unknown rule 'MK999' (rules are MK001 to MK043, or their XCCDF ids)");
}

TEST_CASE("rules are named by their MK code or their XCCDF id", "[repair][rules]") {
  using namespace mkeys::repair;
  CHECK(ParseRuleId("mk004").value() == RuleId::kServiceCannotRead);
  CHECK(ParseRuleId("xccdf_io.github.mkeys_rule_MK004").value() == RuleId::kServiceCannotRead);
  auto bad = ParseRuleId("xccdf_io.github.mkeys_rule_MK999");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(), Catch::Contains("XCCDF ids"));
}
