// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys repair ROOT`: the plan (dry run), or --apply with a journal, or --emit a script for the
// live Windows server.
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "app.hpp"
#include "commands/baseline_args.hpp"
#include "commands/token_arg.hpp"
#include "mkeys/core/time.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/plan.hpp"
#include "output/audit_render.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {
namespace {

struct RepairArgs {
  ScanArgs scan;
  std::vector<std::string> rules;
  bool apply = false;
  std::string journal;
  std::string emit;
  std::string output;
  std::string windows_root = "C:\\";
  std::vector<std::string> token_files;  // --token FILE: identities --service may name
};

std::string DefaultJournalName() {
  return time::UtcTimestamp(std::time(nullptr), "mkeys-repair-%Y%m%dT%H%M%SZ.journal");
}

void PrintUnfixable(const Context& ctx, const repair::Plan& plan) {
  if (plan.unfixable.empty()) return;
  ctx.out.Line("");
  ctx.out.Line(fmt::format("Needs a person ({} finding(s) no descriptor change fixes):",
                           plan.unfixable_total));
  for (const auto& f : plan.unfixable) {
    // A file name from the disk: escaped, so that an ESC sequence in it cannot paint the terminal.
    ctx.out.Line(fmt::format("  {} {}: {}", repair::Rule(f.rule).code, EscapeUnsafe(f.object),
                             EscapeUnsafe(f.evidence)));
    ctx.out.Line(fmt::format("      fix: {}", repair::Rule(f.rule).fix));
  }
  if (plan.unfixable_total > plan.unfixable.size()) {
    ctx.out.Line(fmt::format("  ... and {} more", plan.unfixable_total - plan.unfixable.size()));
  }
}

// A large plan: the steps per rule and the first steps (all of them with -v); a small one: every
// step.
void PrintSteps(const Context& ctx, const repair::Plan& plan, const keystore::MachineRoot& root,
                std::string_view where_all) {
  constexpr std::size_t kShown = 20;
  if (plan.steps.size() <= 2 * kShown || ctx.options.verbose > 0) {
    for (const auto& line : PlanText(plan, root, ctx.out)) ctx.out.Line(line);
    return;
  }
  for (const auto& line : PlanRuleSummary(plan)) ctx.out.Line(line);
  ctx.out.Line(fmt::format("The first {}:", kShown));
  for (const auto& line : PlanText(plan, root, ctx.out, kShown)) ctx.out.Line(line);
  ctx.out.Line(
      fmt::format("  ... and {} more step(s) ({})", plan.steps.size() - kShown, where_all));
}

int RunRepair(Context& ctx, const RepairArgs& args) {
  repair::RepairOptions options;
  if (const int code = LoadBaselineArgs(ctx.out, args.scan, options.baseline); code != kExitOk) {
    return code;
  }
  for (const auto& r : args.rules) {
    auto id = repair::ParseRuleId(r);
    if (!id) {
      ctx.out.PrintError(id.error());
      return kExitUsage;
    }
    options.only_rules.push_back(*id);
  }
  if (args.apply && !args.emit.empty()) {
    ctx.out.PrintError(Error(ErrorCode::kInvalidArgument,
                             "--emit writes a script instead of applying: give --apply or --emit"));
    return kExitUsage;
  }
  options.threads = args.scan.threads;
  int exit_code = kExitOk;
  ScanArgs scan = args.scan;
  scan.writable = args.apply;  // a disk image is opened read-write only to apply
  auto opened = OpenScanRoot(ctx.out, scan, exit_code);
  if (!opened) return exit_code;
  keystore::MachineRoot& root = *opened;
  for (const auto& file : args.token_files) {
    auto loaded = LoadTokenArg(file, root.policy());
    if (!loaded) {
      ctx.out.PrintError(loaded.error());
      return kExitInput;
    }
  }
  auto plan = repair::BuildPlan(root, options);
  if (!plan) {
    ctx.out.PrintError(plan.error());
    return plan.error().ToExitCode();
  }

  if (!args.emit.empty()) {
    repair::EmitOptions emit_options;
    emit_options.windows_root = args.windows_root;
    emit_options.principals = repair::PrincipalsOf(root, options.baseline);
    auto script = args.emit == "icacls" ? repair::EmitIcaclsScript(root, *plan, emit_options)
                                        : repair::EmitPowershellScript(root, *plan, emit_options);
    if (!script) {
      ctx.out.PrintError(script.error());
      return script.error().ToExitCode();
    }
    if (args.output.empty()) {
      std::fwrite(script->data(), 1, script->size(), stdout);
    } else {
      std::ofstream file(args.output, std::ios::binary | std::ios::trunc);
      file << *script;
      file.close();
      if (!file) {
        ctx.out.PrintError(Error(ErrorCode::kIo, "cannot write the script").On(args.output));
        return kExitInput;
      }
      ctx.out.Note(fmt::format("{} change(s) written as a {} script to {}", plan->steps.size(),
                               args.emit, args.output));
    }
    return plan->empty() && plan->unfixable.empty() ? kExitOk : kExitNegative;
  }

  if (!args.apply) {
    if (ctx.out.json()) {
      auto doc = PlanJson(*plan, root);
      doc["applied"] = false;
      ctx.out.Json(doc);
    } else {
      if (plan->empty()) {
        ctx.out.Line(
            "Nothing to repair: no finding of the selected rules needs a descriptor change.");
      } else {
        ctx.out.Line(
            fmt::format("Plan: {} descriptor change(s) (nothing changed; add --apply "
                        "--journal FILE to apply):",
                        plan->steps.size()));
        PrintSteps(ctx, *plan, root, "-v lists every step; --json gives all of them");
      }
      PrintUnfixable(ctx, *plan);
    }
    return plan->empty() && plan->unfixable.empty() ? kExitOk : kExitNegative;
  }

  if (plan->empty()) {
    if (ctx.out.json()) {
      auto doc = PlanJson(*plan, root);
      doc["applied"] = true;
      doc["changed"] = 0;
      ctx.out.Json(doc);
    } else {
      ctx.out.Line("Nothing to repair: no journal written, nothing changed.");
      PrintUnfixable(ctx, *plan);
    }
    return plan->unfixable.empty() ? kExitOk : kExitNegative;
  }
  const std::string journal = args.journal.empty() ? DefaultJournalName() : args.journal;
  auto report = repair::ApplyPlan(root, *plan, journal, options);
  if (!report) {
    ctx.out.PrintError(report.error());
    return report.error().ToExitCode();
  }
  const bool clean = report->remaining.empty() && report->mismatched.empty();
  if (ctx.out.json()) {
    auto doc = PlanJson(*plan, root);
    doc["applied"] = true;
    doc["changed"] = report->applied;
    doc["journal"] = journal;
    nlohmann::json remaining = nlohmann::json::array();
    for (const auto& f : report->remaining) {
      remaining.push_back(
          {{"rule", repair::Rule(f.rule).code}, {"object", f.object}, {"evidence", f.evidence}});
    }
    doc["remaining"] = remaining;
    doc["mismatched"] = report->mismatched;
    ctx.out.Json(doc);
  } else {
    ctx.out.Line(
        fmt::format("Applied {} descriptor change(s); journal {} (undo: mkeys restore {}).",
                    report->applied, journal, ShellQuote(journal)));
    PrintSteps(ctx, *plan, root, "the journal and --json hold every step; -v lists them");
    if (clean) {
      ctx.out.Line(
          ctx.out.Paint("Verified: every descriptor reads back as written and the fixed "
                        "rules find nothing.",
                        Color::kGreen));
    }
    for (const auto& m : report->mismatched) {
      ctx.out.Line(ctx.out.Paint("reads back differently: " + m, Color::kRed));
    }
    for (const auto& f : report->remaining) {
      ctx.out.Line(ctx.out.Paint(
          fmt::format("still found: {} {}: {}", repair::Rule(f.rule).code, f.object, f.evidence),
          Color::kRed));
    }
    PrintUnfixable(ctx, *plan);
  }
  return clean && plan->unfixable.empty() ? kExitOk : kExitNegative;
}

void Register(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RepairArgs>();
  auto* cmd = app.add_subcommand(
      "repair",
      "Plan the fix of every finding (dry run), apply it with a journal (--apply), or "
      "write a script for the live server (--emit)");
  AddScanInputOptions(cmd, args->scan);
  cmd->add_option("--rule", args->rules, "Fix only these rules (repeatable, e.g. MK004)");
  cmd->add_flag("--apply", args->apply, "Apply the plan (journal first)");
  cmd->add_option("--journal", args->journal,
                  "Journal file for --apply (default mkeys-repair-<time>.journal; must not exist)");
  cmd->add_option("--emit", args->emit, "Write an icacls or powershell script instead of applying")
      ->check(CLI::IsMember({"icacls", "powershell"}));
  cmd->add_option("--output", args->output, "Write the --emit script to FILE");
  cmd->add_option("--windows-root", args->windows_root, "The drive the root stands for (C:\\)");
  cmd->add_option("--token", args->token_files,
                  "JSON token file for an identity --service names that the machine cannot know "
                  "(a domain account; docs/identities.md); repeatable");
  AddScanTuningOptions(cmd, args->scan);
  ctx.Bind(cmd, [args](Context& c) { return RunRepair(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(90, Register);
}  // namespace mkeys::cli
