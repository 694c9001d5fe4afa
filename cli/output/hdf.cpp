// SPDX-License-Identifier: GPL-3.0-or-later
// MITRE's Heimdall Data Format (the exec JSON of libs/inspecjs/schemas/exec-json.json):
// platform, profiles -> controls -> results, statistics, version.
#include <fmt/format.h>

#include "output/report_formats.hpp"
#include "output/rule_text.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {
namespace {

using nlohmann::json;

// HDF's impact (0..1): InSpec's bands, high 0.7, medium 0.5, low 0.3.
double Impact(repair::Severity s) {
  switch (s) {
    case repair::Severity::kError:
      return 0.7;
    case repair::Severity::kWarning:
      return 0.5;
    case repair::Severity::kNote:
      return 0.3;
  }
  return 0.5;
}

json Results(const ReportContext& ctx, const repair::RuleInfo& rule) {
  const RuleStatus status = ctx.StatusOf(rule);
  const auto status_name = std::string(HdfStatusName(status));
  json results = json::array();
  const auto* rr = ctx.ResultFor(rule.id);
  if (rr != nullptr) {
    for (const auto& f : rr->examples) {
      json r = {
          {"status", status_name},
          {"code_desc", EscapeUnsafe(fmt::format("{} {}: {}", rule.code, f.object, rule.title))},
          {"message", EscapeUnsafeKeepNewlines(ctx.EvidenceBlock(f))},
          {"resource", EscapeUnsafe(f.object)},
          {"start_time", ctx.start_time}};
      if (!IsPlainText(f.object)) r["resource_id"] = HexOf(f.object);
      results.push_back(std::move(r));
    }
  }
  if (results.empty()) {
    json r = {{"status", status_name},
              {"code_desc", fmt::format("{} {}", rule.code, rule.title)},
              {"start_time", ctx.start_time}};
    if (status == RuleStatus::kNotApplicable) {
      r["skip_message"] = "no service identity declared (--service or the baseline's services)";
    } else if (rr != nullptr && rr->accepted > 0) {
      r["message"] = fmt::format("{} finding(s) accepted by the baseline", rr->accepted);
    }
    results.push_back(std::move(r));
  }
  return results;
}

json Control(const ReportContext& ctx, const repair::RuleInfo& rule) {
  const auto texts = RuleTextsOf(rule);
  const auto* rr = ctx.ResultFor(rule.id);
  return {
      {"id", std::string(rule.code)},
      {"title", std::string(rule.title)},
      {"desc", std::string(texts.description)},
      {"descriptions",
       json::array(
           {{{"label", "default"}, {"data", std::string(texts.description)}},
            {{"label", "rationale"}, {"data", std::string(texts.rationale)}},
            {{"label", "fix"}, {"data", std::string(rule.fix)}},
            {{"label", "check"}, {"data", fmt::format("mkeys audit ROOT: rule {}", rule.code)}}})},
      // InSpec's convention, which Heimdall follows: impact 0 is "not applicable".
      {"impact", ctx.StatusOf(rule) == RuleStatus::kNotApplicable ? 0.0 : Impact(rule.severity)},
      {"refs", json::array()},
      {"tags",
       {{"severity", repair::SeverityName(rule.severity)},
        {"xccdf_id", XccdfRuleId(rule.code)},
        {"auto_fix", rule.auto_fix},
        {"findings", rr != nullptr ? rr->count : 0},
        {"accepted", rr != nullptr ? rr->accepted : 0}}},
      {"code", nullptr},
      {"source_location", json::object()},
      {"results", Results(ctx, rule)}};
}

}  // namespace

nlohmann::json AuditHdf(const ReportContext& ctx) {
  const auto& report = ctx.report();
  json controls = json::array();
  json ids = json::array();
  std::size_t passed = 0, failed = 0, skipped = 0;
  for (const auto& rule : repair::Rules()) {
    controls.push_back(Control(ctx, rule));
    ids.push_back(std::string(rule.code));
    switch (ctx.StatusOf(rule)) {
      case RuleStatus::kPass:
        ++passed;
        break;
      case RuleStatus::kFail:
      case RuleStatus::kError:
        ++failed;
        break;
      case RuleStatus::kNotApplicable:
        ++skipped;
        break;
    }
  }
  json profile = {{"name", "mkeys-machinekeys"},
                  {"title", "mkeys: Windows machine key stores (MachineKeys) and their ACLs"},
                  {"version", std::string(MkeysVersion())},
                  {"summary", "mkeys audit of " + EscapeUnsafe(report.root)},
                  {"license", "GPL-3.0-or-later"},
                  {"sha256", ""},
                  {"status", "loaded"},
                  {"supports", json::array()},
                  {"attributes", json::array()},
                  {"groups", json::array({{{"id", "mkeys audit"}, {"controls", ids}}})},
                  {"controls", controls}};
  return {{"platform",
           {{"name", "windows-machine-root"},
            {"release", EscapeUnsafe(report.machine_guid)},
            {"target_id", EscapeUnsafe(report.root)}}},
          {"profiles", json::array({profile})},
          {"statistics",
           {{"duration", report.seconds},
            {"controls",
             {{"passed", {{"total", passed}}},
              {"failed", {{"total", failed}}},
              {"skipped", {{"total", skipped}}}}}}},
          {"version", std::string(MkeysVersion())},
          {"passthrough",
           {{"machine_guid", EscapeUnsafe(report.machine_guid)},
            {"key_files", report.key_files},
            {"generator", "mkeys audit --format hdf"}}}};
}

}  // namespace mkeys::cli
