// SPDX-License-Identifier: GPL-3.0-or-later
// MK007: ACEs out of canonical order (explicit deny, explicit allow, inherited), on a key file or
// a directory of the chain.
#include <fmt/format.h>

#include "internal/rule_helpers.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using namespace internal;
using acl::SecurityDescriptor;

void CheckDirectory(RuleId self, const RuleContext&, std::span<const DirectoryState> dirs,
                    std::size_t i, std::vector<Finding>& out) {
  const DirectoryState& d = dirs[i];
  if (!d.sd || !d.sd->dacl) return;
  if (auto at = acl::FirstNonCanonicalAce(*d.sd->dacl)) {
    out.push_back(
        {self, d.label, fmt::format("{} is out of canonical order", AceText(*d.sd->dacl, *at))});
  }
}

void CheckDescriptor(RuleId self, const RuleContext&, const SecurityDescriptor& sd,
                     DescriptorFindings& out) {
  if (!sd.dacl) return;
  if (auto at = acl::FirstNonCanonicalAce(*sd.dacl)) {
    out.emplace_back(self, fmt::format("{} is out of canonical order", AceText(*sd.dacl, *at)));
  }
}

bool FixKeyFile(RuleId, const RuleContext&, SecurityDescriptor& sd, std::string_view,
                std::span<const Finding>) {
  if (!sd.dacl || !acl::FirstNonCanonicalAce(*sd.dacl)) return false;
  sd.dacl = acl::Canonicalize(*sd.dacl);
  return true;
}

void FixDirectories(RuleId, const RuleContext&, std::vector<DirectoryState>& dirs,
                    std::vector<bool>& changed) {
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    if (dirs[i].sd && dirs[i].sd->dacl && acl::FirstNonCanonicalAce(*dirs[i].sd->dacl)) {
      dirs[i].sd->dacl = acl::Canonicalize(*dirs[i].sd->dacl);
      changed[i] = true;
    }
  }
}

}  // namespace

const RuleDefinition& NonCanonicalOrder() {
  static const RuleDefinition rule{
      .info = {.code = "MK007",
               .severity = Severity::kWarning,
               .title = "ACEs are not in canonical order",
               .description =
                   "Checks that every DACL on the chain and on each key file lists explicit "
                   "deny ACEs first, then explicit allows, then inherited ACEs.",
               .rationale =
                   "Windows evaluates ACEs in order and stops at the first that decides, so a "
                   "deny after an allow is ignored for the rights the allow already granted; "
                   "the Security tab refuses to edit such a DACL, and a tool that rewrites it "
                   "changes who gets access.",
               .fix = "reorder the ACEs canonically (explicit deny, explicit allow, inherited)",
               .auto_fix = true},
      .check_directory = &CheckDirectory,
      .check_descriptor = &CheckDescriptor,
      .fix_key_file = &FixKeyFile,
      .fix_directories = &FixDirectories,
      .fix_rank = 100};
  return rule;
}

}  // namespace mkeys::repair::rules
