// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys restore JOURNAL`: every descriptor a repair changed, back byte for byte.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "app.hpp"
#include "mkeys/repair/journal.hpp"

namespace mkeys::cli {
namespace {

struct RestoreArgs {
  std::string journal;
  std::string root;
  int partition = -1;
  bool dry_run = false;
};

nlohmann::json ActionsJson(const repair::RestoreReport& report) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : report.actions) {
    out.push_back({{"path", a.relative_path},
                   {"action", !a.restore ? "unchanged"
                              : a.remove ? "remove"
                                         : "restore"},
                   {"changed_by_others", a.changed_by_others}});
  }
  return out;
}

void PrintPlan(Context& ctx, const repair::RestoreReport& report) {
  ctx.out.Line(
      fmt::format("Would restore {} descriptor(s) of {} under {} (dry run: nothing "
                  "written); {} already hold their earlier bytes.",
                  report.restored, report.journal.entries.size(), report.root, report.unchanged));
  for (const auto& a : report.actions) {
    if (!a.restore) continue;
    ctx.out.Line(fmt::format("  {} {}{}", a.remove ? "remove the descriptor of" : "restore",
                             a.relative_path,
                             a.changed_by_others ? " (changed by something else since)" : ""));
  }
}

int RunRestore(Context& ctx, const RestoreArgs& args) {
  repair::RestoreOptions options;
  if (!args.root.empty()) options.root = args.root;
  if (args.partition >= 0) options.partition = args.partition;
  options.dry_run = args.dry_run;
  auto report = repair::RestoreJournal(args.journal, options);
  if (!report) {
    ctx.out.PrintError(report.error());
    return report.error().ToExitCode();
  }
  const auto& j = report->journal;
  const std::string state = report->nothing_to_do ? "never sealed: the apply changed nothing"
                            : j.completed         ? "the apply had completed"
                                                  : "the apply was interrupted";
  const std::string root = report->root.empty() ? j.header.root : report->root;
  if (ctx.out.json()) {
    ctx.out.Json(
        {{"journal", args.journal},
         {"root", root},
         {"dry_run", report->dry_run},
         {"entries", j.entries.size()},
         {"sealed", j.sealed},
         {"completed", j.completed},
         {"torn_tail", j.torn_tail ? nlohmann::json(*j.torn_tail) : nlohmann::json(nullptr)},
         {"restored", report->restored},
         {"unchanged", report->unchanged},
         {"changed_by_others", report->changed_by_others},
         {"actions", ActionsJson(*report)}});
    return kExitOk;
  }
  if (j.torn_tail) ctx.out.Note("mkeys: journal " + args.journal + ": " + *j.torn_tail);
  if (report->nothing_to_do) {
    ctx.out.Line(fmt::format("Nothing to restore: journal {} was {}.", args.journal, state));
    return kExitOk;
  }
  if (report->dry_run) {
    PrintPlan(ctx, *report);
    return kExitOk;
  }
  ctx.out.Line(
      fmt::format("Restored {} descriptor(s) of {} under {} ({}); {} already held their "
                  "earlier bytes.",
                  report->restored, j.entries.size(), root, state, report->unchanged));
  for (const auto& p : report->changed_by_others) {
    ctx.out.Note("mkeys: " + p +
                 " had been changed by something else since the repair; restored anyway");
  }
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RestoreArgs>();
  auto* cmd = app.add_subcommand(
      "restore",
      "Undo a repair: put back every descriptor its journal lists, byte for byte "
      "(also after an apply killed half-way)");
  cmd->add_option("JOURNAL", args->journal, "The journal `mkeys repair --apply` wrote")->required();
  cmd->add_option("--root", args->root,
                  "The machine root, if it moved since the repair (its MachineGuid must be the "
                  "journal's)");
  cmd->add_flag("--dry-run", args->dry_run, "Check the journal and print the plan; write nothing");
  cmd->add_option("--partition", args->partition,
                  "Disk image root: the partition (1-based; 0 for a bare volume)");
  ctx.Bind(cmd, [args](Context& c) { return RunRestore(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(95, Register);
}  // namespace mkeys::cli
