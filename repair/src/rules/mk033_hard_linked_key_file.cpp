// SPDX-License-Identifier: GPL-3.0-or-later
// MK033: a key file with more than one hard link: the same key under another name (in
// MachineKeys or elsewhere on the volume), sharing one descriptor. On a disk image the count is
// the MFT record's link count, which an ntfs-3g mount shows as st_nlink.
#include <fmt/format.h>

#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void CheckStore(RuleId self, const RuleContext& ctx, std::uint64_t, std::string_view,
                std::vector<Finding>& out) {
  for (const auto& odd : ctx.store_oddities) {
    if (odd.kind != keystore::StoreOddity::Kind::kHardLinked) continue;
    out.push_back({self, keystore::MachineRoot::KeyFileLabel(odd.name),
                   fmt::format("{} hard links: the key is reachable under {} other name(s), "
                               "possibly outside MachineKeys",
                               odd.links, odd.links - 1)});
  }
}

}  // namespace

const RuleDefinition& HardLinkedKeyFile() {
  static const RuleDefinition rule{
      .info = {.code = "MK033",
               .severity = Severity::kWarning,
               .title = "Key file with more than one hard link",
               .description =
                   "Reports every file in MachineKeys whose link count is above one (on a disk "
                   "image: the MFT record's hard-link count).",
               .rationale =
                   "Every name of a hard-linked file shares its contents and its descriptor: "
                   "deleting the container leaves the key behind under the other name, and a "
                   "descriptor changed through one name changes for all.",
               .fix = "find the other names (find -samefile) and remove those outside the store",
               .auto_fix = false},
      .check_store = &CheckStore};
  return rule;
}

}  // namespace mkeys::repair::rules
