// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one place report renderers read a rule's longer texts, and the rule ids the compliance
// formats use (XCCDF 1.2: xccdf_<namespace>_rule_<id>).

#include <string>
#include <string_view>

#include "mkeys/repair/rules.hpp"

namespace mkeys::cli {

struct RuleTexts {
  std::string_view description;
  std::string_view rationale;
};
// The rule's description and rationale, as the rule itself states them.
inline RuleTexts RuleTextsOf(const repair::RuleInfo& rule) {
  return {rule.description, rule.rationale};
}

// The reverse-DNS namespace of mkeys' XCCDF ids.
inline constexpr std::string_view kXccdfNamespace = "io.github.mkeys";
// "MK004" -> "xccdf_io.github.mkeys_rule_MK004".
std::string XccdfRuleId(std::string_view code);
// "xccdf_io.github.mkeys_rule_MK004" (namespace case-insensitive) -> "MK004"; anything else
// is returned unchanged, so callers can pass it on to repair::ParseRuleId.
std::string RuleCodeFromXccdfId(std::string_view id);
// "xccdf_io.github.mkeys_benchmark_machinekeys", "..._testresult_audit", "..._profile_default".
std::string XccdfId(std::string_view kind, std::string_view name);

}  // namespace mkeys::cli
