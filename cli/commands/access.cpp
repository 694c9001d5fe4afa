// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys access check --sd SDDL (--as IDENTITY | --token FILE) [--want RIGHTS]
// [--privilege NAME]... [--domain-sid SID] [--root ROOT]`: the rights an identity's token is
// granted on a descriptor, and for
// --want the verdict with the reason for each right (which ACE, which privilege, or none).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "commands/token_arg.hpp"
#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "output/identity_json.hpp"

namespace mkeys::cli {
namespace {

struct CheckArgs {
  std::string sd;
  std::string identity;
  std::string token_file;  // --token: a JSON token file instead of --as
  std::string want;
  bool no_map_generic = false;
  std::vector<std::string> privileges;
  std::string domain_sid;
  std::string root;  // --root: the machine whose accounts, groups and rights build the token
};

std::string Hex(acl::AccessMask mask) {
  return fmt::format("0x{:x}", mask);
}

nlohmann::json ReasonJson(const acl::RightReason& reason) {
  nlohmann::json item = {{"right", acl::RightName(reason.right)},
                         {"bit", Hex(reason.right)},
                         {"kind", std::string(acl::ReasonKindName(reason.kind))},
                         {"text", acl::ReasonText(reason)}};
  if (reason.ace_index) {
    item["ace_index"] = *reason.ace_index;
    item["ace_sddl"] = reason.ace_sddl;
  }
  if (!reason.privilege.empty()) item["privilege"] = reason.privilege;
  return item;
}

// RIGHTS: icacls notation ("R", "RX", "M", "F", "RD,WDAC,WO", "(RD,WD)") or a hex mask.
Result<acl::AccessMask> ParseWant(const std::string& text) {
  auto mask = acl::ParseIcaclsRights(text);
  if (!mask) {
    return Error(
        ErrorCode::kInvalidArgument,
        "--want '" + text + "': " + mask.error().message() +
            (mask.error().position() ? fmt::format(" (at offset {})", *mask.error().position())
                                     : ""));
  }
  return *mask;
}

int RunCheck(Context& ctx, const CheckArgs& args) {
  if (!CheckAsOrToken(ctx, args.identity, args.token_file)) return kExitUsage;
  acl::SddlOptions sddl_options;
  std::optional<acl::Sid> domain;
  std::optional<keystore::MachineRoot> machine;
  if (!args.root.empty()) {
    auto opened = keystore::MachineRoot::Open(args.root);
    if (!opened) {
      ctx.out.PrintError(opened.error());
      return kExitInput;
    }
    machine.emplace(std::move(*opened));
    // SDDL's domain-relative aliases (LA, LG) name this machine's accounts.
    if (args.domain_sid.empty() && machine->policy()->sam) {
      sddl_options.domain_sid = machine->policy()->sam->account_domain;
    }
  }
  if (!args.domain_sid.empty()) {
    auto sid = acl::Sid::Parse(args.domain_sid);
    if (!sid) {
      ctx.out.PrintError(
          Error(ErrorCode::kInvalidArgument, "--domain-sid: " + sid.error().ToString()));
      return kExitUsage;
    }
    domain = *sid;
    sddl_options.domain_sid = *sid;
  }
  auto sd = acl::ParseSddl(args.sd, sddl_options);
  if (!sd) {
    ctx.out.PrintError(Error(sd.error().code(), "--sd: " + sd.error().ToString()));
    return kExitInput;
  }
  // A domain-relative name ("DOMAIN\x" or an alias such as DU) needs --domain-sid; resolve it
  // first so that the catalogue sees the SID.
  std::string identity = args.identity;
  std::optional<keystore::TokenFile> token_file;
  if (!args.token_file.empty()) {
    auto loaded = LoadTokenArg(args.token_file, machine ? machine->policy() : nullptr);
    if (!loaded) {
      ctx.out.PrintError(loaded.error());
      return kExitInput;
    }
    token_file = std::move(*loaded);
    identity = token_file->Keys().front();
  } else if (domain) {
    if (auto resolved = acl::ResolveName(args.identity, domain))
      identity = resolved->sid.ToString();
  }
  // Without a machine, a token file's privileges default to Windows' default assignment.
  auto token = machine      ? machine->TokenFor(identity)
               : token_file ? Result<acl::Token>(keystore::TokenFromFile(
                                  *token_file, nullptr, acl::DefaultPrivilegeAssignments()))
                            : acl::TokenFor(identity);
  if (!token) {
    ctx.out.PrintError(Error(ErrorCode::kNotFound, "--as: " + token.error().message()));
    return kExitInput;
  }
  for (const auto& name : args.privileges) {
    auto canonical = acl::CanonicalPrivilegeName(name);
    if (!canonical) {
      ctx.out.PrintError(Error(
          ErrorCode::kInvalidArgument,
          "--privilege '" + name + "': not a Windows privilege name (e.g. SeBackupPrivilege)"));
      return kExitUsage;
    }
    token->EnablePrivilege(*canonical);
  }

  // AccessCheck fails on a descriptor without owner or group (ERROR_INVALID_SECURITY_DESCR): an
  // error, not a "denied".
  if (!sd->owner || !sd->group) {
    ctx.out.PrintError(
        Error(ErrorCode::kInvalidArgument,
              fmt::format("--sd: invalid security descriptor: it has no {} "
                          "(AccessCheck fails with ERROR_INVALID_SECURITY_DESCR, {})",
                          !sd->owner ? "owner (O:)" : "group (G:)",
                          acl::win32_error::kInvalidSecurityDescr)));
    return kExitInput;
  }
  // What the token gets at most, then (for --want) the check of exactly those rights.
  const auto maximum = acl::CheckAccess(*sd, *token, acl::rights::kMaximumAllowed);
  std::optional<acl::AccessCheckResult> wanted;
  acl::AccessMask want_mask = 0;
  if (!args.want.empty()) {
    auto mask = ParseWant(args.want);
    if (!mask) {
      ctx.out.PrintError(mask.error());
      return kExitUsage;
    }
    want_mask = *mask;
    wanted = acl::CheckAccessWin32(*sd, *token, want_mask, !args.no_map_generic);
    if (wanted->error == acl::win32_error::kGenericNotMapped) {
      ctx.out.PrintError(Error(
          ErrorCode::kInvalidArgument,
          fmt::format("--want '{}' holds generic rights and --no-map-generic is given: AccessCheck "
                      "fails with ERROR_GENERIC_NOT_MAPPED ({})",
                      args.want, acl::win32_error::kGenericNotMapped)));
      return kExitInput;
    }
  }
  constexpr acl::AccessMask kGeneric = acl::rights::kGenericRead | acl::rights::kGenericWrite |
                                       acl::rights::kGenericExecute | acl::rights::kGenericAll;
  const bool mapped_generic = wanted && (want_mask & kGeneric) != 0;

  const std::string who =
      token->display_name().empty() ? token->user().ToString() : token->display_name();
  if (ctx.out.json()) {
    nlohmann::json doc = {
        {"identity", IdentityJson(*token)},
        {"granted",
         {{"mask", Hex(maximum.granted)},
          {"icacls", acl::FormatIcaclsRights(maximum.granted)},
          {"names", acl::RightNames(maximum.granted)}}},
    };
    nlohmann::json enabled = nlohmann::json::array();
    for (const auto& p : token->privileges()) {
      if (p.enabled) enabled.push_back(p.name);
    }
    doc["identity"]["enabled_privileges"] = enabled;
    if (wanted) {
      nlohmann::json reasons = nlohmann::json::array();
      for (const auto& reason : wanted->reasons) reasons.push_back(ReasonJson(reason));
      doc["want"] = {{"input", args.want},
                     {"mask", Hex(wanted->desired)},
                     {"names", acl::RightNames(wanted->desired)},
                     {"generic_mapped", mapped_generic}};
      doc["allowed"] = wanted->allowed;
      doc["missing"] = {{"mask", Hex(wanted->Missing())},
                        {"names", acl::RightNames(wanted->Missing())}};
      doc["reasons"] = reasons;
      doc["explanation"] = wanted->Explain(*token, *sd);
    }
    ctx.out.Json(doc);
  } else {
    ctx.out.Line("identity: " + who + " (" + token->user().ToString() + ")");
    std::string granted_line = "granted:  " + Hex(maximum.granted);
    if (maximum.granted != 0) {
      granted_line += " " + acl::FormatIcaclsRights(maximum.granted) + " =";
      for (const auto& name : acl::RightNames(maximum.granted)) granted_line += " " + name;
    }
    ctx.out.Line(granted_line);
    if (wanted) {
      ctx.out.Line("wanted:   " + Hex(wanted->desired) + " (" + args.want + ")");
      if (mapped_generic) {
        ctx.out.Line("note:     generic rights " + Hex(want_mask & kGeneric) +
                     " mapped to file rights, as the I/O manager maps them before AccessCheck "
                     "(--no-map-generic to check them unmapped)");
      }
      ctx.out.Line(std::string("verdict:  ") + (wanted->allowed
                                                    ? ctx.out.Paint("GRANTED", Color::kGreen)
                                                    : ctx.out.Paint("DENIED", Color::kRed)));
      ctx.out.Line(wanted->Explain(*token, *sd));
      for (const auto& reason : wanted->reasons) {
        ctx.out.Line(
            fmt::format("  {:<24} {}", acl::RightName(reason.right), acl::ReasonText(reason)));
      }
    }
  }
  if (wanted && !wanted->allowed) return kExitNegative;
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("access", "Access checks (MS-DTYP 2.5.3.2) with reasons");
  group->require_subcommand(1);
  auto args = std::make_shared<CheckArgs>();
  auto* check = group->add_subcommand(
      "check",
      "The rights IDENTITY's token is granted by a descriptor; with --want, the verdict and "
      "the reason for each right. Exit 0 granted, 1 denied, 3 bad SDDL or unknown identity.");
  check->add_option("--sd", args->sd, "The security descriptor, as SDDL")->required();
  check->add_option("--as", args->identity,
                    "Identity: SYSTEM, LOCAL SERVICE, NETWORK SERVICE, administrator, "
                    "administrator-filtered, user, NT SERVICE\\x, IIS APPPOOL\\x, or a name/SID");
  check->add_option("--token", args->token_file,
                    "JSON token file (user SID, groups, privileges) for an identity the machine "
                    "cannot know, e.g. a domain account; instead of --as (docs/identities.md)");
  check->add_option("--want", args->want,
                    "Rights to check: icacls notation (R, RX, M, F, RD,WDAC,WO) or a hex mask");
  check->add_flag("--no-map-generic", args->no_map_generic,
                  "Do not map generic rights in --want (AccessCheck without MapGenericMask: "
                  "ERROR_GENERIC_NOT_MAPPED)");
  check->add_option("--privilege", args->privileges,
                    "Enable this privilege in the token for the check (repeatable)");
  check->add_option("--domain-sid", args->domain_sid,
                    "Domain SID for domain-relative SDDL aliases and names");
  check->add_option("--root", args->root,
                    "Machine root whose local users, groups, user rights and services build the "
                    "token (service:NAME, HOST\\user)");
  ctx.Bind(check, [args](Context& c) { return RunCheck(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(60, Register);
}  // namespace mkeys::cli
