// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The options audit and repair share, declared in one place so that their help texts cannot
// drift: ROOT, --baseline, --service (AddScanInputOptions), --threads, --machine-guid
// (AddScanTuningOptions); then the baseline they make (LoadBaselineArgs) and the root they open
// (OpenScanRoot).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "mkeys/core/error.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/baseline.hpp"
#include "output/output.hpp"

namespace mkeys::cli {

struct ScanArgs {
  std::string root;
  std::string baseline;
  std::vector<std::string> services;
  std::size_t threads = 0;
  std::string machine_guid;
  int partition = -1;     // --partition (disk images)
  bool writable = false;  // open a disk image read-write (repair --apply)
};

// ROOT, --baseline, --service: the first options of both commands.
inline void AddScanInputOptions(CLI::App* cmd, ScanArgs& args) {
  cmd->add_option("ROOT", args.root,
                  "Machine root (model machine, ntfs-3g mount or disk image file)")
      ->required();
  cmd->add_option("--baseline", args.baseline, "Baseline file (JSON, see docs/audit.md)");
  cmd->add_option("--service", args.services,
                  "IDENTITY=GLOB: the identity must read the containers the glob matches "
                  "(repeatable), e.g. 'NT AUTHORITY\\NETWORK SERVICE=TMG*'");
}

// --threads, --machine-guid: the last options of both commands.
inline void AddScanTuningOptions(CLI::App* cmd, ScanArgs& args) {
  cmd->add_option("--threads", args.threads, "Worker threads (default: one per core)");
  cmd->add_option("--machine-guid", args.machine_guid, "Override the root's MachineGuid");
  cmd->add_option("--partition", args.partition,
                  "Disk image root: the partition (1-based; 0 for a bare volume; default: the "
                  "one holding Windows)");
}

// Fills `baseline` from --baseline and --service; on a bad file (exit 3) or a bad --service
// (exit 2) prints the error and returns the exit code, else returns kExitOk.
inline int LoadBaselineArgs(const Output& out, const ScanArgs& args, repair::Baseline& baseline) {
  if (!args.baseline.empty()) {
    auto loaded = repair::LoadBaseline(args.baseline);
    if (!loaded) {
      out.PrintError(loaded.error());
      return kExitInput;
    }
    baseline = std::move(*loaded);
  }
  for (const auto& s : args.services) {
    auto decl = repair::ParseServiceDeclaration(s);
    if (!decl) {
      out.PrintError(decl.error());
      return kExitUsage;
    }
    baseline.services.push_back(std::move(*decl));
  }
  return kExitOk;
}

// Opens ROOT (with --machine-guid); on failure prints the error and sets `exit_code`.
inline std::optional<keystore::MachineRoot> OpenScanRoot(const Output& out, const ScanArgs& args,
                                                         int& exit_code) {
  keystore::MachineOpenOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  if (args.partition >= 0) options.partition = args.partition;
  options.writable = args.writable;
  auto opened = keystore::MachineRoot::Open(args.root, options);
  if (!opened) {
    out.PrintError(opened.error());
    exit_code = opened.error().ToExitCode();
    return std::nullopt;
  }
  return std::move(*opened);
}

}  // namespace mkeys::cli
