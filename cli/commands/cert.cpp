// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys cert list|grant|import`: LocalMachine\My of a root (the SOFTWARE hive) and the key file
// behind each certificate: who can read it, the offline "Manage Private Keys" (journaled like
// repair, undone by `mkeys restore`), and importing a .pfx into a model machine.
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/time.hpp"
#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/plan.hpp"

namespace mkeys::cli {
namespace {

namespace ks = keystore;
namespace fs = std::filesystem;

struct CertArgs {
  std::string root;
  std::string machine_guid;
  std::string cert;
  std::string subject;
  std::string to;
  std::string rights = "R";
  std::string journal;
  std::string emit;
  std::string windows_root = "C:\\";
  std::string file;
  std::string provider = "cng";
  std::vector<std::string> grants;
  std::string password_file;
  std::string key_name;
};

int Fail(Context& ctx, const Error& error) {
  ctx.out.PrintError(error);
  return error.ToExitCode();
}

// `writable`: a disk image is opened read-write (only `cert grant` writes, and only with a
// journal).
Result<ks::MachineRoot> OpenRoot(const CertArgs& args, bool writable = false) {
  ks::MachineOpenOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  options.writable = writable;
  return ks::MachineRoot::Open(args.root, options);
}

// The key of one certificate as `cert list` shows it.
struct KeyView {
  std::string file = "-";
  std::vector<std::string> readers;
  std::string problem;
};

KeyView ViewKey(const ks::MachineRoot& root, const ks::Certificate& cert) {
  KeyView v;
  auto loc = ks::LocateCertificateKey(root, cert);
  if (!loc) {
    v.problem = loc.error().ToString();
    return v;
  }
  if (!loc->on_disk) {
    v.problem = "no key file on disk: " + loc->reason;
    return v;
  }
  v.file = loc->target->label;
  const fs::path path = loc->target->directories.back() / loc->target->file_name;
  auto exists = root.volume().Exists(path);  // a directory or a disk image alike
  if (!exists) {
    v.problem = exists.error().ToString();
    return v;
  }
  if (!*exists) {
    v.problem = fmt::format("key file missing: {} does not exist", v.file);
    return v;
  }
  auto sd = root.security().Read(path);
  if (!sd) {
    v.problem = "descriptor unreadable: " + sd.error().message();
    return v;
  }
  v.readers = ks::ReadersOf(*sd);
  return v;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

int RunList(Context& ctx, const CertArgs& args) {
  auto machine = OpenRoot(args);
  if (!machine) return Fail(ctx, machine.error());
  const ks::MachineRoot& root = *machine;
  auto certs = ks::ReadMachineCertificates(root);
  if (!certs) return Fail(ctx, certs.error());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& c : *certs) {
    const KeyView key = ViewKey(root, c);
    const std::string provider = c.key ? c.key->provider : "-";
    if (ctx.out.json()) {
      items.push_back({{"thumbprint", c.thumbprint},
                       {"subject", c.subject},
                       {"not_after", c.not_after},
                       {"provider", provider},
                       {"key_name", c.key ? c.key->container : ""},
                       {"key_file", key.file},
                       {"readers", key.readers},
                       {"problem", c.problem.empty() ? key.problem : c.problem}});
      continue;
    }
    ctx.out.Line(c.thumbprint);
    ctx.out.Line(fmt::format("  subject:   {}", c.subject.empty() ? "?" : c.subject));
    ctx.out.Line(fmt::format("  not after: {}", c.not_after.empty() ? "?" : c.not_after));
    ctx.out.Line(fmt::format("  provider:  {}", provider));
    ctx.out.Line(fmt::format("  key file:  {}", key.file));
    ctx.out.Line(fmt::format("  can read:  {}", key.readers.empty() ? "-" : Join(key.readers)));
    if (!c.problem.empty())
      ctx.out.Line("  problem:   " + ctx.out.Paint(c.problem, Color::kYellow));
    if (!key.problem.empty()) {
      ctx.out.Line("  problem:   " + ctx.out.Paint(key.problem, Color::kYellow));
    }
  }
  if (ctx.out.json()) {
    ctx.out.Json(
        {{"root", root.root().string()}, {"store", "LocalMachine\\My"}, {"certificates", items}});
  } else {
    ctx.out.Note(fmt::format("{} certificate(s) in LocalMachine\\My", certs->size()));
  }
  return kExitOk;
}

// The DACL with an allow ACE for the grant, placed before any inherited ACE.
acl::SecurityDescriptor WithGrant(acl::SecurityDescriptor sd, const acl::IcaclsGrant& grant) {
  if (!sd.dacl) return sd;  // a NULL DACL grants everything already
  auto& aces = sd.dacl->aces;
  auto at = aces.begin();
  while (at != aces.end() && !at->IsInherited()) ++at;
  aces.insert(at, acl::AllowAce(grant.sid, grant.mask, grant.flags));
  return sd;
}

std::string WindowsPath(const CertArgs& args, const ks::MachineRoot& root, const fs::path& path) {
  std::string rel = root.Relative(path);
  for (char& c : rel) c = c == '/' ? '\\' : c;
  return args.windows_root + rel;
}

int EmitGrant(Context& ctx, const CertArgs& args, const ks::MachineRoot& root, const fs::path& path,
              const std::string& who) {
  const std::string win = WindowsPath(args, root, path);
  if (args.emit == "icacls") {
    ctx.out.Line(fmt::format("icacls \"{}\" /grant \"{}:({})\"", win, who, args.rights));
  } else {
    ctx.out.Line(fmt::format("$path = '{}'", win));
    ctx.out.Line("$acl = Get-Acl -LiteralPath $path");
    ctx.out.Line(fmt::format(
        "$rule = New-Object System.Security.AccessControl.FileSystemAccessRule('{}', 'Read', "
        "'Allow')",
        who));
    ctx.out.Line("$acl.AddAccessRule($rule)");
    ctx.out.Line("Set-Acl -LiteralPath $path -AclObject $acl");
  }
  return kExitOk;
}

int RunGrant(Context& ctx, const CertArgs& args) {
  auto machine = OpenRoot(args, args.emit.empty());
  if (!machine) return Fail(ctx, machine.error());
  ks::MachineRoot& root = *machine;
  auto cert = ks::FindCertificate(root, args.cert, args.subject);
  if (!cert) return Fail(ctx, cert.error());
  auto loc = ks::LocateCertificateKey(root, *cert);
  if (!loc) return Fail(ctx, loc.error());
  if (!loc->on_disk) {
    return Fail(
        ctx,
        Error(ErrorCode::kUnsupported, "no key file on disk: " + loc->reason).On(cert->thumbprint));
  }
  auto grant = acl::ParseIcaclsGrant(args.to + ":" + args.rights);
  if (!grant) {
    ctx.out.PrintError(Error(ErrorCode::kInvalidArgument,
                             fmt::format("--to/--rights: {}", grant.error().ToString())));
    return kExitUsage;
  }
  const fs::path path = loc->target->directories.back() / loc->target->file_name;
  if (!args.emit.empty()) return EmitGrant(ctx, args, root, path, args.to);
  auto raw = root.security().ReadRaw(path);
  if (!raw) return Fail(ctx, raw.error());
  auto sd = root.security().DecodeRaw(*raw);
  if (!sd) return Fail(ctx, sd.error());
  const auto after = WithGrant(*sd, *grant);
  repair::Plan plan;
  plan.root = fs::absolute(root.root()).lexically_normal().string();
  while (plan.root.size() > 1 && plan.root.back() == '/') plan.root.pop_back();
  plan.machine_guid = root.machine_guid();
  plan.attribute = root.security().attribute();
  plan.ntfs = root.security().backend() == ks::SecurityBackend::kNtfs3g;
  repair::PlanStep step;
  step.object = loc->target->label;
  step.relative_path = root.Relative(path);
  step.container_name = cert->key->container;
  step.why = fmt::format("cert grant: {} {} on the key of certificate {}", args.to, args.rights,
                         cert->thumbprint);
  step.before_raw = std::make_shared<const std::vector<std::uint8_t>>(*raw);
  step.after_raw =
      std::make_shared<const std::vector<std::uint8_t>>(root.writable_security().EncodeRaw(after));
  if (*step.before_raw == *step.after_raw) {
    ctx.out.Line("Nothing to change.");
    return kExitOk;
  }
  plan.steps.push_back(std::move(step));
  const std::string journal =
      args.journal.empty()
          ? time::UtcTimestamp(std::time(nullptr), "mkeys-cert-grant-%Y%m%dT%H%M%SZ.journal")
          : args.journal;
  auto report = repair::ApplyPlan(root, plan, journal, {});
  if (!report) return Fail(ctx, report.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"certificate", cert->thumbprint},
                  {"key_file", loc->target->label},
                  {"granted", args.to + ":" + args.rights},
                  {"sddl", acl::FormatSddl(after)},
                  {"journal", journal}});
  } else {
    ctx.out.Line(fmt::format("Granted {} ({}) on {} (key of {}).", args.to, args.rights,
                             loc->target->label, cert->thumbprint));
    ctx.out.Line(fmt::format("descriptor: {}", acl::FormatSddl(after)));
    ctx.out.Line(fmt::format("journal {} (undo: mkeys restore {})", journal, journal));
  }
  return kExitOk;
}

Result<SecretBytes> ReadPassword(const std::string& file) {
  if (file.empty()) return SecretBytes();
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) return Error(ErrorCode::kNotFound, "cannot open the password file").On(file);
  std::vector<std::uint8_t> bytes;
  int c;
  while ((c = std::fgetc(f)) != EOF) bytes.push_back(static_cast<std::uint8_t>(c));
  std::fclose(f);
  while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.pop_back();
  SecretBytes out(bytes);
  std::fill(bytes.begin(), bytes.end(), 0);
  return out;
}

int RunImport(Context& ctx, const CertArgs& args) {
  auto machine = OpenRoot(args);
  if (!machine) return Fail(ctx, machine.error());
  ks::CertImportOptions options;
  options.provider =
      args.provider == "capi" ? ks::CertKeyProvider::kCapi : ks::CertKeyProvider::kCng;
  options.key_name = args.key_name;
  for (const auto& text : args.grants) {
    auto grant = acl::ParseIcaclsGrant(text);
    if (!grant) {
      ctx.out.PrintError(Error(ErrorCode::kInvalidArgument,
                               fmt::format("--grant '{}': {}", text, grant.error().ToString())));
      return kExitUsage;
    }
    options.grants.push_back(acl::AllowAce(grant->sid, grant->mask, grant->flags));
  }
  auto password = ReadPassword(args.password_file);
  if (!password) return Fail(ctx, password.error());
  auto imported = ks::ImportCertificate(*machine, args.file, *password, options);
  if (!imported) return Fail(ctx, imported.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"thumbprint", imported->thumbprint},
                  {"subject", imported->subject},
                  {"provider", imported->provider},
                  {"key_name", imported->key_name},
                  {"key_file", imported->key_label}});
  } else {
    ctx.out.Line(fmt::format("imported {} ({}) into LocalMachine\\My", imported->thumbprint,
                             imported->subject));
    ctx.out.Line(fmt::format("key:      {} ({})", imported->key_label, imported->provider));
    ctx.out.Line(fmt::format("key name: {}", imported->key_name));
  }
  return kExitOk;
}

void AddRoot(CLI::App* cmd, CertArgs& args) {
  cmd->add_option("ROOT", args.root, "Machine root (model machine or ntfs-3g mount)")->required();
  cmd->add_option("--machine-guid", args.machine_guid, "Override the root's MachineGuid");
}

void Register(CLI::App& app, Context& ctx) {
  auto* group =
      app.add_subcommand("cert", "LocalMachine\\My certificates and the key files behind them");
  group->require_subcommand(1);

  auto list_args = std::make_shared<CertArgs>();
  auto* list = group->add_subcommand(
      "list", "Certificates with thumbprint, subject, expiry, provider, key file and who can read");
  AddRoot(list, *list_args);
  ctx.Bind(list, [list_args](Context& c) { return RunList(c, *list_args); });

  auto grant_args = std::make_shared<CertArgs>();
  auto* grant = group->add_subcommand(
      "grant",
      "Let IDENTITY read a certificate's private key (journaled; mkeys restore undoes it)");
  AddRoot(grant, *grant_args);
  grant->add_option("--cert", grant_args->cert, "Thumbprint (SHA-1 hex)");
  grant->add_option("--subject", grant_args->subject, "Text the subject contains");
  grant->add_option("--to", grant_args->to, "Identity, e.g. 'IIS APPPOOL\\Shop'")->required();
  grant->add_option("--rights", grant_args->rights, "icacls rights (default R)");
  grant->add_option("--journal", grant_args->journal, "Journal file (default: a new one here)");
  grant->add_option("--emit", grant_args->emit, "Print an icacls or PowerShell script instead")
      ->check(CLI::IsMember({"icacls", "powershell"}));
  grant->add_option("--windows-root", grant_args->windows_root, "Drive for --emit (default C:\\)");
  ctx.Bind(grant, [grant_args](Context& c) {
    if (grant_args->cert.empty() == grant_args->subject.empty()) {
      c.out.PrintError(
          Error(ErrorCode::kInvalidArgument, "give exactly one of --cert or --subject"));
      return static_cast<int>(kExitUsage);
    }
    return RunGrant(c, *grant_args);
  });

  auto import_args = std::make_shared<CertArgs>();
  auto* imp = group->add_subcommand(
      "import",
      "Import FILE.pfx into a model machine: the key where Windows keeps it, the "
      "certificate into LocalMachine\\My");
  AddRoot(imp, *import_args);
  imp->add_option("FILE", import_args->file, "FILE.pfx, .p12 or .pem")->required();
  imp->add_option("--provider", import_args->provider, "cng (default) or capi")
      ->check(CLI::IsMember({"cng", "capi"}));
  imp->add_option("--grant", import_args->grants, "IDENTITY:RIGHTS on the key (repeatable)");
  imp->add_option("--password-file", import_args->password_file, "File holding the password");
  imp->add_option("--key-name", import_args->key_name, "Key name (default: a new GUID)");
  ctx.Bind(imp, [import_args](Context& c) { return RunImport(c, *import_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(65, Register);
}  // namespace mkeys::cli
