// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sid resolve NAME...`: what administrators type -> SID, full name and SDDL alias.
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/sid_names.hpp"

namespace mkeys::cli {
namespace {

struct ResolveArgs {
  std::vector<std::string> names;
  std::string domain_sid;
};

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
  std::vector<acl::SidName> resolved;
  for (const auto& name : args.names) {
    auto r = acl::ResolveName(name, domain);
    if (!r) {
      ctx.out.PrintError(std::move(r).error().On(name));
      return kExitInput;
    }
    resolved.push_back(std::move(*r));
  }
  if (ctx.out.json()) {
    nlohmann::json doc = nlohmann::json::array();
    for (std::size_t i = 0; i < resolved.size(); ++i) {
      const auto& r = resolved[i];
      doc.push_back(
          {{"input", args.names[i]},
           {"sid", r.sid.ToString()},
           {"name", r.FullName()},
           {"domain", r.domain},
           {"account", r.name},
           {"alias", r.alias.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.alias)}});
    }
    ctx.out.Json(doc);
  } else {
    for (const auto& r : resolved) {
      ctx.out.Line(r.sid.ToString() + "\t" + r.FullName() + "\t" +
                   (r.alias.empty() ? "-" : r.alias));
    }
  }
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("sid", "SIDs and account names");
  group->require_subcommand(1);
  auto args = std::make_shared<ResolveArgs>();
  auto* resolve = group->add_subcommand(
      "resolve",
      "Resolve names (NETWORK SERVICE, NS, S-1-5-20, NT SERVICE\\x, ...) to SIDs; "
      "prints SID<TAB>NAME<TAB>ALIAS");
  resolve->add_option("NAME", args->names, "Account names, aliases or S- strings")->required();
  resolve->add_option("--domain-sid", args->domain_sid,
                      "Domain SID for domain-relative names and aliases (DA, Domain Admins, ...)");
  ctx.Bind(resolve, [args](Context& c) { return RunResolve(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(50, Register);
}  // namespace mkeys::cli
