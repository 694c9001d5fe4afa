// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Repair: the plan (which descriptors change, from what to what, and why), applying it with a
// journal, and the scripts for a live Windows server.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair {

struct RepairOptions {
  Baseline baseline;
  std::vector<RuleId> only_rules;  // empty: every rule with an automatic fix
  std::size_t threads = 0;         // 0: one per core
  // Restrict the plan to these key files (by file name) and the directory chain; empty: all.
  std::vector<std::string> only_files;
};

// Attribute bytes, shared: a plan over a large store holds few distinct values (every step
// that makes the same change points to the same bytes).
using RawBytes = std::shared_ptr<const std::vector<std::uint8_t>>;

// One descriptor to change.
struct PlanStep {
  std::string object;         // "ProgramData/.../MachineKeys", "MachineKeys/<file>"
  std::string relative_path;  // relative to the root, '/' separated
  bool is_directory = false;
  std::string container_name;  // key files: the name stored in the file ("" if unknown)
  std::vector<RuleId> rules;   // the rules whose fixes this step applies, in ID order
  std::string why;             // the evidence, one line per rule
  RawBytes before_raw;         // the attribute exactly as stored now (never null)
  RawBytes after_raw;          // what the step writes (never null)
};

struct Plan {
  std::string root;  // absolute
  std::string machine_guid;
  std::string attribute;           // the xattr the store uses ("user.NTACL", "system.ntfs_acl")
  bool ntfs = false;               // raw descriptors (system.ntfs_acl) rather than NTACL blobs
  std::vector<PlanStep> steps;     // directories first (outermost first), then key files by name
  std::vector<Finding> unfixable;  // findings of rules repair cannot fix (a person must act),
                                   // the first 1000
  std::uint64_t unfixable_total = 0;
  std::vector<RuleId> rules_considered;

  bool empty() const { return steps.empty(); }
};

// Scans the root (read-only) and plans the fix of every finding of the selected rules. Fixes
// change only what the rule needs (e.g. one ACE added), so a second plan after applying is empty.
Result<Plan> BuildPlan(const keystore::MachineRoot& root, const RepairOptions& options);

// The descriptors of a step, decoded (for printing SDDL).
struct DecodedStep {
  acl::SecurityDescriptor before;
  acl::SecurityDescriptor after;
};
Result<DecodedStep> DecodeStep(const keystore::MachineRoot& root, const PlanStep& step);

struct ApplyReport {
  std::size_t applied = 0;
  std::filesystem::path journal;
  // The fixed rules run again over the changed objects; what is still found (normally none).
  std::vector<Finding> remaining;
  // Objects whose descriptor read back differs from what was written.
  std::vector<std::string> mismatched;
};

// Applies `plan`: first the journal (every step's before and after bytes, fsync'd, with a
// "sealed" marker), then one write per step, then a completion marker; then reads every
// changed descriptor back and runs the fixed rules again. Refuses (kExists) to overwrite an
// existing journal. If a step's object no longer holds its `before_raw` (changed since the
// plan), stops before changing anything (kCorrupt, naming it).
//
// For crash tests: MKEYS_FAULT_AFTER_N=k kills the process (SIGKILL) after k descriptor
// writes; MKEYS_FAULT_JOURNAL_BYTES=n kills it after n journal bytes.
Result<ApplyReport> ApplyPlan(keystore::MachineRoot& root, const Plan& plan,
                              const std::filesystem::path& journal, const RepairOptions& options);

// Scripts for the live Windows server, instead of applying. `windows_root` is the drive the
// root stands for ("C:\").
// A principal the caller names (a --service identity, a --token user): how scripts name its SID.
struct NamedPrincipal {
  acl::Sid sid;
  std::string name;  // "IIS APPPOOL\Shop", "CONTOSO\svc-web"; "" to write *SID
};
struct EmitOptions {
  std::string windows_root = "C:\\";
  // Besides the machine's own accounts (SAM, services) and Windows' well-known principals.
  std::vector<NamedPrincipal> principals;
};
// The principals a baseline's service declarations name, as the machine builds their tokens
// (IIS APPPOOL\x and NT SERVICE\x by name, --token users by their file's name or SID).
std::vector<NamedPrincipal> PrincipalsOf(const keystore::MachineRoot& root,
                                         const Baseline& baseline);
// Scripts name every principal as the live server knows it: a name the caller gave
// (`principals`), the machine's local account or service, a well-known name, else *SID when the
// machine knows the SID. A principal the plan newly grants, denies or makes owner that none of
// these knows (a SID invented elsewhere) is an error (kNotFound) naming it; SIDs already in an
// object's descriptor may still be removed or kept by SID.
// cmd.exe script: ownership first (takeown /A) wherever an elevated administrator is neither
// owner nor granted WRITE_DAC, then icacls grants/removals, then owners set back.
Result<std::string> EmitIcaclsScript(const keystore::MachineRoot& root, const Plan& plan,
                                     const EmitOptions& options = {});
// PowerShell: Get-Acl / SetSecurityDescriptorSddlForm / Set-Acl per object (takeown first
// where needed, as above).
Result<std::string> EmitPowershellScript(const keystore::MachineRoot& root, const Plan& plan,
                                         const EmitOptions& options = {});

}  // namespace mkeys::repair
