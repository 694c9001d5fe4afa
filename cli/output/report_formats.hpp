// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The audit as compliance pipelines and people read it: XCCDF 1.2 (a Benchmark with one
// TestResult), MITRE's Heimdall Data Format (HDF JSON) and one self-contained HTML page.

#include <string>

#include <nlohmann/json.hpp>

#include "output/report_context.hpp"

namespace mkeys::cli {

// The version the reports name as the tool's.
std::string_view MkeysVersion();

// XCCDF 1.2: the Benchmark with every rule (description, rationale, fix text, severity).
std::string RulesXccdf();
// The Benchmark with a TestResult: one rule-result per rule (pass, fail, error or
// notapplicable) with each finding's evidence in a message and in check-content.
std::string AuditXccdf(const ReportContext& ctx);

// HDF (exec JSON): one profile, one control per rule, one result per finding (or one passed
// result when the rule found nothing).
nlohmann::json AuditHdf(const ReportContext& ctx);

// One self-contained HTML page: summary, findings by rule, the store chain with owners and
// ACLs, the effective access of the declared services, and the fixes.
std::string AuditHtml(const ReportContext& ctx);

// `mkeys audit --format xccdf|hdf|html`: the report of `report` over `root`. Each also plans
// the repair (read-only) to show each object's expected descriptor and the fixes.
bool IsComplianceFormat(std::string_view format);
std::string RenderComplianceReport(std::string_view format, const repair::AuditReport& report,
                                   const keystore::MachineRoot& root,
                                   const repair::Baseline& baseline, std::string start_time,
                                   std::string end_time);

}  // namespace mkeys::cli
