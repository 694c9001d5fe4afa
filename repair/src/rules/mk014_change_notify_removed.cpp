// SPDX-License-Identifier: GPL-3.0-or-later
// MK014: SeChangeNotifyPrivilege no longer assigned to one of Windows' default holders.
#include <algorithm>

#include <fmt/format.h>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void Check(RuleId self, const RuleContext& ctx, std::span<const DirectoryState>,
           std::vector<Finding>& out) {
  const auto& assigned = ctx.root->privileges();
  if (assigned.empty()) return;  // the machine's policy is unknown
  std::vector<acl::Sid> holders;
  for (const auto& a : assigned) {
    if (a.privilege == acl::privileges::kChangeNotify) holders = a.holders;
  }
  std::string missing;
  for (const auto& a : acl::DefaultPrivilegeAssignments()) {
    if (a.privilege != acl::privileges::kChangeNotify) continue;
    for (const auto& sid : a.holders) {
      if (std::find(holders.begin(), holders.end(), sid) == holders.end()) {
        missing += (missing.empty() ? "" : ", ") + acl::DisplayName(sid);
      }
    }
  }
  if (missing.empty()) return;
  out.push_back({self, "machine policy",
                 fmt::format("SeChangeNotifyPrivilege is not assigned to {}", missing)});
}

}  // namespace

const RuleDefinition& ChangeNotifyRemoved() {
  static const RuleDefinition rule{
      .info = {.code = "MK014",
               .severity = Severity::kWarning,
               .title = "SeChangeNotifyPrivilege (bypass traverse checking) removed from its "
                        "default holders",
               .description =
                   "Compares the machine's holders of SeChangeNotifyPrivilege (from the "
                   "SECURITY hive's policy) with Windows' defaults: Everyone, Users, "
                   "Administrators, Backup Operators, LOCAL SERVICE and NETWORK SERVICE.",
               .rationale =
                   "With the privilege, Windows skips traverse checks on the directories above "
                   "a file; hardening guides that remove it make every directory ACL on the "
                   "path to MachineKeys matter (MK013), and services start failing to open "
                   "their keys.",
               .fix = "assign SeChangeNotifyPrivilege to Everyone, Users, Administrators, Backup "
                      "Operators, LOCAL SERVICE and NETWORK SERVICE again (secpol.msc, User "
                      "Rights Assignment)",
               .auto_fix = false},
      .check_chain = &Check};
  return rule;
}

}  // namespace mkeys::repair::rules
