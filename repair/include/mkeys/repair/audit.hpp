// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The audit: every rule over a machine root in one parallel pass over the store. Read-only by
// construction: it gets a const MachineRoot, whose security store only reads.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair {

struct AuditOptions {
  Baseline baseline;
  std::size_t threads = 0;         // 0: one per core
  std::size_t evidence_cap = 200;  // findings kept per rule (the count is always exact)
  // Called now and then from the scanning thread with the number of key files done so far.
  std::function<void(std::uint64_t files_done)> progress;
};

// What one rule found: how often, and the first `evidence_cap` findings (sorted by object).
struct RuleResult {
  RuleId rule = RuleId::kFolderEveryoneMissing;
  std::uint64_t count = 0;     // findings reported
  std::uint64_t accepted = 0;  // findings the baseline accepts (not in count)
  std::vector<Finding> examples;
};

struct AuditReport {
  std::string root;
  std::string machine_guid;
  std::uint64_t key_files = 0;      // files scanned in MachineKeys
  std::uint64_t directories = 0;    // directories checked (the chain above and at MachineKeys)
  std::uint64_t unchecked = 0;      // objects the auditor could not read (MK030 findings)
  std::vector<RuleResult> results;  // rules with findings or accepted deviations, in ID order
  double seconds = 0;

  std::uint64_t TotalFindings() const;
  // True when a finding of `severity` or worse was reported.
  bool HasFindingAtOrAbove(Severity severity) const;
};

// Runs every rule. Fails only when the root cannot be read at all (MachineKeys missing);
// unreadable objects become findings.
Result<AuditReport> RunAudit(const keystore::MachineRoot& root, const AuditOptions& options);

}  // namespace mkeys::repair
