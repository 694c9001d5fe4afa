// SPDX-License-Identifier: GPL-3.0-or-later
// MK016: an object of the store (a directory of the chain or a key file) whose security
// descriptor is missing or does not decode. The engine reads and decodes; this rule reports what
// it could not.
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void CheckDirectory(RuleId self, const RuleContext&, std::span<const DirectoryState> dirs,
                    std::size_t i, std::vector<Finding>& out) {
  // A symlink (MK031) or an attribute that could not be read (MK030) is not a missing one.
  const auto& d = dirs[i];
  if (!d.sd && d.link.empty() && !d.unreadable) out.push_back({self, d.label, d.problem});
}

void CheckKeyFile(RuleId self, const RuleContext&, const KeyFileFacts& file,
                  std::vector<Finding>& out) {
  if (file.descriptor == nullptr && !file.descriptor_unreadable) {
    out.push_back({self, file.object(), std::string(file.descriptor_problem)});
  }
}

}  // namespace

const RuleDefinition& DescriptorUnreadable() {
  static const RuleDefinition rule{
      .info = {.code = "MK016",
               .severity = Severity::kError,
               .title = "Security descriptor missing or malformed",
               .description =
                   "Reports every directory of the chain and every key file whose security "
                   "descriptor attribute (user.NTACL, system.ntfs_acl) is missing or does not "
                   "decode; the evidence gives the byte offset of the damage.",
               .rationale =
                   "Windows refuses access to an object whose descriptor it cannot read, so the "
                   "key is unusable for everyone but a backup-privileged administrator, and no "
                   "other rule can judge the object.",
               .fix = "write a valid descriptor (SYSTEM and the creator full control)",
               .auto_fix = false},
      .check_directory = &CheckDirectory,
      .check_key_file = &CheckKeyFile};
  return rule;
}

}  // namespace mkeys::repair::rules
