// SPDX-License-Identifier: GPL-3.0-or-later
// Changing a model machine's policy in its hives, so that nobody edits files by hand:
//   mkeys machine rights ROOT --add|--remove RIGHT --to|--from PRINCIPAL
//   mkeys machine user add ROOT NAME [--rid N] [--full-name TEXT]
//   mkeys machine group add ROOT NAME [--rid N]
//   mkeys machine group add-member ROOT GROUP MEMBER
//   mkeys machine service add ROOT NAME [--logon ACCOUNT] [--sid-type T] [--required-privileges
//   P...] mkeys machine migrate ROOT
// docs/machine-policy.md describes the hives these write.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "output/identity_json.hpp"

namespace mkeys::cli {
namespace {

namespace ks = keystore;
namespace fs = std::filesystem;

int Fail(Context& ctx, const Error& error) {
  ctx.out.PrintError(error);
  return error.ToExitCode();
}

// The model machine at `root` and the file of `hive`: images are never written (their hives
// belong to Windows), and roots created before the hives existed need `machine migrate`.
Result<std::pair<ks::MachineRoot, fs::path>> OpenModelHive(const std::string& root,
                                                           ks::HiveKind hive) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, ks::MachineRoot::Open(root));
  if (machine.kind() != ks::RootKind::kModel) {
    return Error(ErrorCode::kUnsupported,
                 "this is a Windows volume: mkeys changes the policy of model machines only "
                 "(change the image's policy on Windows, or work on a copy of its hives)")
        .On(root);
  }
  auto file = ks::FindHiveFile(machine.root(), hive);
  if (!file) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("this model machine has no {} hive (created before mkeys wrote "
                             "hives): run 'mkeys machine migrate {}' first",
                             ks::HiveName(hive), root))
        .On(root);
  }
  return std::make_pair(std::move(machine), *file);
}

void Done(Context& ctx, bool changed, const std::string& what, nlohmann::json doc) {
  doc["changed"] = changed;
  if (ctx.out.json()) {
    ctx.out.Json(doc);
  } else {
    ctx.out.Line(changed ? what : what + " (no change: already so)");
  }
}

// ---- rights ---------------------------------------------------------------------------------

struct RightsArgs {
  std::string root, add, remove, to, from;
};

int RunRights(Context& ctx, const RightsArgs& a) {
  const bool grant = !a.add.empty();
  if (grant == !a.remove.empty() || (grant ? a.to.empty() : a.from.empty()) ||
      (grant ? !a.from.empty() : !a.to.empty())) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "give either --add RIGHT --to PRINCIPAL or --remove RIGHT --from "
                           "PRINCIPAL"));
  }
  auto opened = OpenModelHive(a.root, ks::HiveKind::kSecurity);
  if (!opened) return Fail(ctx, opened.error());
  auto& [machine, hive] = *opened;
  const std::string& who = grant ? a.to : a.from;
  auto sid = ks::ResolvePrincipal(machine.policy(), who);
  if (!sid) return Fail(ctx, sid.error());  // an unknown identity: exit 3
  const std::string& right = grant ? a.add : a.remove;
  auto changed = grant ? ks::GrantRight(hive, *sid, right) : ks::RevokeRight(hive, *sid, right);
  if (!changed) return Fail(ctx, changed.error());
  const std::string name = ks::MachineDisplayName(machine.policy(), *sid);
  Done(
      ctx, *changed,
      fmt::format("{} {} {} {}", grant ? "granted" : "removed", right, grant ? "to" : "from", name),
      {{"right", right},
       {"action", grant ? "add" : "remove"},
       {"sid", sid->ToString()},
       {"name", name}});
  return kExitOk;
}

// ---- users and groups -----------------------------------------------------------------------

struct AccountArgs {
  std::string root, name, member, full_name;
  std::uint32_t rid = 0;
};

// The next free RID of the account domain (users and local groups share the pool), from 1000.
std::uint32_t NextRid(const ks::MachinePolicy& policy) {
  std::uint32_t next = 1000;
  if (!policy.sam) return next;
  for (const auto& u : policy.sam->users) next = std::max(next, u.rid + 1);
  for (const auto& g : policy.sam->aliases) {
    if (!g.builtin) next = std::max(next, g.rid + 1);
  }
  return next;
}

int RunUserAdd(Context& ctx, const AccountArgs& a) {
  auto opened = OpenModelHive(a.root, ks::HiveKind::kSam);
  if (!opened) return Fail(ctx, opened.error());
  auto& [machine, hive] = *opened;
  const std::uint32_t rid = a.rid != 0 ? a.rid : NextRid(*machine.policy());
  auto sid = ks::AddLocalUser(hive, rid, a.name, a.full_name);
  if (!sid) return Fail(ctx, sid.error());
  Done(ctx, true, fmt::format("added local user {} ({})", a.name, sid->ToString()),
       {{"name", a.name}, {"sid", sid->ToString()}, {"rid", rid}});
  return kExitOk;
}

int RunGroupAdd(Context& ctx, const AccountArgs& a) {
  auto opened = OpenModelHive(a.root, ks::HiveKind::kSam);
  if (!opened) return Fail(ctx, opened.error());
  auto& [machine, hive] = *opened;
  const std::uint32_t rid = a.rid != 0 ? a.rid : NextRid(*machine.policy());
  auto sid = ks::AddAlias(hive, false, rid, a.name, a.full_name);
  if (!sid) return Fail(ctx, sid.error());
  Done(ctx, true, fmt::format("added local group {} ({})", a.name, sid->ToString()),
       {{"name", a.name}, {"sid", sid->ToString()}, {"rid", rid}});
  return kExitOk;
}

int RunGroupAddMember(Context& ctx, const AccountArgs& a) {
  auto opened = OpenModelHive(a.root, ks::HiveKind::kSam);
  if (!opened) return Fail(ctx, opened.error());
  auto& [machine, hive] = *opened;
  const auto group = ks::FindLocalAccount(*machine.policy(), a.name);
  if (!group || group->is_user) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           fmt::format("'{}' is no local group of this machine", a.name)));
  }
  auto member = ks::ResolvePrincipal(machine.policy(), a.member);
  if (!member) return Fail(ctx, member.error());  // an unknown identity: exit 3
  auto changed = ks::AddAliasMember(hive, group->sid, *member);
  if (!changed) return Fail(ctx, changed.error());
  const std::string member_name = ks::MachineDisplayName(machine.policy(), *member);
  Done(ctx, *changed, fmt::format("added {} to {}", member_name, group->name),
       {{"group", group->name},
        {"group_sid", group->sid.ToString()},
        {"member", member_name},
        {"member_sid", member->ToString()}});
  return kExitOk;
}

// ---- services -------------------------------------------------------------------------------

struct ServiceArgs {
  std::string root, name, logon = "LocalSystem", sid_type = "none";
  std::vector<std::string> required_privileges;
  bool has_required = false;
};

int RunServiceAdd(Context& ctx, const ServiceArgs& a) {
  ks::ServiceSpec spec;
  spec.name = a.name;
  spec.object_name = a.logon;
  if (a.sid_type == "none") {
    spec.sid_type = 0;
  } else if (a.sid_type == "unrestricted") {
    spec.sid_type = 1;
  } else if (a.sid_type == "restricted") {
    spec.sid_type = 3;
  } else {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "--sid-type: one of none, unrestricted, restricted"));
  }
  if (a.has_required) spec.required_privileges = a.required_privileges;
  auto opened = OpenModelHive(a.root, ks::HiveKind::kSystem);
  if (!opened) return Fail(ctx, opened.error());
  auto& [machine, hive] = *opened;
  // The logon account must be one the machine knows, else no token can be built for it.
  ks::ServiceConfig probe;
  probe.name = a.name;
  probe.object_name = a.logon;
  auto logon =
      ks::ServiceLogonSid(probe, machine.policy()->sam ? &*machine.policy()->sam : nullptr);
  if (!logon) return Fail(ctx, logon.error());  // an unknown identity: exit 3
  auto added = ks::AddService(hive, spec);
  if (!added) return Fail(ctx, added.error());
  Done(ctx, true,
       fmt::format("added service {} logging on as {}", a.name,
                   ks::MachineDisplayName(machine.policy(), *logon)),
       {{"name", a.name},
        {"logon", a.logon},
        {"logon_sid", logon->ToString()},
        {"sid_type", spec.sid_type}});
  return kExitOk;
}

// ---- token ----------------------------------------------------------------------------------

struct TokenArgs {
  std::string root, identity;
};

// `whoami /all` offline: the token mkeys builds for an identity on this machine.
int RunToken(Context& ctx, const TokenArgs& a) {
  auto machine = ks::MachineRoot::Open(a.root);
  if (!machine) return Fail(ctx, machine.error());
  auto token = machine->TokenFor(a.identity);
  // An unknown identity is bad input (exit 3), as in every command.
  if (!token) return Fail(ctx, Error(ErrorCode::kNotFound, token.error().message()).On("--as"));
  const ks::MachinePolicy* policy = machine->policy();
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : token->groups()) {
    groups.push_back({{"sid", g.sid.ToString()},
                      {"name", ks::MachineDisplayName(policy, g.sid)},
                      {"deny_only", g.deny_only}});
  }
  nlohmann::json privileges = nlohmann::json::array();
  for (const auto& p : token->privileges()) {
    privileges.push_back({{"name", p.name}, {"enabled", p.enabled}});
  }
  nlohmann::json doc = {{"identity", IdentityJson(*token)},
                        {"user", IdentityJson(token->user(), policy)},
                        {"groups", groups},
                        {"privileges", privileges},
                        {"privileges_source", machine->facts().privileges_source}};
  if (ctx.out.json()) {
    ctx.out.Json(doc);
    return kExitOk;
  }
  ctx.out.Line(fmt::format("user: {} ({})", doc["user"]["name"].get<std::string>(),
                           token->user().ToString()));
  ctx.out.Line("groups:");
  for (const auto& g : groups) {
    ctx.out.Line(fmt::format("  {} ({}){}", g["name"].get<std::string>(),
                             g["sid"].get<std::string>(),
                             g["deny_only"].get<bool>() ? " deny-only" : ""));
  }
  ctx.out.Line(fmt::format("privileges (from {}):", machine->facts().privileges_source));
  for (const auto& p : token->privileges()) {
    ctx.out.Line(fmt::format("  {} {}", p.name, p.enabled ? "enabled" : "disabled"));
  }
  return kExitOk;
}

// ---- migrate ----------------------------------------------------------------------------------

int RunMigrate(Context& ctx, const std::string& root) {
  auto machine = ks::MachineRoot::Open(root);
  if (!machine) return Fail(ctx, machine.error());
  if (machine->kind() != ks::RootKind::kModel) {
    return Fail(ctx, Error(ErrorCode::kUnsupported, "a Windows volume has its own hives").On(root));
  }
  if (machine->policy()->missing.size() < 4) {
    Done(ctx, false, "this model machine already has its hives", {{"root", root}});
    return kExitOk;
  }
  auto written =
      ks::WriteModelPolicy(machine->root(), machine->machine_guid(), machine->privileges());
  if (!written) return Fail(ctx, written.error());
  Done(ctx, true,
       fmt::format("wrote the hives under {}/{}; the user rights ({}) are now in SECURITY", root,
                   ks::HiveRelativePath(ks::HiveKind::kSam).parent_path().generic_string(),
                   machine->facts().privileges_source),
       {{"root", root}});
  return kExitOk;
}

// ---- registration -----------------------------------------------------------------------------

void RegisterRights(CLI::App& machine, Context& ctx) {
  auto args = std::make_shared<RightsArgs>();
  auto* cmd = machine.add_subcommand(
      "rights", "Grant or remove a privilege or logon right in a model machine's SECURITY hive");
  cmd->add_option("ROOT", args->root, "Model machine root")->required();
  cmd->add_option("--add", args->add, "Right to grant (SeChangeNotifyPrivilege, ...)");
  cmd->add_option("--remove", args->remove, "Right to remove");
  cmd->add_option("--to", args->to,
                  "Principal to grant to (Everyone, NETWORK SERVICE, a local name)");
  cmd->add_option("--from", args->from, "Principal to remove from");
  ctx.Bind(cmd, [args](Context& c) { return RunRights(c, *args); });
}

void RegisterAccounts(CLI::App& machine, Context& ctx) {
  auto* user = machine.add_subcommand("user", "Local users of a model machine (SAM hive)");
  user->require_subcommand(1);
  auto user_args = std::make_shared<AccountArgs>();
  auto* user_add = user->add_subcommand("add", "Add a local user");
  user_add->add_option("ROOT", user_args->root, "Model machine root")->required();
  user_add->add_option("NAME", user_args->name, "User name")->required();
  user_add->add_option("--rid", user_args->rid, "RID (default: the next free from 1000)");
  user_add->add_option("--full-name", user_args->full_name, "Full name");
  ctx.Bind(user_add, [user_args](Context& c) { return RunUserAdd(c, *user_args); });

  auto* group = machine.add_subcommand("group", "Local groups of a model machine (SAM hive)");
  group->require_subcommand(1);
  auto group_args = std::make_shared<AccountArgs>();
  auto* group_add = group->add_subcommand("add", "Add a local group");
  group_add->add_option("ROOT", group_args->root, "Model machine root")->required();
  group_add->add_option("NAME", group_args->name, "Group name")->required();
  group_add->add_option("--rid", group_args->rid, "RID (default: the next free from 1000)");
  group_add->add_option("--comment", group_args->full_name, "Description");
  ctx.Bind(group_add, [group_args](Context& c) { return RunGroupAdd(c, *group_args); });
  auto member_args = std::make_shared<AccountArgs>();
  auto* add_member = group->add_subcommand("add-member", "Add a member to a local group");
  add_member->add_option("ROOT", member_args->root, "Model machine root")->required();
  add_member->add_option("GROUP", member_args->name, "Local group (Users, IIS_IUSRS, ...)")
      ->required();
  add_member->add_option("MEMBER", member_args->member, "Member (local user, well-known name)")
      ->required();
  ctx.Bind(add_member, [member_args](Context& c) { return RunGroupAddMember(c, *member_args); });
}

void RegisterService(CLI::App& machine, Context& ctx) {
  auto* service = machine.add_subcommand("service", "Services of a model machine (SYSTEM hive)");
  service->require_subcommand(1);
  auto args = std::make_shared<ServiceArgs>();
  auto* add = service->add_subcommand("add", "Add a service and how it logs on");
  add->add_option("ROOT", args->root, "Model machine root")->required();
  add->add_option("NAME", args->name, "Service name")->required();
  add->add_option("--logon", args->logon,
                  "Logon account (LocalSystem, NT AUTHORITY\\NetworkService, NT AUTHORITY\\"
                  "LocalService, .\\user); default LocalSystem");
  add->add_option("--sid-type", args->sid_type, "Service SID type: none, unrestricted, restricted");
  auto* req = add->add_option("--required-privileges", args->required_privileges,
                              "Privileges the service keeps (RequiredPrivileges)");
  ctx.Bind(add, [args, req](Context& c) {
    args->has_required = req->count() > 0;
    return RunServiceAdd(c, *args);
  });

  auto root = std::make_shared<std::string>();
  auto* migrate = machine.add_subcommand(
      "migrate",
      "Give a model machine made before mkeys wrote hives its hives (user rights from "
      "the facts file)");
  migrate->add_option("ROOT", *root, "Model machine root")->required();
  ctx.Bind(migrate, [root](Context& c) { return RunMigrate(c, *root); });
}

void RegisterToken(CLI::App& machine, Context& ctx) {
  auto args = std::make_shared<TokenArgs>();
  auto* cmd = machine.add_subcommand(
      "token", "Print the token mkeys builds for an identity on this machine (whoami /all)");
  cmd->add_option("ROOT", args->root, "Machine root")->required();
  cmd->add_option("--as", args->identity,
                  "Identity: NETWORK SERVICE, service:NAME, HOST\\user, a local user, ...")
      ->required();
  ctx.Bind(cmd, [args](Context& c) { return RunToken(c, *args); });
}

void Register(CLI::App& app, Context& ctx) {
  CLI::App* machine = app.get_subcommand("machine");
  RegisterToken(*machine, ctx);
  RegisterRights(*machine, ctx);
  RegisterAccounts(*machine, ctx);
  RegisterService(*machine, ctx);
}

}  // namespace
MKEYS_REGISTER_COMMANDS(11, Register);
}  // namespace mkeys::cli
