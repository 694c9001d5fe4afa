// SPDX-License-Identifier: GPL-3.0-or-later
// The audit as one self-contained HTML page: inline CSS, no script, no font, no link out.
#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "output/audit_render.hpp"
#include "output/html_sections.hpp"
#include "output/report_formats.hpp"
#include "output/rule_text.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {
namespace {

constexpr std::size_t kFixSteps = 20;  // icacls lines shown per rule

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1b1b1b;max-width:72em}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.summary dt{font-weight:bold}
.counts span{display:inline-block;padding:.3em .8em;margin-right:.5em;border-radius:.3em;font-weight:bold}
.error{background:#fde2e1;color:#8a1c13}.warning{background:#fff3cd;color:#6b4e00}
.note{background:#e2ecfd;color:#123f8a}.pass{background:#e3f6e5;color:#1b5e20}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
.name,.sddl,pre,code{font-family:ui-monospace,Consolas,monospace;font-size:.9em}
.sddl{color:#555;word-break:break-all}pre{background:#f6f6f6;padding:.5em;overflow-x:auto;margin:.3em 0}
pre.repair,pre.icacls-fix{white-space:pre-wrap;word-break:break-all}
ul.tree,ul.tree ul{list-style:none;padding-left:1.2em;border-left:1px dotted #aaa}
.dir{font-weight:bold}.acl{margin:.2em 0 .6em 0}.ok{background:#e3f6e5}.bad{background:#fde2e1}
.na{color:#777}.hex,.sid{color:#666;font-size:.85em}
)";

std::array<std::uint64_t, 3> CountsBySeverity(const repair::AuditReport& report) {
  std::array<std::uint64_t, 3> counts{};
  for (const auto& rr : report.results) {
    counts[static_cast<std::size_t>(repair::Rule(rr.rule).severity)] += rr.count;
  }
  return counts;
}

std::string Summary(const ReportContext& ctx) {
  const auto& report = ctx.report();
  const auto counts = CountsBySeverity(report);
  std::size_t failing = 0;
  for (const auto& rule : repair::Rules()) failing += ctx.StatusOf(rule) == RuleStatus::kFail;
  std::string x = "<section id=\"summary\"><h2>Summary</h2><dl class=\"summary\">\n";
  x += fmt::format("<dt>Machine root</dt><dd id=\"machine\">{}</dd>\n", XmlText(report.root));
  x += fmt::format("<dt>MachineGuid</dt><dd id=\"machine-guid\">{}</dd>\n",
                   XmlText(report.machine_guid));
  x += fmt::format("<dt>Audited</dt><dd id=\"when\">{}</dd>\n", XmlText(ctx.start_time));
  x += fmt::format(
      "<dt>Scanned</dt><dd>{} key file(s), {} directories, {:.2f} s</dd>\n<dt>Rules</dt>"
      "<dd><span id=\"rules-failing\">{}</span> of <span id=\"rules-total\">{}</span> "
      "failing</dd>\n</dl>\n",
      report.key_files, report.directories, report.seconds, failing, repair::Rules().size());
  x += "<p class=\"counts\">";
  x += fmt::format("<span class=\"error\"><span id=\"count-error\">{}</span> error(s)</span>",
                   counts[2]);
  x += fmt::format("<span class=\"warning\"><span id=\"count-warning\">{}</span> warning(s)</span>",
                   counts[1]);
  x += fmt::format("<span class=\"note\"><span id=\"count-note\">{}</span> note(s)</span>",
                   counts[0]);
  return x + "</p></section>\n";
}

std::string Findings(const ReportContext& ctx) {
  std::string x = "<section id=\"findings\"><h2>Findings by rule</h2>\n";
  bool any = false;
  for (const auto& rule : repair::Rules()) {
    const auto* rr = ctx.ResultFor(rule.id);
    if (rr == nullptr) continue;
    any = true;
    const auto severity = repair::SeverityName(rule.severity);
    x += fmt::format(
        "<details open class=\"rule\" id=\"rule-{}\"><summary><b>{}</b> <span class=\"{}\">{}"
        "</span> {} — {} finding(s){}</summary>\n",
        rule.code, rule.code, severity, severity, XmlText(rule.title), rr->count,
        rr->accepted ? fmt::format(", {} accepted by the baseline", rr->accepted) : "");
    if (const auto description = RuleTextsOf(rule).description; description != rule.title) {
      x += fmt::format("<p>{}</p>\n", XmlText(description));
    }
    x += "<table><thead><tr><th>object</th><th>evidence</th></tr></thead><tbody>\n";
    for (const auto& f : rr->examples) {
      x += fmt::format(
          "<tr class=\"finding\" data-rule=\"{}\"><td class=\"name\">{}{}</td><td>{}</td></tr>\n",
          rule.code, XmlText(f.object),
          IsPlainText(f.object) ? ""
                                : "<br><span class=\"hex\">bytes " + HexOf(f.object) + "</span>",
          XmlText(f.evidence));
    }
    if (rr->count > rr->examples.size()) {
      x += fmt::format("<tr><td colspan=\"2\">... and {} more</td></tr>\n",
                       rr->count - rr->examples.size());
    }
    x += "</tbody></table></details>\n";
  }
  if (!any) x += "<p class=\"pass\" id=\"no-findings\">No findings.</p>\n";
  return x + "</section>\n";
}

std::vector<std::string> RepairCommand(const ReportContext& ctx, const repair::RuleInfo& rule) {
  std::vector<std::string> argv = {"mkeys", "repair", ctx.report().root, "--rule",
                                   std::string(rule.code)};
  for (const auto& s : ctx.services()) {
    argv.push_back("--service");
    argv.push_back(s.name + "=" + s.container_glob);
  }
  argv.insert(argv.end(), {"--apply", "--journal", "mkeys-repair.journal"});
  return argv;
}

// The icacls/takeown lines that fix `rule`'s findings (the first kFixSteps objects).
std::string IcaclsLines(const ReportContext& ctx, const repair::RuleInfo& rule) {
  if (ctx.plan() == nullptr || ctx.root() == nullptr) return "";
  repair::Plan sub = *ctx.plan();
  sub.steps.clear();
  sub.unfixable.clear();
  std::size_t total = 0;
  for (const auto& step : ctx.plan()->steps) {
    if (std::find(step.rules.begin(), step.rules.end(), rule.id) == step.rules.end()) continue;
    if (++total <= kFixSteps) sub.steps.push_back(step);
  }
  if (sub.steps.empty()) return "";
  // The declared services name their principals (IIS APPPOOL\x) in the script.
  repair::Baseline declared;
  for (const auto& s : ctx.services()) declared.services.push_back({s.name, s.container_glob});
  repair::EmitOptions options;
  options.principals = repair::PrincipalsOf(*ctx.root(), declared);
  auto script = repair::EmitIcaclsScript(*ctx.root(), sub, options);
  if (!script) return "";
  std::string lines;
  std::size_t start = 0;
  while (start < script->size()) {
    auto end = script->find('\n', start);
    if (end == std::string::npos) end = script->size();
    std::string line = script->substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("icacls", 0) == 0 || line.rfind("takeown", 0) == 0) lines += line + "\n";
    start = end + 1;
  }
  if (total > kFixSteps) lines += fmt::format("REM ... and {} more object(s)\n", total - kFixSteps);
  return lines;
}

std::string Fixes(const ReportContext& ctx) {
  std::string x = "<section id=\"fixes\"><h2>Fixes</h2>\n";
  bool any = false;
  for (const auto& rule : repair::Rules()) {
    const auto* rr = ctx.ResultFor(rule.id);
    if (rr == nullptr || rr->count == 0) continue;
    any = true;
    x += fmt::format("<h3 id=\"fix-{}\">{} {}</h3>\n<p>{}</p>\n", rule.code, rule.code,
                     XmlText(rule.title), XmlText(rule.fix));
    if (!rule.auto_fix) {
      x += "<p>No descriptor change fixes this: a person must act.</p>\n";
      continue;
    }
    x += fmt::format(
        "<p>On the image (a journal makes it undoable):</p><pre class=\"repair\">{}"
        "</pre>\n",
        XmlText(ShellCommand(RepairCommand(ctx, rule))));
    const auto icacls = IcaclsLines(ctx, rule);
    if (!icacls.empty()) {
      x += fmt::format(
          "<p>On the live Windows server (cmd.exe, elevated):</p>"
          "<pre class=\"icacls-fix\">{}</pre>\n",
          XmlTextKeepNewlines(icacls));
    }
  }
  if (!any) x += "<p>Nothing to fix.</p>\n";
  return x + "</section>\n";
}

}  // namespace

std::string AuditHtml(const ReportContext& ctx) {
  const auto& report = ctx.report();
  std::string x = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  x += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'; img-src data:\">\n";
  x += fmt::format("<title>mkeys audit of {}</title>\n<style>{}</style></head><body>\n",
                   XmlText(report.root), kStyle);
  x += fmt::format("<h1>mkeys audit: {}</h1>\n", XmlText(report.root));
  x += Summary(ctx) + Findings(ctx) + HtmlStoreTree(ctx) + HtmlAccessMatrix(ctx) + Fixes(ctx);
  x += fmt::format(
      "<footer><p>mkeys {} · rules as XCCDF: <code>mkeys rules --format xccdf</code>"
      "</p></footer>\n</body></html>\n",
      MkeysVersion());
  return x;
}

}  // namespace mkeys::cli
