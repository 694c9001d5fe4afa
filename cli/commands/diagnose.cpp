// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys diagnose ROOT --as IDENTITY (--container NAME | --file FILE)`: why CryptAcquireContext
// would fail with NTE_BAD_KEYSET, and the fix.
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/diagnose.hpp"
#include "output/audit_render.hpp"

namespace mkeys::cli {
namespace {

struct DiagnoseArgs {
  std::string root;
  std::string identity;
  std::string container;
  std::string file;
  std::vector<std::string> wants;
  std::string machine_guid;
  int partition = -1;  // --partition (disk images)
};

int RunDiagnose(Context& ctx, const DiagnoseArgs& args) {
  if (args.container.empty() == args.file.empty()) {
    ctx.out.PrintError(
        Error(ErrorCode::kInvalidArgument, "give exactly one of --container or --file"));
    return kExitUsage;
  }
  repair::DiagnoseRequest request;
  request.identity = args.identity;
  if (!args.container.empty()) request.container = args.container;
  if (!args.file.empty()) request.file = args.file;
  if (!args.wants.empty()) {
    request.wants.clear();
    for (const auto& w : args.wants) {
      auto want = repair::ParseWant(w);
      if (!want) {
        ctx.out.PrintError(want.error());
        return kExitUsage;
      }
      request.wants.push_back(*want);
    }
  }
  keystore::MachineOpenOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  if (args.partition >= 0) options.partition = args.partition;
  auto opened = keystore::MachineRoot::Open(args.root, options);
  if (!opened) {
    ctx.out.PrintError(opened.error());
    return opened.error().ToExitCode();
  }
  const keystore::MachineRoot& root = *opened;  // diagnose only reads
  auto diagnosis = repair::Diagnose(root, request);
  if (!diagnosis) {
    ctx.out.PrintError(diagnosis.error());
    return diagnosis.error().ToExitCode();
  }
  if (ctx.out.json()) {
    ctx.out.Json(DiagnosisJson(*diagnosis, root));
  } else {
    for (const auto& line : DiagnosisText(*diagnosis, root, ctx.out)) ctx.out.Line(line);
  }
  return diagnosis->would_succeed ? kExitOk : kExitNegative;
}

void Register(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<DiagnoseArgs>();
  auto* cmd = app.add_subcommand(
      "diagnose",
      "Why opening a container as IDENTITY fails (KEYSET DOES NOT EXIST), and the fix; exit 0 if "
      "the open would succeed, 1 if not");
  cmd->add_option("ROOT", args->root,
                  "Machine root (model machine, ntfs-3g mount or disk image file)")
      ->required();
  cmd->add_option("--partition", args->partition,
                  "Disk image root: the partition (1-based; 0 for a bare volume)");
  cmd->add_option("--as", args->identity,
                  "Identity opening it, e.g. 'NT AUTHORITY\\NETWORK SERVICE'")
      ->required();
  cmd->add_option("--container", args->container, "Container name");
  cmd->add_option("--file", args->file, "Key file name (<hash>_<MachineGuid>) instead of a name");
  cmd->add_option("--want", args->wants, "Access to check: read (default), write, delete, create")
      ->check(CLI::IsMember({"read", "write", "delete", "create"}));
  cmd->add_option("--machine-guid", args->machine_guid, "Override the root's MachineGuid");
  ctx.Bind(cmd, [args](Context& c) { return RunDiagnose(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(70, Register);
}  // namespace mkeys::cli
