// SPDX-License-Identifier: GPL-3.0-or-later
// MK008, MK009, MK010, MK017: what a key file's name and bytes say — whether CryptAcquireContext
// on this machine would find it and could use it. The classification is keystore's, made once per
// file by the engine (repair/src/scan/key_file_class.cpp); these rules turn it into findings.
#include <fmt/format.h>

#include "mkeys/keystore/container_name.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void CheckForeignGuid(RuleId self, const RuleContext& ctx, const KeyFileFacts& file,
                      std::vector<Finding>& out) {
  if (!file.foreign_machine_guid) return;
  const auto parts = keystore::SplitContainerFileName(file.file_name);
  out.push_back(
      {self, file.object(),
       fmt::format("the file name carries MachineGuid {}; this machine's MachineGuid is {}",
                   parts ? parts->machine_guid : std::string(), ctx.root->machine_guid())});
}

void CheckHashMismatch(RuleId self, const RuleContext&, const KeyFileFacts& file,
                       std::vector<Finding>& out) {
  if (!file.name_hash_mismatch) return;
  const auto parts = keystore::SplitContainerFileName(file.file_name);
  out.push_back({self, file.object(),
                 fmt::format("the file holds container \"{}\", whose hash is {}; the file name "
                             "says {}",
                             file.container_name, keystore::ContainerHash(file.container_name),
                             parts ? parts->hash : std::string())});
}

void CheckCorrupt(RuleId self, const RuleContext&, const KeyFileFacts& file,
                  std::vector<Finding>& out) {
  // A file mkeys may not read is MK030's (unreadable), never called corrupt.
  if (file.corrupt) out.push_back({self, file.object(), file.problem});
}

void CheckName(RuleId self, const RuleContext&, const KeyFileFacts& file,
               std::vector<Finding>& out) {
  if (file.not_a_container_name) {
    out.push_back({self, file.object(), "the name is not <32 hex digits>_<MachineGuid>"});
  }
}

}  // namespace

const RuleDefinition& ForeignMachineGuid() {
  static const RuleDefinition rule{
      .info = {.code = "MK008",
               .severity = Severity::kError,
               .title = "Key file carries another machine's MachineGuid (cloned image): no CSP "
                        "on this machine will find it",
               .description =
                   "Compares the MachineGuid in each key file's name (<hash>_<MachineGuid>) with "
                   "this machine's MachineGuid (HKLM\\SOFTWARE\\Microsoft\\Cryptography).",
               .rationale =
                   "The CSPs look for <hash>_<this MachineGuid> only, so a key created before a "
                   "clone, a sysprep or a restore onto other hardware stays on disk but is "
                   "never found: the application gets NTE_BAD_KEYSET and often creates a new, "
                   "different key beside it.",
               .fix = "re-create or re-import the key on this machine (or rename the file to "
                      "<hash>_<this MachineGuid> if the key is meant to move), then delete the "
                      "stale file",
               .auto_fix = false},
      .check_key_file = &CheckForeignGuid};
  return rule;
}

const RuleDefinition& NameHashMismatch() {
  static const RuleDefinition rule{
      .info = {.code = "MK009",
               .severity = Severity::kError,
               .title = "Key file name hash does not match the container name stored in it",
               .description = "Checks that the file name's first half is the MD5-based hash of the "
                              "container name stored inside the file.",
               .rationale =
                   "CryptAcquireContext derives the file name from the container name, so a "
                   "file whose name and contents disagree (copied or renamed by hand) is "
                   "opened under the wrong name or not at all.",
               .fix = "rename the file to the hash of its container name, or delete it",
               .auto_fix = false},
      .check_key_file = &CheckHashMismatch};
  return rule;
}

const RuleDefinition& CorruptContainer() {
  static const RuleDefinition rule{
      .info = {.code = "MK010",
               .severity = Severity::kError,
               .title = "Corrupt or zero-length container file",
               .description =
                   "Reads every file named like a container and parses it as a CAPI or mkeys "
                   "container (header, container name, key blobs); an empty, oversized or "
                   "truncated file is reported with the byte offset of the damage.",
               .rationale =
                   "A damaged container makes CryptAcquireContext fail for every caller; zero-"
                   "length files are what an interrupted write or a full disk leaves behind, "
                   "and only a backup brings the key back.",
               .fix = "restore the file from a backup or re-create the container",
               .auto_fix = false},
      .check_key_file = &CheckCorrupt};
  return rule;
}

const RuleDefinition& NotAContainerName() {
  static const RuleDefinition rule{
      .info = {.code = "MK017",
               .severity = Severity::kNote,
               .title = "File in MachineKeys is not named like a key container",
               .description =
                   "Reports files in MachineKeys whose name is not <32 hex digits>_<MachineGuid>.",
               .rationale =
                   "No CSP ever opens such a file; it is a leftover (a backup copy, a temporary "
                   "file, another tool's data) that takes the store's protection for granted "
                   "and may hold key material no one manages.",
               .fix = "remove files that are not key containers from MachineKeys",
               .auto_fix = false},
      .check_key_file = &CheckName};
  return rule;
}

}  // namespace mkeys::repair::rules
