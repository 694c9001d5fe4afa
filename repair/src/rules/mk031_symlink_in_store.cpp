// SPDX-License-Identifier: GPL-3.0-or-later
// MK031: a symbolic link (the Linux form of a junction or other reparse point) in the chain
// ProgramData ... MachineKeys or inside MachineKeys. No command follows it: audit does not look
// beneath it, and every command that writes refuses it. On a disk image (docs/images.md) the
// volume reports the same objects a mount shows as links: reparse points (junctions, symbolic
// links) and Interix symlinks (what `ln -s` on an ntfs-3g mount makes).
#include <fmt/format.h>

#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

// "junction to C:\Windows", "symbolic link to /elsewhere", "symbolic link".
std::string Link(std::string_view kind, std::string_view target) {
  const std::string_view what = kind.empty() ? std::string_view("symbolic link") : kind;
  return target.empty() ? std::string(what) : fmt::format("{} to {}", what, target);
}

void CheckDirectory(RuleId self, const RuleContext&, std::span<const DirectoryState> dirs,
                    std::size_t i, std::vector<Finding>& out) {
  const auto& d = dirs[i];
  // One finding per link, on the link itself (the directories beneath it share it).
  if (d.link.empty() || (i > 0 && dirs[i - 1].link == d.link)) return;
  out.push_back({self, d.link,
                 fmt::format("{} in the store chain: never followed; nothing "
                             "beneath it was checked, and no command writes through it",
                             Link(d.link_kind, d.link_target))});
}

void CheckStore(RuleId self, const RuleContext& ctx, std::uint64_t, std::string_view,
                std::vector<Finding>& out) {
  for (const auto& odd : ctx.store_oddities) {
    if (odd.kind != keystore::StoreOddity::Kind::kSymlink) continue;
    out.push_back({self, keystore::MachineRoot::KeyFileLabel(odd.name),
                   fmt::format("{} in MachineKeys: never followed, not checked",
                               Link(odd.link_kind, odd.target))});
  }
}

}  // namespace

const RuleDefinition& SymlinkInStore() {
  static const RuleDefinition rule{
      .info = {.code = "MK031",
               .severity = Severity::kError,
               .title = "Symbolic link or reparse point in the key store",
               .description =
                   "Reports a symbolic link anywhere in ProgramData ... MachineKeys and every "
                   "symbolic link inside MachineKeys (on a disk image: every reparse point, "
                   "junctions included). mkeys never follows one: what lies beneath "
                   "is not checked, and repair, restore, store and sd commands refuse to write "
                   "through it.",
               .rationale =
                   "A link redirects the store (and every descriptor written to it) to a place "
                   "the machine's own protection does not cover: an image can hide keys there, "
                   "and a tool that follows it writes outside the machine.",
               .fix = "replace the link with the real directory or file (copy the keys with "
                      "their descriptors), after checking where it points",
               .auto_fix = false},
      .check_directory = &CheckDirectory,
      .check_store = &CheckStore};
  return rule;
}

}  // namespace mkeys::repair::rules
