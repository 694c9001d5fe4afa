// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys diagnose ROOT (--as IDENTITY | --token FILE) (--container NAME | --file FILE)`: why
// CryptAcquireContext would fail with NTE_BAD_KEYSET, and the fix.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <optional>

#include "app.hpp"
#include "commands/token_arg.hpp"
#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/diagnose.hpp"
#include "output/audit_render.hpp"

namespace mkeys::cli {
namespace {

struct DiagnoseArgs {
  std::string root;
  std::string identity;
  std::string token_file;  // --token FILE instead of --as
  std::string container;
  std::string file;
  std::vector<std::string> wants;
  std::string machine_guid;
  int partition = -1;   // --partition (disk images)
  std::string cert;     // --cert THUMBPRINT
  std::string subject;  // --subject TEXT
};

// --cert / --subject: certificate -> key-provider info -> key file; the target the walk takes.
// Prints the certificate's line first. nullopt (and the exit code in `exit`) when the key has no
// file on disk or the certificate is not found.
std::optional<keystore::OpenTarget> CertificateTarget(Context& ctx, const DiagnoseArgs& args,
                                                      const keystore::MachineRoot& root,
                                                      std::string& thumbprint, int& exit) {
  auto cert = keystore::FindCertificate(root, args.cert, args.subject);
  if (!cert) {
    ctx.out.PrintError(cert.error());
    exit = cert.error().ToExitCode();
    return std::nullopt;
  }
  thumbprint = cert->thumbprint;
  auto loc = keystore::LocateCertificateKey(root, *cert);
  if (!loc) {
    ctx.out.PrintError(loc.error());
    exit = loc.error().ToExitCode();
    return std::nullopt;
  }
  if (!ctx.out.json()) {
    ctx.out.Line(fmt::format("certificate {} ({}), key provider: {}, key: {}", cert->thumbprint,
                             cert->subject, loc->provider.empty() ? "-" : loc->provider,
                             cert->key ? cert->key->container : "-"));
  }
  if (!loc->on_disk) {
    ctx.out.PrintError(
        Error(ErrorCode::kNotFound, "no key file on disk: " + loc->reason).On(cert->thumbprint));
    exit = kExitNegative;
    return std::nullopt;
  }
  return loc->target;
}

int RunDiagnose(Context& ctx, const DiagnoseArgs& args) {
  const int given = int(!args.container.empty()) + int(!args.file.empty()) +
                    int(!args.cert.empty()) + int(!args.subject.empty());
  if (given != 1) {
    ctx.out.PrintError(Error(ErrorCode::kInvalidArgument,
                             "give exactly one of --container, --file, --cert or --subject"));
    return kExitUsage;
  }
  if (!CheckAsOrToken(ctx, args.identity, args.token_file)) return kExitUsage;
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
  if (!args.token_file.empty()) {
    auto loaded = LoadTokenArg(args.token_file, root.policy());
    if (!loaded) {
      ctx.out.PrintError(loaded.error());
      return kExitInput;
    }
    request.identity = loaded->Keys().front();
  }
  std::string thumbprint;
  if (!args.cert.empty() || !args.subject.empty()) {
    int exit = kExitOk;
    request.target = CertificateTarget(ctx, args, root, thumbprint, exit);
    if (!request.target) return exit;
  }
  auto diagnosis = repair::Diagnose(root, request);
  if (!diagnosis) {
    ctx.out.PrintError(diagnosis.error());
    return diagnosis.error().ToExitCode();
  }
  // The fix names the token file's identity: the repair command needs the file too.
  if (!args.token_file.empty() && !diagnosis->repair_command.empty()) {
    auto& argv = diagnosis->repair_command;
    const auto at = std::find(argv.begin(), argv.end(), "--service");
    argv.insert(at == argv.end() ? argv.end() : at, {"--token", args.token_file});
  }
  if (!thumbprint.empty() && !diagnosis->would_succeed && diagnosis->file_exists) {
    diagnosis->manual_fixes.push_back(
        fmt::format("let {} read the certificate's key: mkeys cert grant {} --cert {} --to '{}' "
                    "--rights R (or --emit icacls|powershell for the live server)",
                    diagnosis->short_name, args.root, thumbprint, request.identity));
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
                  "Identity opening it, e.g. 'NT AUTHORITY\\NETWORK SERVICE', service:NAME");
  cmd->add_option("--token", args->token_file,
                  "JSON token file (user SID, groups, privileges) for an identity the machine "
                  "cannot know, e.g. a domain account; instead of --as (docs/identities.md)");
  cmd->add_option("--container", args->container, "Container name");
  cmd->add_option("--file", args->file,
                  "Key file (<hash>_<MachineGuid>, or a path in MachineKeys, DSS/MachineKeys, "
                  "Crypto/Keys or Crypto/SystemKeys) instead of a name");
  cmd->add_option("--cert", args->cert, "Certificate thumbprint in LocalMachine\\My: its key");
  cmd->add_option("--subject", args->subject, "Text in a LocalMachine\\My certificate's subject");
  cmd->add_option("--want", args->wants, "Access to check: read (default), write, delete, create")
      ->check(CLI::IsMember({"read", "write", "delete", "create"}));
  cmd->add_option("--machine-guid", args->machine_guid, "Override the root's MachineGuid");
  ctx.Bind(cmd, [args](Context& c) { return RunDiagnose(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(70, Register);
}  // namespace mkeys::cli
