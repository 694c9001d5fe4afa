// SPDX-License-Identifier: GPL-3.0-or-later
// MK030: an object of the store mkeys could not read (permission denied, I/O error). It was not
// checked, which says nothing about whether it is damaged: never called corrupt (MK010) or
// missing its descriptor (MK016). On a disk image, read as a file, no per-object permission
// applies (whoever can read the image reads every object): only I/O errors give MK030 there.
#include <fmt/format.h>

#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

std::string Evidence(std::string_view problem) {
  if (problem.find("Permission denied") != std::string_view::npos ||
      problem.find("Operation not permitted") != std::string_view::npos) {
    return "cannot read (permission denied): not checked";
  }
  return fmt::format("cannot read (I/O error: {}): not checked", problem);
}

void CheckDirectory(RuleId self, const RuleContext&, std::span<const DirectoryState> dirs,
                    std::size_t i, std::vector<Finding>& out) {
  if (dirs[i].unreadable) out.push_back({self, dirs[i].label, Evidence(dirs[i].problem)});
}

void CheckKeyFile(RuleId self, const RuleContext&, const KeyFileFacts& file,
                  std::vector<Finding>& out) {
  if (file.unreadable) {
    out.push_back({self, file.object(), Evidence(file.problem)});
  } else if (file.descriptor_unreadable) {
    out.push_back({self, file.object(), Evidence(file.descriptor_problem)});
  }
}

}  // namespace

const RuleDefinition& ObjectUnreadable() {
  static const RuleDefinition rule{
      .info = {.code = "MK030",
               .severity = Severity::kError,
               .title = "Object cannot be read (not checked)",
               .description =
                   "Reports every directory of the chain and every key file whose contents or "
                   "security descriptor the auditor could not read (permission denied, I/O "
                   "error). Such an object was not checked; the audit counts it as unchecked. On a "
                   "disk image there are no per-object permissions: only I/O errors apply.",
               .rationale =
                   "An audit that silently skips what it may not read reports a clean store it "
                   "never saw; calling the object corrupt instead would send someone to delete "
                   "or re-create a key that is fine.",
               .fix = "run the audit with an account that may read the store (root, or "
                      "SeBackupPrivilege on Windows); the object itself may be intact",
               .auto_fix = false},
      .check_directory = &CheckDirectory,
      .check_key_file = &CheckKeyFile};
  return rule;
}

}  // namespace mkeys::repair::rules
