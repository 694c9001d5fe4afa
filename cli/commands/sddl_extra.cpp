// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sddl icacls SDDL` (the DACL as icacls prints it) and `mkeys sddl inherit --parent SDDL
// --as IDENTITY [--directory] [--explicit SDDL]` (the descriptor Windows gives a new file or
// directory, MS-DTYP 2.5.3.4). Added to the "sddl" group that cli/commands/sddl.cpp registers.
#include <memory>
#include <string>

#include "app.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/inheritance.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/token.hpp"

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

int RunInherit(Context& ctx, const InheritArgs& args) {
  auto options = Options(args.domain_sid);
  if (!options) {
    ctx.out.PrintError(options.error());
    return kExitUsage;
  }
  auto parent = acl::ParseSddl(args.parent, *options);
  if (!parent) {
    ctx.out.PrintError(Error(parent.error().code(), "--parent: " + parent.error().ToString()));
    return kExitInput;
  }
  std::optional<acl::SecurityDescriptor> explicit_sd;
  if (!args.explicit_sddl.empty()) {
    auto parsed = acl::ParseSddl(args.explicit_sddl, *options);
    if (!parsed) {
      ctx.out.PrintError(Error(parsed.error().code(), "--explicit: " + parsed.error().ToString()));
      return kExitInput;
    }
    explicit_sd = std::move(*parsed);
  }
  auto token = acl::TokenFor(args.identity);
  if (!token) {
    ctx.out.PrintError(Error(ErrorCode::kNotFound, "--as: " + token.error().message()));
    return kExitInput;
  }
  acl::CreateOptions create;
  create.is_directory = args.directory;
  create.explicit_sd = explicit_sd ? &*explicit_sd : nullptr;
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
                      "The descriptor the creator passes (CreateFile's security attributes)");
  inherit->add_option("--domain-sid", inherit_args->domain_sid,
                      "Domain SID for domain-relative aliases");
  ctx.Bind(inherit, [inherit_args](Context& c) { return RunInherit(c, *inherit_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(41, Register);
}  // namespace mkeys::cli
