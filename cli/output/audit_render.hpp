// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Rendering of diagnoses, audit reports and repair plans: text for people, JSON, SARIF 2.1.0 and
// JUnit XML. Used by the diagnose/audit/repair commands and by `array join`'s preflight.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/audit.hpp"
#include "mkeys/repair/diagnose.hpp"
#include "mkeys/repair/plan.hpp"
#include "output/output.hpp"

namespace mkeys::cli {

// POSIX shell quoting ('...'), only when needed.
std::string ShellQuote(std::string_view text);
std::string ShellCommand(const std::vector<std::string>& argv);

// The diagnosis as lines of text: verdict, chain of evidence, related findings, the fix.
std::vector<std::string> DiagnosisText(const repair::Diagnosis& diagnosis,
                                       const keystore::MachineRoot& root, const Output& out);
nlohmann::json DiagnosisJson(const repair::Diagnosis& diagnosis, const keystore::MachineRoot& root);

// A plan: each step with object, rules, why, SDDL before -> after; the first `max_steps`
// steps only (each distinct descriptor is decoded and formatted once).
std::vector<std::string> PlanText(const repair::Plan& plan, const keystore::MachineRoot& root,
                                  const Output& out,
                                  std::size_t max_steps = static_cast<std::size_t>(-1));
// How many steps apply each rule: "MK012 ×100000" lines, in rule order.
std::vector<std::string> PlanRuleSummary(const repair::Plan& plan);
nlohmann::json PlanJson(const repair::Plan& plan, const keystore::MachineRoot& root);

std::string AuditText(const repair::AuditReport& report, const Output& out);
nlohmann::json AuditJson(const repair::AuditReport& report);
// SARIF 2.1.0: one run, tool.driver with every rule, one result per finding kept.
std::string AuditSarif(const repair::AuditReport& report);
// JUnit XML: one testsuite, one testcase per rule; a rule with findings fails.
std::string AuditJunit(const repair::AuditReport& report);

}  // namespace mkeys::cli
