// SPDX-License-Identifier: GPL-3.0-or-later
#include "output/report_context.hpp"

#include "mkeys/acl/sddl.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {

std::string_view XccdfResultName(RuleStatus status) {
  switch (status) {
    case RuleStatus::kPass:
      return "pass";
    case RuleStatus::kFail:
      return "fail";
    case RuleStatus::kError:
      return "error";
    case RuleStatus::kNotApplicable:
      return "notapplicable";
  }
  return "unknown";
}

std::string_view HdfStatusName(RuleStatus status) {
  switch (status) {
    case RuleStatus::kPass:
      return "passed";
    case RuleStatus::kFail:
      return "failed";
    case RuleStatus::kError:
      return "error";
    case RuleStatus::kNotApplicable:
      return "skipped";  // with impact 0, which Heimdall shows as "Not Applicable"
  }
  return "error";
}

ReportContext::ReportContext(const repair::AuditReport& report, const keystore::MachineRoot* root,
                             const repair::Baseline* baseline, const repair::Plan* plan)
    : report_(&report), root_(root), baseline_(baseline), plan_(plan) {
  if (baseline_ != nullptr) {
    for (const auto& s : baseline_->services) {
      ServiceIdentity id{s.identity, "", s.container_glob};
      if (root_ != nullptr) {
        if (auto token = root_->TokenFor(s.identity)) id.sid = token->user().ToString();
      }
      services_.push_back(std::move(id));
    }
  }
  if (plan_ != nullptr) {
    for (const auto& step : plan_->steps) steps_.emplace(step.object, &step);
  }
}

const repair::RuleResult* ReportContext::ResultFor(repair::RuleId rule) const {
  for (const auto& r : report_->results) {
    if (r.rule == rule) return &r;
  }
  return nullptr;
}

RuleStatus ReportContext::StatusOf(const repair::RuleInfo& rule) const {
  const auto* rr = ResultFor(rule.id);
  if (rr != nullptr && rr->count > 0) return RuleStatus::kFail;
  // The service rules check nothing when no service identity was declared.
  const bool needs_services =
      rule.id == repair::RuleId::kServiceCannotRead || rule.id == repair::RuleId::kDenyHitsService;
  if (needs_services && (baseline_ == nullptr || baseline_->services.empty())) {
    return RuleStatus::kNotApplicable;
  }
  return RuleStatus::kPass;
}

std::optional<std::filesystem::path> ReportContext::PathOf(std::string_view object) const {
  if (root_ == nullptr || object.empty() || object == "machine policy") return std::nullopt;
  constexpr std::string_view kKeys = "MachineKeys/";
  if (object.substr(0, kKeys.size()) == kKeys) {
    return root_->machine_keys_dir() / std::string(object.substr(kKeys.size()));
  }
  return root_->root() / std::string(object);
}

std::string ReportContext::ActualSddl(std::string_view object) const {
  const auto path = PathOf(object);
  if (!path) return "";
  auto sd = root_->security().Read(*path);
  return sd ? acl::FormatSddl(*sd) : "";
}

std::string ReportContext::ExpectedSddl(std::string_view object) const {
  auto it = steps_.find(std::string(object));
  if (it == steps_.end() || root_ == nullptr) return "";
  auto sd = root_->security().DecodeRaw(*it->second->after_raw);
  return sd ? acl::FormatSddl(*sd) : "";
}

std::string ReportContext::EvidenceBlock(const repair::Finding& finding) const {
  std::string text = "object: " + finding.object + "\n";
  if (!IsPlainText(finding.object)) text += "object bytes (hex): " + HexOf(finding.object) + "\n";
  text += "evidence: " + finding.evidence + "\n";
  if (const auto actual = ActualSddl(finding.object); !actual.empty()) {
    text += "actual SDDL: " + actual + "\n";
  }
  if (const auto expected = ExpectedSddl(finding.object); !expected.empty()) {
    text += "expected SDDL: " + expected + "\n";
  }
  if (finding.rule == repair::RuleId::kServiceCannotRead ||
      finding.rule == repair::RuleId::kDenyHitsService) {
    for (const auto& s : services_) {
      text += "identity: " + s.name + (s.sid.empty() ? "" : " (" + s.sid + ")") + "\n";
    }
  }
  return text;
}

}  // namespace mkeys::cli
