// SPDX-License-Identifier: GPL-3.0-or-later
// XCCDF 1.2 (NIST IR 7275 rev 4): the rules as a Benchmark, and an audit as its TestResult.
#include <fmt/format.h>

#include "mkeys/core/time.hpp"

#include "output/report_formats.hpp"
#include "output/rule_text.hpp"
#include "output/safe_text.hpp"

#ifndef MKEYS_VERSION
#define MKEYS_VERSION "0.0.0"
#endif

namespace mkeys::cli {
namespace {

constexpr std::string_view kCheckSystem = "urn:io.github.mkeys:audit";

std::string_view XccdfSeverity(repair::Severity s) {
  switch (s) {
    case repair::Severity::kError:
      return "high";
    case repair::Severity::kWarning:
      return "medium";
    case repair::Severity::kNote:
      return "low";
  }
  return "unknown";
}

std::string_view MessageSeverity(repair::Severity s) {
  switch (s) {
    case repair::Severity::kError:
      return "error";
    case repair::Severity::kWarning:
      return "warning";
    case repair::Severity::kNote:
      return "info";
  }
  return "info";
}

std::string RuleElement(const repair::RuleInfo& rule) {
  const auto texts = RuleTextsOf(rule);
  std::string x = fmt::format("  <Rule id=\"{}\" selected=\"true\" severity=\"{}\">\n",
                              XccdfRuleId(rule.code), XccdfSeverity(rule.severity));
  x += fmt::format("    <title>{} {}</title>\n", rule.code, XmlText(rule.title));
  x += fmt::format("    <description>{}</description>\n", XmlText(texts.description));
  x += fmt::format("    <rationale>{}</rationale>\n", XmlText(texts.rationale));
  x += fmt::format("    <fixtext>{}{}</fixtext>\n", XmlText(rule.fix),
                   rule.auto_fix
                       ? fmt::format(" (automatic: mkeys repair ROOT --rule {} --apply)", rule.code)
                       : std::string(" (a person must act)"));
  x += fmt::format(
      "    <check system=\"{}\">\n      <check-content>mkeys audit ROOT: rule {}</check-content>\n"
      "    </check>\n",
      kCheckSystem, rule.code);
  x += "  </Rule>\n";
  return x;
}

std::string BenchmarkOpen(std::string_view date) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += fmt::format(
      "<Benchmark xmlns=\"http://checklists.nist.gov/xccdf/1.2\" id=\"{}\" resolved=\"1\" "
      "xml:lang=\"en\">\n",
      XccdfId("benchmark", "machinekeys"));
  x += fmt::format("  <status date=\"{}\">draft</status>\n", date);
  x += "  <title>mkeys: Windows machine key stores (MachineKeys) and their ACLs</title>\n";
  x += "  <description>The descriptors of the directories above MachineKeys, of MachineKeys and "
       "of each key file, checked offline against the Windows defaults and the declared "
       "service identities.</description>\n";
  x += "  <platform idref=\"cpe:/o:microsoft:windows\"/>\n";
  x += fmt::format("  <version>{}</version>\n", MKEYS_VERSION);
  x += "  <metadata>\n    <dc:creator xmlns:dc=\"http://purl.org/dc/elements/1.1/\">mkeys"
       "</dc:creator>\n    <dc:source xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
       "mkeys rules --format xccdf</dc:source>\n  </metadata>\n";
  x += fmt::format("  <Profile id=\"{}\">\n    <title>Every mkeys rule</title>\n",
                   XccdfId("profile", "all"));
  for (const auto& rule : repair::Rules()) {
    x += fmt::format("    <select idref=\"{}\" selected=\"true\"/>\n", XccdfRuleId(rule.code));
  }
  x += "  </Profile>\n";
  for (const auto& rule : repair::Rules()) x += RuleElement(rule);
  return x;
}

std::string Today() {
  return mkeys::time::UtcNowIso8601().substr(0, 10);
}

std::string RuleResult(const ReportContext& ctx, const repair::RuleInfo& rule) {
  const RuleStatus status = ctx.StatusOf(rule);
  std::string x = fmt::format("    <rule-result idref=\"{}\" severity=\"{}\" time=\"{}\">\n",
                              XccdfRuleId(rule.code), XccdfSeverity(rule.severity), ctx.end_time);
  x += fmt::format("      <result>{}</result>\n", XccdfResultName(status));
  const auto* rr = ctx.ResultFor(rule.id);
  std::string content;
  if (rr != nullptr) {
    for (const auto& f : rr->examples) {
      x += fmt::format("      <message severity=\"{}\">{}: {}</message>\n",
                       MessageSeverity(rule.severity), XmlText(f.object), XmlText(f.evidence));
      content += ctx.EvidenceBlock(f) + "\n";
    }
    if (rr->count > rr->examples.size()) {
      x += fmt::format("      <message severity=\"info\">... and {} more</message>\n",
                       rr->count - rr->examples.size());
    }
    if (rr->accepted > 0) {
      x += fmt::format(
          "      <message severity=\"info\">{} finding(s) accepted by the "
          "baseline</message>\n",
          rr->accepted);
    }
  }
  if (status == RuleStatus::kNotApplicable) {
    x += "      <message severity=\"info\">no service identity declared (--service or the "
         "baseline's services)</message>\n";
  }
  if (content.empty()) content = fmt::format("mkeys audit: rule {} found nothing\n", rule.code);
  x += fmt::format(
      "      <check system=\"{}\">\n        <check-content>{}</check-content>\n"
      "      </check>\n",
      kCheckSystem, XmlTextKeepNewlines(content));
  x += "    </rule-result>\n";
  return x;
}

std::string TestResult(const ReportContext& ctx) {
  const auto& report = ctx.report();
  std::string x = fmt::format(
      "  <TestResult id=\"{}\" start-time=\"{}\" end-time=\"{}\" "
      "test-system=\"cpe:/a:mkeys:mkeys:{}\" "
      "version=\"{}\">\n",
      XccdfId("testresult", "audit"), ctx.start_time, ctx.end_time, MKEYS_VERSION, MKEYS_VERSION);
  x += fmt::format("    <title>mkeys audit of {}</title>\n", XmlText(report.root));
  x += fmt::format("    <profile idref=\"{}\"/>\n", XccdfId("profile", "all"));
  x += fmt::format("    <target>{}</target>\n", XmlText(report.root));
  x += "    <target-facts>\n";
  x += fmt::format(
      "      <fact name=\"urn:io.github.mkeys:fact:machine-guid\" type=\"string\">{}</fact>\n",
      XmlText(report.machine_guid));
  x += fmt::format(
      "      <fact name=\"urn:io.github.mkeys:fact:key-files\" type=\"number\">{}</fact>\n",
      report.key_files);
  x += "    </target-facts>\n";
  std::size_t applicable = 0, passed = 0;
  for (const auto& rule : repair::Rules()) {
    const RuleStatus status = ctx.StatusOf(rule);
    if (status != RuleStatus::kNotApplicable) ++applicable;
    if (status == RuleStatus::kPass) ++passed;
    x += RuleResult(ctx, rule);
  }
  const double score = applicable == 0 ? 100.0 : 100.0 * passed / applicable;
  x += fmt::format(
      "    <score system=\"urn:xccdf:scoring:default\" maximum=\"100\">{:.2f}</score>\n", score);
  x += "  </TestResult>\n";
  return x;
}

}  // namespace

std::string_view MkeysVersion() {
  return MKEYS_VERSION;
}

std::string RulesXccdf() {
  return BenchmarkOpen(Today()) + "</Benchmark>\n";
}

std::string AuditXccdf(const ReportContext& ctx) {
  return BenchmarkOpen(ctx.start_time.substr(0, 10)) + TestResult(ctx) + "</Benchmark>\n";
}

}  // namespace mkeys::cli
