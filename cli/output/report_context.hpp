// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What the compliance and HTML reports need beyond the audit report: the machine root (to show
// each object's descriptor), the baseline (the declared service identities), the repair plan
// (the descriptor each object should have) and when the audit ran.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/audit.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/plan.hpp"

namespace mkeys::cli {

enum class RuleStatus { kPass, kFail, kError, kNotApplicable };
// XCCDF's words: "pass", "fail", "error", "notapplicable".
std::string_view XccdfResultName(RuleStatus status);
// HDF's words: "passed", "failed", "error", "skipped" (the control's impact is then 0).
std::string_view HdfStatusName(RuleStatus status);

struct ServiceIdentity {
  std::string name;  // as declared
  std::string sid;   // "S-1-5-20" ("" when the machine does not know the name)
  std::string container_glob;
};

class ReportContext final {
 public:
  ReportContext(const repair::AuditReport& report, const keystore::MachineRoot* root,
                const repair::Baseline* baseline, const repair::Plan* plan);

  const repair::AuditReport& report() const { return *report_; }
  const keystore::MachineRoot* root() const { return root_; }
  const repair::Plan* plan() const { return plan_; }
  std::string start_time;  // ISO 8601, UTC
  std::string end_time;

  // The rule's result in the report (nullptr: nothing found, nothing accepted).
  const repair::RuleResult* ResultFor(repair::RuleId rule) const;
  RuleStatus StatusOf(const repair::RuleInfo& rule) const;
  const std::vector<ServiceIdentity>& services() const { return services_; }

  // The object's file on disk ("MachineKeys/x" or a path relative to the root); nullopt for
  // "machine policy" or without a root.
  std::optional<std::filesystem::path> PathOf(std::string_view object) const;
  // The object's descriptor as SDDL, "" when it cannot be read.
  std::string ActualSddl(std::string_view object) const;
  // The descriptor `mkeys repair` would give it, "" when the plan does not change it.
  std::string ExpectedSddl(std::string_view object) const;
  // "object: ...\nevidence: ...\nactual SDDL: ...\nexpected SDDL: ...\nidentity: ..." for one
  // finding (lines without a value are left out). Raw text: escape it for the format.
  std::string EvidenceBlock(const repair::Finding& finding) const;

 private:
  const repair::AuditReport* report_;
  const keystore::MachineRoot* root_;
  const repair::Baseline* baseline_;
  const repair::Plan* plan_;
  std::vector<ServiceIdentity> services_;
  std::unordered_map<std::string, const repair::PlanStep*> steps_;
};

}  // namespace mkeys::cli
