// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys store name|create|open|list|delete|import|export`: the MachineKeys store of a root,
// every operation run as an identity (--as) and gated as Windows gates it.
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "output/identity_json.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {
namespace {

namespace ks = keystore;

struct StoreArgs {
  std::string root;
  std::string name;
  std::string identity;
  std::string machine_guid;
  int partition = -1;  // --partition (disk images)
  std::string key = "rsa:2048";
  std::string slot = "exchange";
  std::vector<std::string> grants;
  std::string file;
  std::string out;
  std::string password_file;
  std::string provider = "capi";
};

// NTE_BAD_KEYSET / NTE_EXISTS are the negative answers of these commands (exit 1).
int ExitFor(const Error& error) {
  if (error.windows_code() &&
      (*error.windows_code() == ks::kNteBadKeyset || *error.windows_code() == ks::kNteExists)) {
    return kExitNegative;
  }
  return error.ToExitCode();
}

int Fail(Context& ctx, const Error& error) {
  ctx.out.PrintError(error);
  return ExitFor(error);
}

Result<ks::MachineRoot> OpenRoot(const StoreArgs& args) {
  ks::MachineOpenOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  if (args.partition >= 0) options.partition = args.partition;
  return ks::MachineRoot::Open(args.root, options);
}

Result<acl::Token> Identity(const ks::MachineRoot& machine, const std::string& identity) {
  auto token = machine.TokenFor(identity);
  if (!token) {
    // An unknown identity is bad input (exit 3), not a usage error.
    return Error(ErrorCode::kNotFound, token.error().message()).On("--as");
  }
  return std::move(token).value();
}

// The prologue of every command that acts as an identity: the root, the identity's token and
// the store; errors printed and mapped to the exit code. `body(machine, store, token)`.
template <typename Body>
int WithStore(Context& ctx, const StoreArgs& args, const Body& body) {
  auto machine = OpenRoot(args);
  if (!machine) return Fail(ctx, machine.error());
  auto token = Identity(*machine, args.identity);
  if (!token) return Fail(ctx, token.error());
  ks::KeyStore store(*machine);
  return body(*machine, store, *token);
}

Result<std::vector<acl::Ace>> ParseGrants(const std::vector<std::string>& grants) {
  std::vector<acl::Ace> aces;
  for (const auto& text : grants) {
    auto grant = acl::ParseIcaclsGrant(text);
    if (!grant) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("--grant '{}': {} (use IDENTITY:RIGHTS, e.g. 'NT AUTHORITY\\NETWORK "
                               "SERVICE:R')",
                               text, grant.error().ToString()));
    }
    aces.push_back(acl::AllowAce(grant->sid, grant->mask, grant->flags));
  }
  return aces;
}

Result<SecretBytes> ReadPassword(const std::string& file) {
  if (file.empty()) return SecretBytes();
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) return Error(ErrorCode::kNotFound, "cannot open the password file").On(file);
  std::vector<std::uint8_t> buf(4096);
  const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
  std::fclose(f);
  std::size_t len = n;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) --len;
  SecretBytes secret(std::span<const std::uint8_t>(buf.data(), len));
  std::fill(buf.begin(), buf.end(), 0);
  return secret;
}

nlohmann::json KeyInfoJson(const std::optional<ks::PublicKeyInfo>& info) {
  if (!info) return nullptr;
  nlohmann::json j = {{"description", info->Describe()}, {"bits", info->bits}};
  switch (info->algorithm) {
    case ks::KeyAlgorithm::kRsa:
      j["algorithm"] = "RSA";
      j["public_exponent"] = info->public_exponent;
      break;
    case ks::KeyAlgorithm::kEcP256:
      j["algorithm"] = "EC P-256";
      break;
    case ks::KeyAlgorithm::kSymmetric:
      j["algorithm"] = "symmetric";
      break;
  }
  return j;
}

nlohmann::json SummaryJson(const ks::ContainerSummary& s) {
  nlohmann::json flags = nlohmann::json::array();
  if (s.name_hash_mismatch) flags.push_back("name-hash-mismatch");
  if (s.foreign_machine_guid) flags.push_back("foreign-machine-guid");
  if (s.not_a_container_name) flags.push_back("not-a-container-name");
  if (s.descriptor_unreadable) flags.push_back("unreadable-descriptor");
  if (s.corrupt) flags.push_back("corrupt");
  nlohmann::json j = {
      {"file", s.file_name},
      {"name", s.name},
      {"format", s.cng ? std::string("cng") : std::string(ks::ContainerFormatName(s.format))},
      {"provider", s.cng ? std::string(ks::kSoftwareKspName)
                         : std::string(ks::InfoOf(ks::KeyDirectory::kRsaMachineKeys).provider)},
      {"owner", s.owner ? nlohmann::json(s.owner->ToString()) : nlohmann::json(nullptr)},
      {"owner_name",
       s.owner ? nlohmann::json(acl::DisplayName(*s.owner)) : nlohmann::json(nullptr)},
      {"keys", s.keys},
      {"exchange", KeyInfoJson(s.exchange)},
      {"signature", KeyInfoJson(s.signature)},
      {"flags", flags}};
  if (!s.problem.empty()) j["problem"] = s.problem;
  return j;
}

int RunName(Context& ctx, const StoreArgs& args) {
  std::string guid;
  if (!args.root.empty() && !args.machine_guid.empty()) {
    auto machine = OpenRoot(args);
    if (!machine) return Fail(ctx, machine.error());
    guid = machine->machine_guid();
  } else if (!args.machine_guid.empty()) {
    auto normalized = ks::NormalizeMachineGuid(args.machine_guid);
    if (!normalized) {
      ctx.out.PrintError(normalized.error());
      return kExitUsage;
    }
    guid = *normalized;
  } else if (!args.root.empty()) {
    auto machine = OpenRoot(args);
    if (!machine) return Fail(ctx, machine.error());
    guid = machine->machine_guid();
  } else {
    ctx.out.PrintError(
        Error(ErrorCode::kInvalidArgument, "store name needs --root ROOT or --machine-guid GUID"));
    return kExitUsage;
  }
  const std::string file = ks::ContainerFileName(args.name, guid);
  if (ctx.out.json()) {
    ctx.out.Json({{"name", args.name},
                  {"hash", ks::ContainerHash(args.name)},
                  {"machine_guid", guid},
                  {"file", file}});
  } else {
    ctx.out.Line(file);
  }
  return kExitOk;
}

int RunCreate(Context& ctx, const StoreArgs& args) {
  return WithStore(
      ctx, args,
      [&](ks::MachineRoot& machine, ks::KeyStore& store, const acl::Token& token) -> int {
        auto grants = ParseGrants(args.grants);
        if (!grants) return Fail(ctx, grants.error());
        auto spec = ks::KeySpec::Parse(args.key);
        if (!spec) return Fail(ctx, spec.error());
        ks::CreateOptions options;
        options.key = *spec;
        options.slot = args.slot == "signature" ? ks::KeySlot::kSignature : ks::KeySlot::kExchange;
        options.grants = std::move(grants).value();
        auto created = store.Create(args.name, token, options);
        if (!created) return Fail(ctx, created.error());
        const auto sd = machine.security().Read(store.PathFor(args.name));
        if (ctx.out.json()) {
          nlohmann::json doc = SummaryJson(*created);
          doc["sddl"] = sd ? acl::FormatSddl(*sd) : std::string();
          ctx.out.Json(doc);
        } else {
          ctx.out.Line(
              fmt::format("created container '{}' as {}", args.name, token.display_name()));
          ctx.out.Line(fmt::format("file:       MachineKeys/{}", created->file_name));
          ctx.out.Line(fmt::format("keys:       {}", created->keys));
          if (sd) ctx.out.Line(fmt::format("descriptor: {}", acl::FormatSddl(*sd)));
        }
        return kExitOk;
      });
}

// NCryptOpenKey on a machine key of the Software Key Storage Provider: the same walk (traverse
// of ProgramData ... Crypto/Keys, read of the key file, its contents a CNG key file).
int RunOpenCng(Context& ctx, const StoreArgs& args) {
  return WithStore(
      ctx, args,
      [&](ks::MachineRoot& machine, ks::KeyStore& /*store*/, const acl::Token& token) -> int {
        auto target = ks::ResolveCngKey(machine, args.name);
        if (!target) return Fail(ctx, target.error());
        const auto path = ks::WalkOpenPath(machine, std::move(*target), token);
        if (!path.ok()) return Fail(ctx, path.ToError());
        const auto& cng = *path.integrity->cng;
        if (ctx.out.json()) {
          ctx.out.Json({{"name", cng.name},
                        {"file", path.target.label},
                        {"identity", IdentityJson(token)},
                        {"format", "cng"},
                        {"provider", std::string(ks::kSoftwareKspName)},
                        {"keys", cng.DescribeKey()},
                        {"sddl", acl::FormatSddl(*path.FileDescriptor())}});
        } else {
          ctx.out.Line(fmt::format("opened CNG key '{}' as {}", cng.name, token.display_name()));
          ctx.out.Line(fmt::format("file:     {}", path.target.label));
          ctx.out.Line(fmt::format("provider: {}", ks::kSoftwareKspName));
          ctx.out.Line(fmt::format("keys:     {}", cng.DescribeKey()));
          ctx.out.Line(
              fmt::format("private key: {}", ks::CngProtectionName(cng.private_key_protection)));
        }
        return kExitOk;
      });
}

int RunOpen(Context& ctx, const StoreArgs& args) {
  if (args.provider == "cng") return RunOpenCng(ctx, args);
  return WithStore(
      ctx, args,
      [&](ks::MachineRoot& /*machine*/, ks::KeyStore& store, const acl::Token& token) -> int {
        auto opened = store.Open(args.name, token);
        if (!opened) return Fail(ctx, opened.error());
        std::vector<std::pair<std::string, std::string>> fingerprints;
        if (opened->exchange)
          fingerprints.emplace_back("exchange", opened->exchange->Fingerprint());
        if (opened->signature)
          fingerprints.emplace_back("signature", opened->signature->Fingerprint());
        if (ctx.out.json()) {
          nlohmann::json doc = {
              {"name", opened->file.name},
              {"file", opened->file_name},
              {"identity", IdentityJson(token)},
              {"format", std::string(ks::ContainerFormatName(opened->file.format))},
              {"keys", opened->file.DescribeKeys()},
              {"owner", opened->descriptor.owner ? opened->descriptor.owner->ToString() : ""},
              {"symmetric_key", opened->symmetric.has_value()},
              {"sddl", acl::FormatSddl(opened->descriptor)}};
          for (const auto& [slot, fp] : fingerprints) doc["fingerprints"][slot] = fp;
          ctx.out.Json(doc);
        } else {
          ctx.out.Line(
              fmt::format("opened container '{}' as {}", opened->file.name, token.display_name()));
          ctx.out.Line(fmt::format("file:   MachineKeys/{}", opened->file_name));
          ctx.out.Line(fmt::format("format: {}", ks::ContainerFormatName(opened->file.format)));
          ctx.out.Line(fmt::format("keys:   {}", opened->file.DescribeKeys()));
          for (const auto& [slot, fp] : fingerprints) {
            ctx.out.Line(fmt::format("{} public key SHA-256: {}", slot, fp));
          }
          if (opened->file.format == ks::ContainerFormat::kCapi) {
            ctx.out.Line("private keys: DPAPI blobs (decryptable only on their Windows machine)");
          }
        }
        return kExitOk;
      });
}

// DSS/MachineKeys, Crypto/Keys and Crypto/SystemKeys: each file with its provider and algorithm.
Result<nlohmann::json> ListOtherStores(Context& ctx, const ks::MachineRoot& root) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& info : ks::KeyDirectories()) {
    if (info.dir == ks::KeyDirectory::kRsaMachineKeys) continue;
    MKEYS_ASSIGN_OR_RETURN(const auto keys, ks::ListKeyDirectory(root, info.dir));
    for (const auto& k : keys) {
      if (ctx.out.json()) {
        items.push_back({{"file", k.label},
                         {"name", k.name},
                         {"format", k.format},
                         {"provider", k.provider},
                         {"keys", k.algorithm},
                         {"corrupt", k.corrupt},
                         {"name_hash_mismatch", k.name_hash_mismatch},
                         {"problem", k.problem}});
        continue;
      }
      ctx.out.Line(k.label);
      ctx.out.Line(fmt::format("  name:     {}", k.name.empty() ? "?" : k.name));
      ctx.out.Line(fmt::format("  owner:    {}", k.owner ? acl::DisplayName(*k.owner) : "?"));
      ctx.out.Line(fmt::format("  keys:     {} ({})", k.algorithm.empty() ? "?" : k.algorithm,
                               k.format.empty() ? "?" : k.format));
      ctx.out.Line(fmt::format("  provider: {}", k.provider));
      std::string flags = k.corrupt ? "corrupt" : "";
      if (k.name_hash_mismatch)
        flags += flags.empty() ? "name-hash-mismatch" : ",name-hash-mismatch";
      if (!flags.empty()) ctx.out.Line("  flags:    " + ctx.out.Paint(flags, Color::kYellow));
      if (!k.problem.empty()) ctx.out.Line("  problem:  " + k.problem);
    }
    if (!ctx.out.json() && !keys.empty()) {
      ctx.out.Note(fmt::format("{} key file(s) in {}", keys.size(), info.label));
    }
  }
  return items;
}

int RunList(Context& ctx, const StoreArgs& args) {
  auto machine = OpenRoot(args);
  if (!machine) return Fail(ctx, machine.error());
  const ks::MachineRoot& root = *machine;  // listing is read-only
  ks::RawDescriptorReader reader(root.machine_keys_dir(), root.security());
  const ks::KeyFileChecker checker(root);
  nlohmann::json items = nlohmann::json::array();
  std::size_t count = 0;
  auto listed = ks::ForEachKeyFile(root, [&](std::string_view file) {
    const auto summary = ks::InspectKeyFile(root, file, reader, checker);
    ++count;
    if (ctx.out.json()) {
      items.push_back(SummaryJson(summary));
      return true;
    }
    std::string flags;
    auto flag = [&](bool on, const char* text) {
      if (!on) return;
      if (!flags.empty()) flags += ",";
      flags += text;
    };
    flag(summary.name_hash_mismatch, "name-hash-mismatch");
    flag(summary.foreign_machine_guid, "foreign-machine-guid");
    flag(summary.not_a_container_name, "not-a-container-name");
    flag(summary.descriptor_unreadable, "unreadable-descriptor");
    flag(summary.corrupt, "corrupt");
    // Names from the disk (file and container): escaped, never painting the terminal.
    ctx.out.Line(EscapeUnsafe(summary.file_name));
    ctx.out.Line(
        fmt::format("  name:  {}", summary.name.empty() ? "?" : EscapeUnsafe(summary.name)));
    ctx.out.Line(
        fmt::format("  owner: {}", summary.owner ? acl::DisplayName(*summary.owner) : "?"));
    ctx.out.Line(fmt::format(
        "  keys:  {} ({})", summary.keys.empty() ? "?" : summary.keys,
        summary.cng ? std::string_view("cng") : ks::ContainerFormatName(summary.format)));
    if (!flags.empty()) ctx.out.Line("  flags: " + ctx.out.Paint(flags, Color::kYellow));
    if (!summary.problem.empty()) ctx.out.Line("  problem: " + EscapeUnsafe(summary.problem));
    return true;
  });
  if (!listed) return Fail(ctx, listed.error());
  auto others = ListOtherStores(ctx, root);
  if (!others) return Fail(ctx, others.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"root", root.root().string()},
                  {"machine_guid", root.machine_guid()},
                  {"containers", items},
                  {"other_stores", *others}});
  } else {
    ctx.out.Note(
        fmt::format("{} key file(s) in {}", count, root.Relative(root.machine_keys_dir())));
  }
  return kExitOk;
}

int RunDelete(Context& ctx, const StoreArgs& args) {
  return WithStore(
      ctx, args,
      [&](ks::MachineRoot& machine, ks::KeyStore& store, const acl::Token& token) -> int {
        const std::string file = ks::ContainerFileName(args.name, machine.machine_guid());
        if (auto deleted = store.Delete(args.name, token); !deleted)
          return Fail(ctx, deleted.error());
        if (ctx.out.json()) {
          ctx.out.Json({{"deleted", args.name}, {"file", file}});
        } else {
          ctx.out.Line(fmt::format("deleted container '{}' (MachineKeys/{})", args.name, file));
        }
        return kExitOk;
      });
}

int RunImport(Context& ctx, const StoreArgs& args) {
  return WithStore(
      ctx, args,
      [&](ks::MachineRoot& machine, ks::KeyStore& store, const acl::Token& token) -> int {
        auto grants = ParseGrants(args.grants);
        if (!grants) return Fail(ctx, grants.error());
        auto password = ReadPassword(args.password_file);
        if (!password) return Fail(ctx, password.error());
        ks::CreateOptions options;
        options.grants = std::move(grants).value();
        options.slot = args.slot == "signature" ? ks::KeySlot::kSignature : ks::KeySlot::kExchange;
        auto created = store.Import(args.name, token, args.file, *password, options);
        if (!created) return Fail(ctx, created.error());
        // The file's certificate goes into LocalMachine\My, its key-provider info naming the
        // container, as a PFX import on Windows keeps it (model machines: mkeys writes the hive).
        std::optional<std::string> thumbprint;
        if (machine.kind() == ks::RootKind::kModel) {
          auto added =
              ks::AddContainerCertificate(machine, args.file, *password, args.name, options.slot);
          if (!added) return Fail(ctx, added.error());
          thumbprint = std::move(*added);
        }
        if (ctx.out.json()) {
          auto doc = SummaryJson(*created);
          doc["certificate"] = thumbprint ? *thumbprint : "";
          ctx.out.Json(doc);
        } else {
          ctx.out.Line(fmt::format("imported {} as container '{}' (MachineKeys/{}): {}", args.file,
                                   args.name, created->file_name, created->keys));
          if (thumbprint) {
            ctx.out.Line(fmt::format("certificate {} added to LocalMachine\\My (mkeys cert list)",
                                     *thumbprint));
          } else if (machine.kind() == ks::RootKind::kModel) {
            ctx.out.Note(
                "the file holds no certificate for its key: none added to LocalMachine\\My");
          } else {
            ctx.out.Note(
                "not a model machine: the certificate was not written into its SOFTWARE hive");
          }
        }
        return kExitOk;
      });
}

int RunExport(Context& ctx, const StoreArgs& args) {
  return WithStore(
      ctx, args,
      [&](ks::MachineRoot& /*machine*/, ks::KeyStore& store, const acl::Token& token) -> int {
        auto password = ReadPassword(args.password_file);
        if (!password) return Fail(ctx, password.error());
        if (auto done = store.Export(args.name, token, args.out, *password); !done) {
          return Fail(ctx, done.error());
        }
        if (ctx.out.json()) {
          ctx.out.Json({{"exported", args.name}, {"out", args.out}});
        } else {
          ctx.out.Line(fmt::format("exported container '{}' to {}", args.name, args.out));
        }
        return kExitOk;
      });
}

void AddRoot(CLI::App* cmd, StoreArgs& args) {
  cmd->add_option("ROOT", args.root,
                  "Machine root (model machine, ntfs-3g mount or disk image file)")
      ->required();
  cmd->add_option("--machine-guid", args.machine_guid, "Override the root's MachineGuid");
  cmd->add_option("--partition", args.partition,
                  "Disk image root: the partition (1-based; 0 for a bare volume)");
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("store", "The MachineKeys store: names, containers, keys");
  group->require_subcommand(1);

  auto name_args = std::make_shared<StoreArgs>();
  auto* name = group->add_subcommand("name", "Print the file name Windows uses for a container");
  name->add_option("NAME", name_args->name, "Container name")->required();
  name->add_option("--root", name_args->root, "Take the MachineGuid from this root");
  name->add_option("--machine-guid", name_args->machine_guid, "The MachineGuid to use");
  ctx.Bind(name, [name_args](Context& c) { return RunName(c, *name_args); });

  auto create_args = std::make_shared<StoreArgs>();
  auto* create = group->add_subcommand(
      "create", "Create a container as IDENTITY, with the descriptor the CSP writes plus grants");
  AddRoot(create, *create_args);
  create->add_option("NAME", create_args->name, "Container name")->required();
  create->add_option("--as", create_args->identity, "Identity creating it")->required();
  create->add_option("--key", create_args->key, "rsa:2048 (default), rsa:3072 or ec:p256");
  create->add_option("--slot", create_args->slot, "exchange (default) or signature")
      ->check(CLI::IsMember({"exchange", "signature"}));
  create->add_option("--grant", create_args->grants,
                     "IDENTITY:RIGHTS in icacls notation (repeatable), e.g. 'NT AUTHORITY\\NETWORK "
                     "SERVICE:R'");
  ctx.Bind(create, [create_args](Context& c) { return RunCreate(c, *create_args); });

  auto open_args = std::make_shared<StoreArgs>();
  auto* open = group->add_subcommand(
      "open",
      "Open a container as IDENTITY (CryptAcquireContext): exit 1 with NTE_BAD_KEYSET "
      "and the reason when Windows would fail");
  AddRoot(open, *open_args);
  open->add_option("NAME", open_args->name, "Container name")->required();
  open->add_option("--as", open_args->identity, "Identity opening it")->required();
  open->add_option("--provider", open_args->provider,
                   "capi (default: CryptAcquireContext, MachineKeys) or cng (NCryptOpenKey, "
                   "Crypto/Keys)")
      ->check(CLI::IsMember({"capi", "cng"}));
  ctx.Bind(open, [open_args](Context& c) { return RunOpen(c, *open_args); });

  auto list_args = std::make_shared<StoreArgs>();
  auto* list = group->add_subcommand(
      "list",
      "List key files: name, owner, keys, and flags (name/hash mismatch, foreign "
      "MachineGuid, unreadable, corrupt)");
  AddRoot(list, *list_args);
  ctx.Bind(list, [list_args](Context& c) { return RunList(c, *list_args); });

  auto delete_args = std::make_shared<StoreArgs>();
  auto* del = group->add_subcommand("delete", "Delete a container as IDENTITY (needs DELETE)");
  AddRoot(del, *delete_args);
  del->add_option("NAME", delete_args->name, "Container name")->required();
  del->add_option("--as", delete_args->identity, "Identity deleting it")->required();
  ctx.Bind(del, [delete_args](Context& c) { return RunDelete(c, *delete_args); });

  auto import_args = std::make_shared<StoreArgs>();
  import_args->identity = "SYSTEM";
  auto* imp = group->add_subcommand("import", "Import the key of a .p12/.pem file as a container");
  AddRoot(imp, *import_args);
  imp->add_option("NAME", import_args->name, "Container name")->required();
  imp->add_option("FILE", import_args->file, "FILE.p12, .pfx or .pem")->required();
  imp->add_option("--as", import_args->identity, "Identity creating it (default SYSTEM)");
  imp->add_option("--slot", import_args->slot, "exchange (default) or signature")
      ->check(CLI::IsMember({"exchange", "signature"}));
  imp->add_option("--grant", import_args->grants, "IDENTITY:RIGHTS (repeatable)");
  imp->add_option("--password-file", import_args->password_file,
                  "File holding the file's password (never on the command line)");
  ctx.Bind(imp, [import_args](Context& c) { return RunImport(c, *import_args); });

  auto export_args = std::make_shared<StoreArgs>();
  auto* exp = group->add_subcommand(
      "export", "Export a container's key as IDENTITY (needs read access) to .p12/.pem");
  AddRoot(exp, *export_args);
  exp->add_option("NAME", export_args->name, "Container name")->required();
  exp->add_option("--as", export_args->identity, "Identity exporting it")->required();
  exp->add_option("--out", export_args->out, "FILE.p12 or FILE.pem (written mode 0600)")
      ->required();
  exp->add_option("--password-file", export_args->password_file,
                  "File holding the password to protect the output with");
  ctx.Bind(exp, [export_args](Context& c) { return RunExport(c, *export_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(20, Register);
}  // namespace mkeys::cli
