// SPDX-License-Identifier: GPL-3.0-or-later
// The rule registry: the built-in rules (internal/builtin_rules.hpp) and those registered at run
// time; Rules(), Rule(), ParseRuleId().
#include <algorithm>
#include <cctype>
#include <deque>
#include <vector>

#include <fmt/format.h>

#include "internal/builtin_rules.hpp"
#include "internal/registry.hpp"

namespace mkeys::repair {
namespace rules {
#define MKEYS_DECLARE_RULE(name) const RuleDefinition& name();
MKEYS_BUILTIN_RULES(MKEYS_DECLARE_RULE)
#undef MKEYS_DECLARE_RULE
}  // namespace rules

namespace {

struct Registry {
  RuleTable infos;                   // by id (ordered by code for the built-in rules)
  std::deque<RuleDefinition> rules;  // by id
  std::vector<RuleId> check_order;   // registration order
};

Registry MakeRegistry() {
#define MKEYS_LIST_RULE(name) &rules::name(),
  const std::vector<const RuleDefinition*> listed = {MKEYS_BUILTIN_RULES(MKEYS_LIST_RULE)};
#undef MKEYS_LIST_RULE
  std::vector<const RuleDefinition*> by_code = listed;
  std::sort(by_code.begin(), by_code.end(), [](const RuleDefinition* a, const RuleDefinition* b) {
    return a->info.code < b->info.code;
  });
  Registry registry;
  for (const RuleDefinition* rule : by_code) {
    RuleDefinition copy = *rule;
    copy.info.id = RuleId(registry.rules.size());
    registry.infos.push_back(copy.info);
    registry.rules.push_back(copy);
  }
  for (const RuleDefinition* rule : listed) {
    const auto at = std::find(by_code.begin(), by_code.end(), rule) - by_code.begin();
    registry.check_order.push_back(RuleId(static_cast<std::size_t>(at)));
  }
  return registry;
}

Registry& TheRegistry() {
  static Registry registry = MakeRegistry();
  return registry;
}

std::string Upper(std::string_view text) {
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kNote:
      return "note";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "error";
}

Result<Severity> ParseSeverity(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "note") return Severity::kNote;
  if (lower == "warning") return Severity::kWarning;
  if (lower == "error") return Severity::kError;
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown severity '{}' (expected note, warning or error)", text));
}

const RuleTable& Rules() {
  return TheRegistry().infos;
}

const RuleInfo& Rule(RuleId id) {
  return TheRegistry().infos[id.index()];
}

Result<RuleId> ParseRuleId(std::string_view code) {
  // XCCDF ids name the same rules: "xccdf_io.github.mkeys_rule_MK004" (any namespace).
  if (const auto at = code.rfind("_rule_");
      at != std::string_view::npos && Upper(code.substr(0, 6)) == "XCCDF_") {
    code = code.substr(at + 6);
  }
  const std::string upper = Upper(code);
  for (const auto& rule : Rules()) {
    if (rule.code == upper) return rule.id;
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown rule '{}' (rules are MK001 to {}, or their XCCDF ids)", code,
                           Rules()[kRuleCount - 1].code));
}

Result<RuleId> RegisterRule(const RuleDefinition& rule) {
  Registry& registry = TheRegistry();
  if (registry.rules.size() >= kMaxRules) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("rule {}: more than {} rules", rule.info.code, kMaxRules));
  }
  if (rule.info.code.empty() || Upper(rule.info.code) != rule.info.code) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("rule '{}': a code is upper case and not empty", rule.info.code));
  }
  if (ParseRuleId(rule.info.code)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("rule {} is registered already", rule.info.code));
  }
  RuleDefinition copy = rule;
  copy.info.id = RuleId(registry.rules.size());
  registry.infos.push_back(copy.info);
  registry.rules.push_back(copy);
  registry.check_order.push_back(copy.info.id);
  return copy.info.id;
}

namespace internal {

RuleSet AllRules() {
  RuleSet set;
  for (std::size_t i = 0; i < Rules().size(); ++i) set.set(i);
  return set;
}

RuleSet RulesFrom(const std::vector<RuleId>& ids) {
  RuleSet set;
  if (ids.empty()) {
    for (const auto& rule : Rules()) set.set(rule.id.index(), rule.auto_fix);
    return set;
  }
  for (RuleId id : ids) set.set(id.index());
  return set;
}

const RuleDefinition& Definition(RuleId id) {
  return TheRegistry().rules[id.index()];
}

std::vector<RuleId> CheckOrder() {
  return TheRegistry().check_order;
}

std::vector<RuleId> FixOrder() {
  std::vector<RuleId> order;
  for (const auto& rule : Rules()) order.push_back(rule.id);
  std::stable_sort(order.begin(), order.end(), [](RuleId a, RuleId b) {
    return Definition(a).fix_rank < Definition(b).fix_rank;
  });
  return order;
}

}  // namespace internal
}  // namespace mkeys::repair
