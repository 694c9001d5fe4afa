// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sddl icacls SDDL` (the DACL as icacls prints it) and `mkeys sddl inherit --parent SDDL
// --as IDENTITY [--directory] [--explicit SDDL|HEX] [--token FILE] [--privilege NAME]...
// [--auto-inherit] [--root ROOT]` (the descriptor Windows gives a new file or
// directory, MS-DTYP 2.5.3.4). Added to the "sddl" group that cli/commands/sddl.cpp registers.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/inheritance.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::cli {
namespace {

struct IcaclsArgs {
  std::string sddl;
  std::string domain_sid;
};

struct InheritArgs {
  std::string parent;
  std::string identity;
  bool directory = false;
  std::string explicit_sddl;
  std::string domain_sid;
  std::string token_file;
  std::vector<std::string> privileges;
  bool auto_inherit = false;
  std::string root;  // --root: the machine whose accounts, groups and rights build the token
};

Result<acl::SddlOptions> Options(const std::string& domain_sid) {
  acl::SddlOptions options;
  if (!domain_sid.empty()) {
    auto sid = acl::Sid::Parse(domain_sid);
    if (!sid) {
      return Error(ErrorCode::kInvalidArgument, "--domain-sid: " + sid.error().ToString());
    }
    options.domain_sid = *sid;
  }
  return options;
}

int RunIcacls(Context& ctx, const IcaclsArgs& args) {
  auto options = Options(args.domain_sid);
  if (!options) {
    ctx.out.PrintError(options.error());
    return kExitUsage;
  }
  auto sd = acl::ParseSddl(args.sddl, *options);
  if (!sd) {
    ctx.out.PrintError(sd.error());
    return kExitInput;
  }
  std::vector<std::string> lines;
  std::string note;
  if (!sd->HasDacl()) {
    note = "the descriptor has no DACL: everyone has full access";
  } else if (sd->HasNullDacl()) {
    note = "the DACL is NULL: everyone has full access";
  } else {
    lines = acl::FormatIcacls(*sd->dacl);
    if (lines.empty()) note = "the DACL is empty: nobody but the owner has any access";
  }
  if (ctx.out.json()) {
    nlohmann::json doc = {{"lines", lines}};
    if (!note.empty()) doc["note"] = note;
    ctx.out.Json(doc);
  } else {
    for (const auto& line : lines) ctx.out.Line(line);
    if (!note.empty()) ctx.out.Note(note);
  }
  return kExitOk;
}

// --explicit: SDDL, or the self-relative descriptor in hex (so that control bits SDDL cannot
// express, such as SE_DACL_DEFAULTED, can be given).
Result<acl::SecurityDescriptor> ParseExplicit(const std::string& text,
                                              const acl::SddlOptions& options) {
  const bool hex = text.size() >= 40 && text.size() % 2 == 0 &&
                   text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  if (!hex) return acl::ParseSddl(text, options);
  MKEYS_ASSIGN_OR_RETURN(const auto bytes, HexDecode(text));
  return acl::SecurityDescriptor::Decode(bytes);
}

// --token FILE: JSON {"owner": SID, "primary_group": SID, "default_dacl": "D:...",
// "privileges": ["SeRestorePrivilege", ...]} (docs/identities.md); every key optional.
Result<void> ApplyTokenFile(const std::string& path, acl::Token& token,
                            const acl::SddlOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const auto bytes, files::ReadFile(path));
  const auto doc = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!doc.is_object()) return Error(ErrorCode::kParse, "not a JSON object");
  auto sid_of = [&](const char* key) -> Result<std::optional<acl::Sid>> {
    if (!doc.contains(key)) return std::optional<acl::Sid>{};
    if (!doc[key].is_string()) return Error(ErrorCode::kParse, std::string(key) + ": not a string");
    auto name = acl::ResolveName(doc[key].get<std::string>(), options.domain_sid);
    if (!name) return Error(ErrorCode::kParse, std::string(key) + ": " + name.error().message());
    return std::optional<acl::Sid>(name->sid);
  };
  MKEYS_ASSIGN_OR_RETURN(const auto owner, sid_of("owner"));
  MKEYS_ASSIGN_OR_RETURN(const auto group, sid_of("primary_group"));
  if (owner) token.SetDefaultOwner(*owner);
  if (group) token.SetPrimaryGroup(*group);
  if (doc.contains("default_dacl")) {
    if (!doc["default_dacl"].is_string()) return Error(ErrorCode::kParse, "default_dacl: not SDDL");
    auto sd = acl::ParseSddl(doc["default_dacl"].get<std::string>(), options);
    if (!sd || !sd->dacl) {
      return Error(ErrorCode::kParse,
                   "default_dacl: " + (sd ? std::string("no D: part") : sd.error().ToString()));
    }
    token.SetDefaultDacl(*sd->dacl);
  }
  if (doc.contains("privileges")) {
    if (!doc["privileges"].is_array()) return Error(ErrorCode::kParse, "privileges: not a list");
    for (const auto& p : doc["privileges"]) {
      auto name = p.is_string() ? acl::CanonicalPrivilegeName(p.get<std::string>()) : std::nullopt;
      if (!name) return Error(ErrorCode::kParse, "privileges: " + p.dump() + " is no privilege");
      token.EnablePrivilege(*name);
    }
  }
  return Ok();
}

int RunInherit(Context& ctx, const InheritArgs& args) {
  auto options = Options(args.domain_sid);
  if (!options) {
    ctx.out.PrintError(options.error());
    return kExitUsage;
  }
  std::optional<keystore::MachineRoot> machine;
  if (!args.root.empty()) {
    auto opened = keystore::MachineRoot::Open(args.root);
    if (!opened) {
      ctx.out.PrintError(opened.error());
      return kExitInput;
    }
    machine.emplace(std::move(*opened));
    // SDDL's domain-relative aliases (LA, LG) name this machine's accounts.
    if (!options->domain_sid && machine->policy()->sam) {
      options->domain_sid = machine->policy()->sam->account_domain;
    }
  }
  auto parent = acl::ParseSddl(args.parent, *options);
  if (!parent) {
    ctx.out.PrintError(Error(parent.error().code(), "--parent: " + parent.error().ToString()));
    return kExitInput;
  }
  std::optional<acl::SecurityDescriptor> explicit_sd;
  if (!args.explicit_sddl.empty()) {
    auto parsed = ParseExplicit(args.explicit_sddl, *options);
    if (!parsed) {
      ctx.out.PrintError(Error(parsed.error().code(), "--explicit: " + parsed.error().ToString()));
      return kExitInput;
    }
    explicit_sd = std::move(*parsed);
  }
  auto token = machine ? machine->TokenFor(args.identity) : acl::TokenFor(args.identity);
  if (!token) {
    ctx.out.PrintError(Error(ErrorCode::kNotFound, "--as: " + token.error().message()));
    return kExitInput;
  }
  if (!args.token_file.empty()) {
    if (auto applied = ApplyTokenFile(args.token_file, *token, *options); !applied) {
      ctx.out.PrintError(Error(applied.error().code(),
                               "--token " + args.token_file + ": " + applied.error().ToString()));
      return kExitInput;
    }
  }
  for (const auto& name : args.privileges) {
    auto canonical = acl::CanonicalPrivilegeName(name);
    if (!canonical) {
      ctx.out.PrintError(Error(ErrorCode::kInvalidArgument,
                               "--privilege '" + name + "': not a Windows privilege name"));
      return kExitUsage;
    }
    token->EnablePrivilege(*canonical);
  }
  acl::CreateOptions create;
  create.is_directory = args.directory;
  create.explicit_sd = explicit_sd ? &*explicit_sd : nullptr;
  if (args.auto_inherit)
    create.auto_inherit_flags = acl::auto_inherit::kDacl | acl::auto_inherit::kSacl;
  const auto sd = acl::InheritSecurityDescriptor(&*parent, *token, create);
  const std::string sddl = acl::FormatSddl(sd, *options);
  if (ctx.out.json()) {
    nlohmann::json doc = {{"sddl", sddl}, {"directory", args.directory}};
    if (sd.dacl) doc["icacls"] = acl::FormatIcacls(*sd.dacl);
    ctx.out.Json(doc);
  } else {
    ctx.out.Line(sddl);
  }
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  CLI::App* group = nullptr;
  try {
    group = app.get_subcommand("sddl");
  } catch (const CLI::OptionNotFound&) {
    group = app.add_subcommand("sddl", "SDDL and security descriptors");
    group->require_subcommand(1);
  }

  auto icacls_args = std::make_shared<IcaclsArgs>();
  auto* icacls = group->add_subcommand("icacls", "Print the DACL of SDDL as icacls lists it");
  icacls->add_option("SDDL", icacls_args->sddl, "The security descriptor")->required();
  icacls->add_option("--domain-sid", icacls_args->domain_sid,
                     "Domain SID for domain-relative aliases");
  ctx.Bind(icacls, [icacls_args](Context& c) { return RunIcacls(c, *icacls_args); });

  auto inherit_args = std::make_shared<InheritArgs>();
  auto* inherit = group->add_subcommand(
      "inherit",
      "The descriptor (SDDL) Windows gives a new file or directory created in a "
      "parent with this descriptor by IDENTITY (MS-DTYP 2.5.3.4)");
  inherit->add_option("--parent", inherit_args->parent, "The parent directory's SDDL")->required();
  inherit->add_option("--as", inherit_args->identity, "The creator's identity")->required();
  inherit->add_flag("--directory", inherit_args->directory,
                    "The new object is a directory (default: a file)");
  inherit->add_option("--explicit", inherit_args->explicit_sddl,
                      "The descriptor the creator passes (CreateFile's security attributes): "
                      "SDDL, or the self-relative bytes in hex");
  inherit->add_option("--token", inherit_args->token_file,
                      "JSON file overriding the creator token's owner, primary_group, "
                      "default_dacl (SDDL) and privileges (docs/identities.md)");
  inherit->add_option("--privilege", inherit_args->privileges,
                      "Enable this privilege in the creator's token (repeatable)");
  inherit->add_flag("--auto-inherit", inherit_args->auto_inherit,
                    "Compute as CreatePrivateObjectSecurityEx with SEF_DACL_AUTO_INHERIT | "
                    "SEF_SACL_AUTO_INHERIT: merge inheritable ACEs into an explicit DACL "
                    "(default: what a file-system create does, MS-DTYP 2.5.3.4)");
  inherit->add_option("--domain-sid", inherit_args->domain_sid,
                      "Domain SID for domain-relative aliases");
  inherit->add_option("--root", inherit_args->root,
                      "Machine root whose local users, groups, user rights and services build "
                      "the creator's token (HOST\\user, service:NAME)");
  ctx.Bind(inherit, [inherit_args](Context& c) { return RunInherit(c, *inherit_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(41, Register);
}  // namespace mkeys::cli
