// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The registered rules, for the engine. Private to the repair library.

#include <bitset>
#include <span>
#include <vector>

#include "mkeys/repair/rule_definition.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair::internal {

// A set of rules, by RuleId.
using RuleSet = std::bitset<kMaxRules>;
RuleSet AllRules();
RuleSet RulesFrom(const std::vector<RuleId>& ids);  // empty: every auto-fixable rule
inline bool Has(const RuleSet& set, RuleId id) {
  return set.test(id.index());
}

const RuleDefinition& Definition(RuleId id);
// Every rule in the order checks run (registration order).
std::vector<RuleId> CheckOrder();
// Every rule in the order fixes run (ascending fix_rank, then id).
std::vector<RuleId> FixOrder();

}  // namespace mkeys::repair::internal
