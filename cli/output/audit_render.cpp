// SPDX-License-Identifier: GPL-3.0-or-later
#include "output/audit_render.hpp"

#include <array>
#include <unordered_map>

#include <fmt/format.h>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/repair/rules.hpp"
#include "output/identity_json.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {
namespace {

using repair::Rule;
using repair::RuleId;
using repair::Severity;

Color SeverityColor(Severity s) {
  switch (s) {
    case Severity::kError:
      return Color::kRed;
    case Severity::kWarning:
      return Color::kYellow;
    case Severity::kNote:
      return Color::kBlue;
  }
  return Color::kNone;
}

std::string Codes(const std::vector<RuleId>& rules) {
  std::string out;
  for (RuleId id : rules) out += (out.empty() ? "" : ", ") + std::string(Rule(id).code);
  return out;
}

// A name from the disk in JSON: valid UTF-8 always; when it had to be escaped ("\\xNN" per
// byte, see safe_text.hpp), its bytes in hex as "object_hex" too.
void PutObject(nlohmann::json& doc, const std::string& object) {
  doc["object"] = EscapeUnsafe(object);
  if (!IsPlainText(object)) doc["object_hex"] = HexOf(object);
}

nlohmann::json FindingJson(const repair::Finding& f) {
  nlohmann::json doc = {{"rule", Rule(f.rule).code},
                        {"severity", repair::SeverityName(Rule(f.rule).severity)},
                        {"evidence", EscapeUnsafe(f.evidence)}};
  PutObject(doc, f.object);
  return doc;
}

// Relative artifact URIs (SARIF wants URI syntax: '/' separators, percent-encoding).
std::string UriFor(std::string_view object) {
  std::string out;
  for (unsigned char c : object) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

std::string ShellQuote(std::string_view text) {
  const bool plain = !text.empty() && text.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789-_./=:,+@%") == std::string_view::npos;
  if (plain) return std::string(text);
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string ShellCommand(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + ShellQuote(a);
  return out;
}

namespace {

// SDDL of attribute bytes, memoised by the bytes: a plan over a large store holds few distinct
// descriptors, and steps making the same change share the very same buffers.
class SddlMemo final {
 public:
  explicit SddlMemo(const keystore::MachineRoot& root) : store_(&root.security()) {}
  // The SDDL, or "!" and the decoding error. SDDL never starts with '!'.
  static bool Failed(const std::string& text) { return !text.empty() && text.front() == '!'; }
  std::string Of(const repair::RawBytes& raw) {
    if (!raw) return "!no descriptor";
    const std::string_view key(reinterpret_cast<const char*>(raw->data()), raw->size());
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    auto sd = store_->DecodeRaw(*raw);
    std::string text = sd ? acl::FormatSddl(*sd) : "!" + sd.error().ToString();
    if (memo_.size() >= kMaxEntries) return text;
    keep_.push_back(raw);  // the key points into these bytes
    return memo_.emplace(key, std::move(text)).first->second;
  }

 private:
  static constexpr std::size_t kMaxEntries = 4096;
  const keystore::ReadOnlySecurityStore* store_;
  std::unordered_map<std::string_view, std::string> memo_;
  std::vector<repair::RawBytes> keep_;
};

}  // namespace

std::vector<std::string> PlanText(const repair::Plan& plan, const keystore::MachineRoot& root,
                                  const Output& out, std::size_t max_steps) {
  std::vector<std::string> lines;
  SddlMemo memo(root);
  std::size_t n = 0;
  for (const auto& step : plan.steps) {
    if (n == max_steps) break;
    ++n;
    lines.push_back(fmt::format(
        "  {}. {} [{}]", n, out.Paint(EscapeUnsafe(step.object), Color::kBold), Codes(step.rules)));
    std::size_t start = 0;
    while (start <= step.why.size()) {
      const auto end = std::min(step.why.find('\n', start), step.why.size());
      lines.push_back("       why:    " + EscapeUnsafe(step.why.substr(start, end - start)));
      start = end + 1;
    }
    const std::string before = memo.Of(step.before_raw);
    const std::string after = memo.Of(step.after_raw);
    if (SddlMemo::Failed(before) || SddlMemo::Failed(after)) {
      // Rare: the error, naming the object, as DecodeStep gives it.
      auto sds = repair::DecodeStep(root, step);
      lines.push_back("       (cannot decode: " +
                      (sds ? std::string("no descriptor") : sds.error().ToString()) + ")");
      continue;
    }
    lines.push_back("       before: " + before);
    lines.push_back("       after:  " + out.Paint(after, Color::kGreen));
  }
  return lines;
}

std::vector<std::string> PlanRuleSummary(const repair::Plan& plan) {
  // Sized from the registry: rules registered beyond the built-in ones count too.
  std::vector<std::size_t> per_rule(repair::Rules().size());
  for (const auto& step : plan.steps) {
    for (RuleId id : step.rules) {
      if (id.index() < per_rule.size()) ++per_rule[id.index()];
    }
  }
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < per_rule.size(); ++i) {
    if (per_rule[i] == 0) continue;
    const auto& rule = Rule(static_cast<RuleId>(i));
    lines.push_back(fmt::format("  {} {}: {} step(s)", rule.code, rule.title, per_rule[i]));
  }
  return lines;
}

nlohmann::json PlanJson(const repair::Plan& plan, const keystore::MachineRoot& root) {
  SddlMemo memo(root);
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : plan.steps) {
    nlohmann::json rules = nlohmann::json::array();
    for (RuleId id : step.rules) rules.push_back(Rule(id).code);
    nlohmann::json s = {{"object", step.object},
                        {"path", step.relative_path},
                        {"directory", step.is_directory},
                        {"rules", rules},
                        {"why", step.why}};
    const std::string before = memo.Of(step.before_raw);
    const std::string after = memo.Of(step.after_raw);
    if (!SddlMemo::Failed(before) && !SddlMemo::Failed(after)) {
      s["before"] = before;
      s["after"] = after;
    }
    steps.push_back(std::move(s));
  }
  nlohmann::json unfixable = nlohmann::json::array();
  for (const auto& f : plan.unfixable) unfixable.push_back(FindingJson(f));
  return {{"root", plan.root},
          {"machine_guid", plan.machine_guid},
          {"steps", steps},
          {"unfixable", unfixable},
          {"unfixable_total", plan.unfixable_total}};
}

std::vector<std::string> DiagnosisText(const repair::Diagnosis& d,
                                       const keystore::MachineRoot& root, const Output& out) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("Identity:  {} ({})", d.identity, d.identity_sid));
  if (!d.container.empty()) lines.push_back(fmt::format("Container: {}", d.container));
  // The store the file is in (MachineKeys, Crypto/Keys, SystemKeys …), as the evidence names it.
  std::string file = "MachineKeys/" + d.file_name;
  for (const auto& e : d.evidence) {
    if (!d.file_name.empty() && e.object.size() > d.file_name.size() &&
        e.object.compare(e.object.size() - d.file_name.size(), d.file_name.size(), d.file_name) ==
            0 &&
        e.object[e.object.size() - d.file_name.size() - 1] == '/') {
      file = e.object;
      break;
    }
  }
  lines.push_back(fmt::format("File:      {}", file));
  lines.push_back(fmt::format("Machine:   MachineGuid {}", d.machine_guid));
  lines.push_back("");
  if (d.would_succeed) {
    lines.push_back(out.Paint("Verdict: the open would succeed.", Color::kGreen));
  } else {
    lines.push_back(out.Paint(fmt::format("Verdict: the open would fail with {}.", d.windows_error),
                              Color::kRed));
  }
  lines.push_back("  " + d.reason);
  lines.push_back("");
  lines.push_back("Chain of evidence:");
  for (const auto& e : d.evidence) {
    const std::string mark =
        e.passed ? out.Paint("ok  ", Color::kGreen) : out.Paint("FAIL", Color::kRed);
    std::string line = fmt::format("  {} {:<9} {}", mark, e.check, e.object);
    if (!e.owner.empty()) line += fmt::format("  (owner {})", e.owner);
    lines.push_back(line);
    if (!e.detail.empty()) lines.push_back("         " + e.detail);
    if (!e.passed && !e.sddl.empty()) lines.push_back("         descriptor: " + e.sddl);
  }
  if (!d.findings.empty()) {
    lines.push_back("");
    lines.push_back("Findings:");
    for (const auto& f : d.findings) {
      const auto& rule = Rule(f.rule);
      lines.push_back(
          fmt::format("  {} {} {}: {}", rule.code,
                      out.Paint(repair::SeverityName(rule.severity), SeverityColor(rule.severity)),
                      EscapeUnsafe(f.object), EscapeUnsafe(f.evidence)));
    }
  }
  if (d.plan || !d.manual_fixes.empty()) {
    lines.push_back("");
    lines.push_back("Fix:");
    if (d.plan) {
      for (auto& l : PlanText(*d.plan, root, out)) lines.push_back(std::move(l));
      lines.push_back("");
      lines.push_back("  Run: " + ShellCommand(d.repair_command));
      lines.push_back("  (without --apply it prints the plan; mkeys restore JOURNAL undoes it)");
    }
    for (const auto& m : d.manual_fixes) lines.push_back("  - " + m);
  }
  return lines;
}

nlohmann::json DiagnosisJson(const repair::Diagnosis& d, const keystore::MachineRoot& root) {
  nlohmann::json evidence = nlohmann::json::array();
  for (const auto& e : d.evidence) {
    evidence.push_back({{"object", e.object},
                        {"check", e.check},
                        {"passed", e.passed},
                        {"owner", e.owner},
                        {"decided_by", e.decided_by},
                        {"detail", e.detail},
                        {"sddl", e.sddl}});
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : d.findings) findings.push_back(FindingJson(f));
  nlohmann::json doc = {
      {"identity", IdentityJson(d.identity, d.identity_sid)},
      {"container", d.container},
      {"file", d.file_name},
      {"machine_guid", d.machine_guid},
      {"file_exists", d.file_exists},
      {"foreign_files", d.foreign_files},
      {"foreign_machine_guids", d.foreign_guids},
      {"would_succeed", d.would_succeed},
      {"windows_code", d.would_succeed ? nlohmann::json(nullptr)
                                       : nlohmann::json(fmt::format("0x{:08X}", d.windows_code))},
      {"windows_error", d.windows_error},
      {"reason", d.reason},
      {"evidence", evidence},
      {"findings", findings},
      {"manual_fixes", d.manual_fixes},
      {"repair_command", d.repair_command},
  };
  doc["plan"] = d.plan ? PlanJson(*d.plan, root) : nlohmann::json(nullptr);
  return doc;
}

std::string AuditText(const repair::AuditReport& report, const Output& out) {
  std::string text;
  text += fmt::format("Audit of {} (MachineGuid {}): {} key files, {} directories, {:.2f} s\n",
                      EscapeUnsafe(report.root), EscapeUnsafe(report.machine_guid),
                      report.key_files, report.directories, report.seconds);
  if (report.results.empty()) {
    text += out.Paint("No findings.", Color::kGreen) + "\n";
    return text;
  }
  std::uint64_t by_severity[3] = {0, 0, 0};
  for (const auto& rr : report.results) {
    const auto& rule = Rule(rr.rule);
    by_severity[static_cast<int>(rule.severity)] += rr.count;
    text += "\n";
    text +=
        fmt::format("{} {} {} ({} finding{}{})\n", out.Paint(rule.code, Color::kBold),
                    out.Paint(repair::SeverityName(rule.severity), SeverityColor(rule.severity)),
                    rule.title, rr.count, rr.count == 1 ? "" : "s",
                    rr.accepted ? fmt::format(", {} accepted by the baseline", rr.accepted) : "");
    for (const auto& f : rr.examples) {
      text += fmt::format("    {}: {}\n", EscapeUnsafe(f.object), EscapeUnsafe(f.evidence));
    }
    if (rr.count > rr.examples.size()) {
      text += fmt::format("    ... and {} more\n", rr.count - rr.examples.size());
    }
    if (rr.count > 0) text += fmt::format("    fix: {}\n", rule.fix);
  }
  text += fmt::format("\n{} error(s), {} warning(s), {} note(s)\n", by_severity[2], by_severity[1],
                      by_severity[0]);
  if (report.unchecked > 0) {
    text += fmt::format("{} object(s) could not be read and were not checked (MK030)\n",
                        report.unchecked);
  }
  return text;
}

nlohmann::json AuditJson(const repair::AuditReport& report) {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& rr : report.results) {
    const auto& rule = Rule(rr.rule);
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : rr.examples) {
      nlohmann::json finding = {{"evidence", EscapeUnsafe(f.evidence)}};
      PutObject(finding, f.object);
      findings.push_back(std::move(finding));
    }
    results.push_back({{"rule", rule.code},
                       {"severity", repair::SeverityName(rule.severity)},
                       {"title", rule.title},
                       {"fix", rule.fix},
                       {"count", rr.count},
                       {"accepted", rr.accepted},
                       {"findings", findings},
                       {"truncated", rr.count > rr.examples.size()}});
  }
  return {{"root", EscapeUnsafe(report.root)},
          {"machine_guid", EscapeUnsafe(report.machine_guid)},
          {"key_files", report.key_files},
          {"directories", report.directories},
          {"unchecked", report.unchecked},
          {"seconds", report.seconds},
          {"total_findings", report.TotalFindings()},
          {"results", results}};
}

std::string AuditSarif(const repair::AuditReport& report) {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& rule : repair::Rules()) {
    rules.push_back({{"id", rule.code},
                     {"name", rule.code},
                     {"shortDescription", {{"text", rule.title}}},
                     {"help", {{"text", rule.fix}}},
                     {"defaultConfiguration", {{"level", repair::SeverityName(rule.severity)}}}});
  }
  nlohmann::json results = nlohmann::json::array();
  for (const auto& rr : report.results) {
    const auto& rule = Rule(rr.rule);
    for (const auto& f : rr.examples) {
      nlohmann::json result = {
          {"ruleId", rule.code},
          {"ruleIndex", static_cast<int>(rule.id)},
          {"level", repair::SeverityName(rule.severity)},
          {"message", {{"text", fmt::format("{}: {}", rule.title, EscapeUnsafe(f.evidence))}}},
          {"locations",
           {{{"physicalLocation",
              {{"artifactLocation", {{"uri", UriFor(f.object)}, {"uriBaseId", "ROOT"}}}}}}}}};
      if (!IsPlainText(f.object)) result["properties"] = {{"objectBytesHex", HexOf(f.object)}};
      results.push_back(std::move(result));
    }
  }
  nlohmann::json doc = {
      {"version", "2.1.0"},
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"runs",
       {{{"tool", {{"driver", {{"name", "mkeys"}, {"version", "0.1.0"}, {"rules", rules}}}}},
         {"originalUriBaseIds", {{"ROOT", {{"uri", "file://" + UriFor(report.root) + "/"}}}}},
         {"results", results}}}}};
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string AuditJunit(const repair::AuditReport& report) {
  std::size_t failures = 0;
  std::string cases;
  for (const auto& rule : repair::Rules()) {
    const repair::RuleResult* rr = nullptr;
    for (const auto& r : report.results) {
      if (r.rule == rule.id) rr = &r;
    }
    cases += fmt::format("    <testcase classname=\"mkeys.audit\" name=\"{} {}\" time=\"0\">\n",
                         rule.code, XmlText(rule.title));
    if (rr != nullptr && rr->count > 0) {
      ++failures;
      std::string body, raw;
      for (const auto& f : rr->examples) {
        body += f.object + ": " + f.evidence + "\n";
        if (IsPlainText(f.object)) continue;
        raw += fmt::format("        <property name=\"object-bytes-hex\" value=\"{}\"/>\n",
                           HexOf(f.object));
      }
      // Names that had to be escaped, byte for byte (pytest's testcase-level properties).
      if (!raw.empty()) cases += "      <properties>\n" + raw + "      </properties>\n";
      if (rr->count > rr->examples.size()) {
        body += fmt::format("... and {} more\n", rr->count - rr->examples.size());
      }
      body += "fix: " + std::string(rule.fix) + "\n";
      cases +=
          fmt::format("      <failure type=\"{}\" message=\"{} finding(s)\">{}</failure>\n",
                      repair::SeverityName(rule.severity), rr->count, XmlTextKeepNewlines(body));
    }
    cases += "    </testcase>\n";
  }
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += fmt::format(
      "<testsuites name=\"mkeys audit\" tests=\"{}\" failures=\"{}\" time=\"{:.3f}\">\n",
      repair::Rules().size(), failures, report.seconds);
  xml += fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n",
      XmlText(report.root), repair::Rules().size(), failures, report.seconds);
  xml += cases;
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

}  // namespace mkeys::cli
