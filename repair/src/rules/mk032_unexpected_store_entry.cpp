// SPDX-License-Identifier: GPL-3.0-or-later
// MK032: a subfolder, a staging file or a special file in MachineKeys. Windows keeps only key
// files there; `mkeys store create` writes a `.mkeys-staging-*` file and renames it into place,
// so one still there is the leftover of a crash (and may hold a copy of a key). On a disk image
// the same entries are found through its volume (by name; devices, FIFOs and sockets are the
// Interix special files an ntfs-3g mount shows as such).
#include <fmt/format.h>

#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using Kind = keystore::StoreOddity::Kind;

void CheckStore(RuleId self, const RuleContext& ctx, std::uint64_t, std::string_view,
                std::vector<Finding>& out) {
  for (const auto& odd : ctx.store_oddities) {
    std::string evidence;
    switch (odd.kind) {
      case Kind::kDirectory:
        evidence = "subfolder in MachineKeys: not a key file, its contents are not checked";
        break;
      case Kind::kStaging:
        evidence = fmt::format(
            "staging file of an interrupted key creation ({} s old): the leftover of a crash, "
            "it may hold a copy of a key; remove it once no `mkeys store create` runs",
            odd.age_seconds);
        break;
      case Kind::kOther:
        evidence = "device, FIFO or socket in MachineKeys: not a key file";
        break;
      default:
        continue;
    }
    out.push_back({self, keystore::MachineRoot::KeyFileLabel(odd.name), std::move(evidence)});
  }
}

}  // namespace

const RuleDefinition& UnexpectedStoreEntry() {
  static const RuleDefinition rule{
      .info = {.code = "MK032",
               .severity = Severity::kWarning,
               .title = "Subfolder, staging file or special file in MachineKeys",
               .description =
                   "Reports what MachineKeys holds besides files: subfolders, devices, FIFOs and "
                   "sockets, and `.mkeys-staging-*` files an interrupted `mkeys store create` "
                   "left behind (named, with their age).",
               .rationale =
                   "Key listings and access checks skip such entries, so an image can hide files "
                   "there and a crash can leave a copy of a private key behind unnoticed.",
               .fix = "look at each entry; remove staging leftovers and anything that is not a "
                      "key container",
               .auto_fix = false},
      .check_store = &CheckStore};
  return rule;
}

}  // namespace mkeys::repair::rules
