// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys audit ROOT`: every rule over the root in one parallel, read-only pass; text, JSON,
// SARIF 2.1.0, JUnit XML, XCCDF 1.2, HDF JSON or one HTML page.
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app.hpp"
#include "commands/baseline_args.hpp"
#include "mkeys/core/time.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/audit.hpp"
#include "output/audit_render.hpp"
#include "output/report_formats.hpp"

namespace mkeys::cli {
namespace {

struct AuditArgs {
  ScanArgs scan;
  std::string format = "text";
  std::string output;
  std::string fail_on = "error";
};

int RunAudit(Context& ctx, const AuditArgs& args) {
  repair::AuditOptions options;
  if (const int code = LoadBaselineArgs(ctx.out, args.scan, options.baseline); code != kExitOk) {
    return code;
  }
  auto fail_on = repair::ParseSeverity(args.fail_on);
  if (!fail_on) {
    ctx.out.PrintError(fail_on.error());
    return kExitUsage;
  }
  const std::string format = ctx.out.json() && args.format == "text" ? "json" : args.format;
  options.threads = args.scan.threads;
  int exit_code = kExitOk;
  auto opened = OpenScanRoot(ctx.out, args.scan, exit_code);
  if (!opened) return exit_code;
  const keystore::MachineRoot& root = *opened;  // read-only by construction
  const std::string start_time = mkeys::time::UtcNowIso8601();
  const auto start = std::chrono::steady_clock::now();
  bool progress_shown = false;
  options.progress = [&](std::uint64_t done) {
    if (std::chrono::steady_clock::now() - start < std::chrono::seconds(1)) return;
    progress_shown = true;
    ctx.out.Progress("audit: key files", done, 0);
  };
  auto report = repair::RunAudit(root, options);
  if (progress_shown) ctx.out.ProgressDone();
  if (!report) {
    ctx.out.PrintError(report.error());
    return report.error().ToExitCode();
  }
  std::string text;
  if (format == "json") {
    text = AuditJson(*report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (format == "sarif") {
    text = AuditSarif(*report);
  } else if (format == "junit") {
    text = AuditJunit(*report);
  } else if (IsComplianceFormat(format)) {
    text = RenderComplianceReport(format, *report, root, options.baseline, start_time,
                                  mkeys::time::UtcNowIso8601());
  } else {
    text = AuditText(*report, args.output.empty() ? ctx.out : Output());
  }
  if (!args.output.empty()) {
    std::ofstream file(args.output, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) {
      ctx.out.PrintError(Error(ErrorCode::kIo, "cannot write the report").On(args.output));
      return kExitInput;
    }
    ctx.out.Note(fmt::format("audit: {} finding(s) in {} key files; report written to {}",
                             report->TotalFindings(), report->key_files, args.output));
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  // Objects it could not read: the audit is incomplete whatever --fail-on says.
  if (report->unchecked > 0) return kExitNegative;
  return report->HasFindingAtOrAbove(*fail_on) ? kExitNegative : kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<AuditArgs>();
  auto* cmd = app.add_subcommand(
      "audit",
      "Check a machine root against every rule (read-only); exit 1 when a finding at or "
      "above --fail-on exists");
  AddScanInputOptions(cmd, args->scan);
  cmd->add_option("--format", args->format,
                  "text (default), json, sarif (SARIF 2.1.0), junit (JUnit XML), xccdf (XCCDF 1.2 "
                  "Benchmark with TestResult), hdf (Heimdall Data Format JSON) or html (one "
                  "self-contained page)")
      ->check(CLI::IsMember({"text", "json", "sarif", "junit", "xccdf", "hdf", "html"}));
  cmd->add_option("--output,--out", args->output, "Write the report to FILE instead of stdout");
  cmd->add_option("--fail-on", args->fail_on, "error (default), warning or note")
      ->check(CLI::IsMember({"error", "warning", "note"}));
  AddScanTuningOptions(cmd, args->scan);
  ctx.Bind(cmd, [args](Context& c) { return RunAudit(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(80, Register);
}  // namespace mkeys::cli
