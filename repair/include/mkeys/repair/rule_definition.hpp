// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// How a rule is written: its RuleInfo (code, severity, texts) and the hooks the scanning engine
// calls — checks, and for rules `mkeys repair` fixes, the fix. A rule sets only the hooks it
// needs (the others stay null). The engine gathers the facts (descriptors, the key file's bytes
// and classification, the services' access checks) and calls each hook with them; a hook reads
// facts and appends findings, it does no I/O.
//
// The built-in rules are files in repair/src/rules/, listed in repair/src/rules/builtin_rules.hpp.
// RegisterRule adds one at run time (before any audit or plan runs).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair {

// A service identity the rules check: declared (--service, baseline) or one of the default
// service accounts (NETWORK SERVICE, LOCAL SERVICE: checked for traversal only, MK013).
struct ServiceCheck {
  ServiceDeclaration declaration;
  acl::Token token;
  std::string short_name;  // "NETWORK SERVICE"
  bool declared = true;
};

// One directory of the chain above the key files (ProgramData ... MachineKeys).
struct DirectoryState {
  std::filesystem::path path;
  std::string label;  // relative to the root
  std::vector<std::uint8_t> raw;
  std::optional<acl::SecurityDescriptor> sd;  // nullopt: unreadable (error in `problem`)
  std::string problem;
  std::string link;         // the symlink on the way to it ("ProgramData/Microsoft/Crypto")
  std::string link_target;  // what that link points to (never followed)
  std::string link_kind;    // "symbolic link", "junction", "reparse point 0x…"
  bool unreadable = false;  // permission or I/O error (not a missing or malformed descriptor)
};

// What every hook may read: the machine, the baseline and the identities, made once per run.
struct RuleContext {
  const keystore::MachineRoot* root = nullptr;
  const Baseline* baseline = nullptr;
  std::vector<ServiceCheck> services;
  std::vector<acl::Sid> expected_owners;   // the baseline's expected_owners, resolved
  std::optional<acl::Sid> machine_domain;  // S-1-5-21-a-b-c of the machine's local accounts
  // MachineKeys' entries that are not plain key files, listed by the engine before the
  // check_store hooks run (empty when MachineKeys could not be opened beneath the root).
  std::vector<keystore::StoreOddity> store_oddities;

  // `service` is declared and its glob matches `container_name`.
  bool Covers(const ServiceCheck& service, std::string_view container_name) const;
  bool IsMachineKeys(const DirectoryState& dir) const;
};

// One key file as the engine found it. Its name and bytes are classified once by keystore
// (repair/src/scan/key_file_class.cpp); every rule reads the same classification.
struct KeyFileFacts {
  std::string_view file_name;
  // The name.
  bool not_a_container_name = false;  // not <32 hex>_<MachineGuid>
  bool foreign_machine_guid = false;  // another machine's MachineGuid
  // The contents (looked at only when the name is a container's).
  bool unreadable = false;  // could not be read: permission or I/O (`problem` says why)
  bool corrupt = false;     // empty, too large or does not parse (`problem`)
  std::string problem;
  bool name_hash_mismatch = false;  // the stored name does not hash to the file name
  // The name stored in the file ("" when unknown). Owned: a CNG file's name is decoded from
  // UTF-16 into the parsed view, which does not outlive the classification.
  std::string container_name;
  // The descriptor: nullptr when it cannot be read or decoded (`descriptor_problem`).
  const acl::SecurityDescriptor* descriptor = nullptr;
  std::string_view descriptor_problem;
  bool descriptor_unreadable = false;  // the attribute could not be read (permission, I/O)

  // "MachineKeys/<file>", as findings name the file; made on first use (most files have no
  // finding).
  const std::string& object() const {
    if (object_.empty()) object_ = keystore::MachineRoot::KeyFileLabel(file_name);
    return object_;
  }
  mutable std::string object_;
};

// What the access check says about one service on one descriptor (computed once per distinct
// descriptor and service).
struct ServiceAccess {
  std::vector<std::string> denying_aces;  // "ACE #1 (D;;FR;;;NS)": ACEs that deny it read
  bool allowed = true;                    // granted the access CryptAcquireContext asks for
  std::string sentence;                   // why not (AccessCheckResult::Sentence), when not allowed
};

// Findings that depend on a descriptor alone: (rule, evidence); the engine adds the object.
using DescriptorFindings = std::vector<std::pair<RuleId, std::string>>;

struct RuleDefinition {
  RuleInfo info;  // `id` is assigned at registration

  // --- checks (each optional) ---
  // The directory chain, one directory at a time (dirs[i]; the others for context).
  void (*check_directory)(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
                          std::size_t i, std::vector<Finding>& out) = nullptr;
  // The whole chain and machine-wide facts, after every directory was checked.
  void (*check_chain)(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
                      std::vector<Finding>& out) = nullptr;
  // One key file: its name, classification and descriptor.
  void (*check_key_file)(RuleId self, const RuleContext& ctx, const KeyFileFacts& file,
                         std::vector<Finding>& out) = nullptr;
  // A key file's descriptor alone. Judged once per distinct descriptor: the evidence must not
  // name the file.
  void (*check_descriptor)(RuleId self, const RuleContext& ctx, const acl::SecurityDescriptor& sd,
                           DescriptorFindings& out) = nullptr;
  // A declared service whose glob matches the key file's container.
  void (*check_service)(RuleId self, const ServiceCheck& service, const ServiceAccess& access,
                        std::string_view object, std::string_view container_name,
                        std::vector<Finding>& out) = nullptr;
  // The store as a whole, after the scan (`object` names MachineKeys).
  void (*check_store)(RuleId self, const RuleContext& ctx, std::uint64_t key_files,
                      std::string_view object, std::vector<Finding>& out) = nullptr;

  // --- fixes (rules with info.auto_fix) ---
  // Changes a key file's descriptor; `found` are the findings on the descriptor before any fix.
  // Returns whether it changed anything.
  bool (*fix_key_file)(RuleId self, const RuleContext& ctx, acl::SecurityDescriptor& sd,
                       std::string_view container_name, std::span<const Finding> found) = nullptr;
  // Changes the chain; sets changed[i] for every directory it changed.
  void (*fix_directories)(RuleId self, const RuleContext& ctx, std::vector<DirectoryState>& dirs,
                          std::vector<bool>& changed) = nullptr;
  // Fixes run in ascending fix_rank (fixes interact: canonical order last, grants after the
  // removals). Findings are reported in registration order.
  int fix_rank = 1000;
};

// Adds a rule (copied) after the built-in ones; returns its id. Fails (kInvalidArgument) for a
// code already taken or past kMaxRules. Not thread-safe: register before running audits.
Result<RuleId> RegisterRule(const RuleDefinition& rule);

}  // namespace mkeys::repair
