// SPDX-License-Identifier: GPL-3.0-or-later
// MK011: a key file whose DACL holds inherited ACEs.
#include <algorithm>

#include "internal/rule_helpers.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using namespace internal;
using acl::SecurityDescriptor;

void Check(RuleId self, const RuleContext&, const SecurityDescriptor& sd, DescriptorFindings& out) {
  if (!sd.dacl) return;
  std::string inherited;
  for (std::size_t i = 0; i < sd.dacl->aces.size(); ++i) {
    if (sd.dacl->aces[i].IsInherited()) {
      inherited += (inherited.empty() ? "" : ", ") + AceText(*sd.dacl, i);
    }
  }
  if (!inherited.empty()) out.emplace_back(self, "inherited: " + inherited);
}

bool Fix(RuleId self, const RuleContext&, SecurityDescriptor& sd, std::string_view,
         std::span<const Finding> found) {
  if (!sd.dacl ||
      std::none_of(found.begin(), found.end(), [&](const Finding& f) { return f.rule == self; })) {
    return false;
  }
  for (auto& ace : sd.dacl->aces) {
    ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInherited);
  }
  sd.control |= acl::sd_control::kDaclProtected;
  return true;
}

}  // namespace

const RuleDefinition& InheritedAcesOnKeyFile() {
  static const RuleDefinition rule{
      .info = {.code = "MK011",
               .severity = Severity::kWarning,
               .title = "Key file has inherited ACEs (Windows writes key file DACLs explicitly)",
               .description = "Looks for ACEs marked INHERITED in a key file's DACL.",
               .rationale =
                   "The CSPs give every key file an explicit, protected DACL; inherited ACEs "
                   "mean the file took whatever MachineKeys (or an unprotected parent) passes "
                   "down, so a later change to the folder silently changes who can read the "
                   "key.",
               .fix = "protect the file's DACL and keep the inherited ACEs as explicit ones",
               .auto_fix = true},
      .check_descriptor = &Check,
      .fix_key_file = &Fix,
      .fix_rank = 40};
  return rule;
}

}  // namespace mkeys::repair::rules
