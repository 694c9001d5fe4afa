// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys rules [--format text|json|xccdf]`: every rule audit checks, with its severity, what it
// means, why it matters and its fix; as XCCDF 1.2 the Benchmark compliance tools load.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app.hpp"
#include "mkeys/repair/rules.hpp"
#include "output/report_formats.hpp"
#include "output/rule_text.hpp"

namespace mkeys::cli {
namespace {

struct RulesArgs {
  std::string format = "text";
  std::vector<std::string> only;  // MK codes or XCCDF rule ids; empty: every rule
};

// The rules to list: those named (an MK code or an XCCDF id), else all.
Result<std::vector<repair::RuleInfo>> Selected(const RulesArgs& args) {
  std::vector<repair::RuleInfo> rules;
  for (const auto& name : args.only) {
    auto id = repair::ParseRuleId(RuleCodeFromXccdfId(name));
    if (!id) return id.error();
    rules.push_back(repair::Rule(*id));
  }
  if (args.only.empty()) rules.assign(repair::Rules().begin(), repair::Rules().end());
  return rules;
}

nlohmann::json RulesJson(const std::vector<repair::RuleInfo>& selected) {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& rule : selected) {
    const auto texts = RuleTextsOf(rule);
    rules.push_back({{"code", rule.code},
                     {"xccdf_id", XccdfRuleId(rule.code)},
                     {"severity", repair::SeverityName(rule.severity)},
                     {"title", rule.title},
                     {"description", texts.description},
                     {"rationale", texts.rationale},
                     {"fix", rule.fix},
                     {"auto_fix", rule.auto_fix}});
  }
  return {{"rules", rules}};
}

void PrintRulesText(const Output& out, const std::vector<repair::RuleInfo>& selected) {
  for (const auto& rule : selected) {
    const auto texts = RuleTextsOf(rule);
    out.Line(fmt::format("{} {:<7} {}", out.Paint(rule.code, Color::kBold),
                         repair::SeverityName(rule.severity), rule.title));
    if (texts.description != rule.title) out.Line("      " + std::string(texts.description));
    if (texts.rationale != rule.fix) out.Line("      why: " + std::string(texts.rationale));
    out.Line(fmt::format("      fix: {}{}", rule.fix,
                         rule.auto_fix ? " (mkeys repair does it)" : " (a person must act)"));
  }
}

int RunRules(Context& ctx, const RulesArgs& args) {
  auto selected = Selected(args);
  if (!selected) {
    ctx.out.PrintError(selected.error());
    return kExitUsage;
  }
  if (args.format == "xccdf") {
    const std::string xml = RulesXccdf();
    std::fwrite(xml.data(), 1, xml.size(), stdout);
    return kExitOk;
  }
  if (args.format == "json" || ctx.out.json()) {
    ctx.out.Json(RulesJson(*selected));
    return kExitOk;
  }
  PrintRulesText(ctx.out, *selected);
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RulesArgs>();
  auto* cmd = app.add_subcommand(
      "rules",
      "List the rules audit checks (severity, meaning, fix); --format xccdf writes "
      "them as an XCCDF 1.2 Benchmark");
  cmd->add_option("RULE", args->only,
                  "Only these rules: MK004 or xccdf_io.github.mkeys_rule_MK004 (repeatable)");
  cmd->add_option("--format", args->format, "text (default), json or xccdf (always every rule)")
      ->check(CLI::IsMember({"text", "json", "xccdf"}));
  ctx.Bind(cmd, [args](Context& c) { return RunRules(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(79, Register);
}  // namespace mkeys::cli
