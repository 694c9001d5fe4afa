// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sid resolve NAME...`: what administrators type -> SID, full name and SDDL alias.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "output/identity_json.hpp"

namespace mkeys::cli {
namespace {

struct ResolveArgs {
  std::vector<std::string> names;
  std::string domain_sid;
  std::string root;  // --root: also the machine's local users and groups
};

// The machine's local account `name`, as a SidName ("BUILTIN\Users", "Preston").
std::optional<acl::SidName> LocalName(const keystore::MachineRoot* machine,
                                      const std::string& name) {
  if (machine == nullptr) return std::nullopt;
  auto local = keystore::FindLocalAccount(*machine->policy(), name);
  if (!local) return std::nullopt;
  acl::SidName out;
  out.sid = local->sid;
  const std::string full = keystore::MachineDisplayName(machine->policy(), local->sid);
  const auto slash = full.find('\\');
  out.domain = slash == std::string::npos ? "" : full.substr(0, slash);
  out.name = slash == std::string::npos ? full : full.substr(slash + 1);
  if (auto alias = acl::AliasForSid(local->sid)) out.alias = std::string(*alias);
  return out;
}

int RunResolve(Context& ctx, const ResolveArgs& args) {
  std::optional<acl::Sid> domain;
  if (!args.domain_sid.empty()) {
    auto sid = acl::Sid::Parse(args.domain_sid);
    if (!sid) {
      ctx.out.PrintError(
          Error(ErrorCode::kInvalidArgument, "--domain-sid: " + sid.error().ToString()));
      return kExitUsage;
    }
    domain = *sid;
  }
  std::optional<keystore::MachineRoot> machine;
  if (!args.root.empty()) {
    auto opened = keystore::MachineRoot::Open(args.root);
    if (!opened) {
      ctx.out.PrintError(opened.error());
      return kExitInput;
    }
    machine.emplace(std::move(*opened));
  }
  // Every name is answered: an unknown one is an error for that name only, and the exit code
  // says whether any was unknown.
  std::vector<Result<acl::SidName>> answers;
  bool any_unknown = false;
  for (const auto& name : args.names) {
    if (auto local = LocalName(machine ? &*machine : nullptr, name)) {
      answers.emplace_back(std::move(*local));
      continue;
    }
    auto r = acl::ResolveName(name, domain);
    if (!r) {
      any_unknown = true;
      answers.emplace_back(std::move(r).error().On(name));
      continue;
    }
    answers.emplace_back(std::move(*r));
  }
  if (ctx.out.json()) {
    nlohmann::json doc = nlohmann::json::array();
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (!answers[i]) {
        std::fprintf(stderr, "mkeys: %s\n", answers[i].error().ToString().c_str());
        doc.push_back({{"input", args.names[i]},
                       {"name", nullptr},
                       {"sid", nullptr},
                       {"error", Output::ErrorJson(answers[i].error())}});
        continue;
      }
      const auto& r = *answers[i];
      // The identity shape every command prints ({name, sid}), with what was asked and the parts.
      nlohmann::json item = IdentityJson(r.FullName(), r.sid);
      item["input"] = args.names[i];
      item["domain"] = r.domain;
      item["account"] = r.name;
      item["alias"] = r.alias.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.alias);
      doc.push_back(std::move(item));
    }
    ctx.out.Json(doc);
  } else {
    for (const auto& answer : answers) {
      if (!answer) {
        ctx.out.PrintError(answer.error());
        continue;
      }
      const auto& r = *answer;
      ctx.out.Line(r.sid.ToString() + "\t" + r.FullName() + "\t" +
                   (r.alias.empty() ? "-" : r.alias));
    }
  }
  return any_unknown ? kExitInput : kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("sid", "SIDs and account names");
  group->require_subcommand(1);
  auto args = std::make_shared<ResolveArgs>();
  auto* resolve = group->add_subcommand(
      "resolve",
      "Resolve names (NETWORK SERVICE, NS, S-1-5-20, NT SERVICE\\x, ...) to SIDs; "
      "prints SID<TAB>NAME<TAB>ALIAS for each name, an error for each unknown one (exit 3 if "
      "any was unknown)");
  resolve->add_option("NAME", args->names, "Account names, aliases or S- strings")->required();
  resolve->add_option("--domain-sid", args->domain_sid,
                      "Domain SID for domain-relative names and aliases (DA, Domain Admins, ...)");
  resolve->add_option("--root", args->root,
                      "Machine root: also resolve its local users and groups (from its SAM hive)");
  ctx.Bind(resolve, [args](Context& c) { return RunResolve(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(50, Register);
}  // namespace mkeys::cli
