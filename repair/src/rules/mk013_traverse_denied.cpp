// SPDX-License-Identifier: GPL-3.0-or-later
// MK013: an identity without SeChangeNotifyPrivilege that the chain's DACLs do not let traverse
// to MachineKeys (declared services, NETWORK SERVICE and LOCAL SERVICE).
#include <algorithm>

#include <fmt/format.h>

#include "internal/rule_helpers.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using namespace internal;
using acl::SecurityDescriptor;

bool AllRead(std::span<const DirectoryState> dirs) {
  return std::all_of(dirs.begin(), dirs.end(), [](const auto& d) { return d.sd.has_value(); });
}

std::vector<const SecurityDescriptor*> Chain(std::span<const DirectoryState> dirs) {
  std::vector<const SecurityDescriptor*> chain;
  for (const auto& d : dirs) chain.push_back(&*d.sd);
  return chain;
}

void Check(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
           std::vector<Finding>& out) {
  if (!AllRead(dirs)) return;
  const auto chain = Chain(dirs);
  for (const auto& s : ctx.services) {
    const auto traverse = acl::CheckTraverse(chain, s.token);
    if (traverse.allowed || !traverse.blocked_at) continue;
    out.push_back(
        {self, dirs[*traverse.blocked_at].label,
         fmt::format(
             "{} does not hold SeChangeNotifyPrivilege on this machine and {}", s.short_name,
             traverse.blocking_check.Sentence(s.token, "traverse", *chain[*traverse.blocked_at]))});
  }
}

// Grants traverse where the chain blocks, directory after directory, until the identity gets
// through or a grant changes nothing (a deny blocks: MK005's business).
void Fix(RuleId, const RuleContext& ctx, std::vector<DirectoryState>& dirs,
         std::vector<bool>& changed) {
  if (!AllRead(dirs)) return;
  for (const auto& s : ctx.services) {
    for (std::size_t attempt = 0; attempt <= dirs.size(); ++attempt) {
      const auto traverse = acl::CheckTraverse(Chain(dirs), s.token);
      if (traverse.allowed || !traverse.blocked_at) break;
      const std::size_t at = *traverse.blocked_at;
      if (!dirs[at].sd->dacl) break;
      const auto before = acl::FormatSddl(*dirs[at].sd);
      AddGrant(*dirs[at].sd, s.token.user(), kTraverseGrant);
      if (acl::FormatSddl(*dirs[at].sd) == before) break;
      changed[at] = true;
    }
  }
}

}  // namespace

const RuleDefinition& TraverseDenied() {
  static const RuleDefinition rule{
      .info = {.code = "MK013",
               .severity = Severity::kError,
               .title = "Traversal to MachineKeys denied for an identity without "
                        "SeChangeNotifyPrivilege",
               .description =
                   "For the declared services, NETWORK SERVICE and LOCAL SERVICE, checks the "
                   "traverse right on every directory from ProgramData to MachineKeys, unless "
                   "the machine gives the identity SeChangeNotifyPrivilege (bypass traverse "
                   "checking).",
               .rationale =
                   "Without the privilege, opening a key file needs FILE_TRAVERSE on every "
                   "directory above it; one directory that denies it makes every container "
                   "unreachable for that identity, with the same NTE_BAD_KEYSET as a missing "
                   "key.",
               .fix = "grant the identity traverse (A;;0x100020;;;<SID>) on the blocking "
                      "directory, or give SeChangeNotifyPrivilege back",
               .auto_fix = true},
      .check_chain = &Check,
      .fix_directories = &Fix,
      .fix_rank = 90};
  return rule;
}

}  // namespace mkeys::repair::rules
