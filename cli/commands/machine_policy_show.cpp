// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys machine show`: the machine's policy facts with their provenance.
#include "machine_policy_show.hpp"

#include <fmt/format.h>

#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_policy.hpp"

namespace mkeys::cli {
namespace {

namespace ks = keystore;

constexpr ks::HiveKind kHives[] = {ks::HiveKind::kSam, ks::HiveKind::kSecurity,
                                   ks::HiveKind::kSoftware, ks::HiveKind::kSystem};

// What falls back to a default when a hive is missing.
std::string_view DefaultedFacts(ks::HiveKind hive) {
  switch (hive) {
    case ks::HiveKind::kSam:
      return "local users and groups (none known; catalogue identities only)";
    case ks::HiveKind::kSecurity:
      return "user rights (mkeys default: Windows Server's default assignment)";
    case ks::HiveKind::kSystem:
      return "services (service:NAME identities unavailable)";
    case ks::HiveKind::kSoftware:
      return "MachineGuid and profiles";
  }
  return "";
}

nlohmann::json HivesJson(const ks::MachineRoot& machine, nlohmann::json& warnings) {
  const ks::MachinePolicy& policy = *machine.policy();
  nlohmann::json hives = nlohmann::json::array();
  for (ks::HiveKind hive : kHives) {
    const bool missing =
        std::find(policy.missing.begin(), policy.missing.end(), hive) != policy.missing.end();
    hives.push_back({{"hive", std::string(ks::HiveName(hive))},
                     {"path", ks::HiveRelativePath(hive).generic_string()},
                     {"present", !missing}});
    if (missing && machine.kind() == ks::RootKind::kNtfs3g) {
      warnings.push_back(
          fmt::format("this Windows volume has no {} hive ({}): {}", ks::HiveName(hive),
                      ks::HiveRelativePath(hive).generic_string(), DefaultedFacts(hive)));
    }
  }
  for (const auto& w : policy.warnings) {
    warnings.push_back(fmt::format("{} hive: {}", ks::HiveName(w.hive), w.message));
  }
  return hives;
}

nlohmann::json AccountsJson(const ks::MachinePolicy& policy, nlohmann::json& groups) {
  nlohmann::json users = nlohmann::json::array();
  groups = nlohmann::json::array();
  if (!policy.sam) return users;
  for (const auto& u : policy.sam->users) {
    users.push_back({{"name", u.name}, {"sid", u.sid.ToString()}, {"source", u.source.ToString()}});
  }
  for (const auto& a : policy.sam->aliases) {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& m : a.members) {
      members.push_back({{"sid", m.ToString()}, {"name", ks::MachineDisplayName(&policy, m)}});
    }
    groups.push_back({{"name", ks::MachineDisplayName(&policy, a.sid)},
                      {"sid", a.sid.ToString()},
                      {"members", members},
                      {"source", a.source.ToString()}});
  }
  return users;
}

nlohmann::json ServicesJson(const ks::MachinePolicy& policy) {
  nlohmann::json services = nlohmann::json::array();
  if (!policy.system) return services;
  for (const auto& s : policy.system->services) {
    services.push_back(
        {{"name", s.name},
         {"logon", s.object_name},
         {"sid_type", s.sid_type ? nlohmann::json(*s.sid_type) : nullptr},
         {"required_privileges",
          s.has_required_privileges ? nlohmann::json(s.required_privileges) : nullptr},
         {"source", s.source.ToString()}});
  }
  return services;
}

// Where each holder's privileges came from (SECURITY Policy\Accounts\<SID>\Privilgs).
nlohmann::json PrivilegeSources(const ks::MachineRoot& machine) {
  nlohmann::json out = nlohmann::json::object();
  const ks::MachinePolicy& policy = *machine.policy();
  if (!policy.security) return out;
  for (const auto& account : policy.security->accounts) {
    if (account.privileges_source) {
      out[account.sid.ToString()] = account.privileges_source->ToString();
    }
  }
  return out;
}

}  // namespace

nlohmann::json PolicyJson(const ks::MachineRoot& machine) {
  const ks::MachinePolicy& policy = *machine.policy();
  nlohmann::json warnings = nlohmann::json::array();
  nlohmann::json groups;
  nlohmann::json doc;
  doc["hives"] = HivesJson(machine, warnings);
  doc["privileges_source"] = machine.facts().privileges_source;
  doc["privilege_holder_sources"] = PrivilegeSources(machine);
  doc["account_domain"] =
      policy.sam ? nlohmann::json(policy.sam->account_domain.ToString()) : nlohmann::json(nullptr);
  doc["users"] = AccountsJson(policy, groups);
  doc["groups"] = groups;
  doc["services"] = ServicesJson(policy);
  doc["services_source"] =
      policy.system ? policy.system->current_source.ToString() : std::string("mkeys default");
  doc["warnings"] = warnings;
  return doc;
}

void PrintPolicy(Context& ctx, const nlohmann::json& doc) {
  ctx.out.Line("hives:");
  for (const auto& h : doc["hives"]) {
    ctx.out.Line(fmt::format("  {:<9} {} ({})", h["hive"].get<std::string>(),
                             h["path"].get<std::string>(),
                             h["present"].get<bool>() ? "read" : "absent"));
  }
  if (!doc["account_domain"].is_null()) {
    ctx.out.Line(fmt::format("account domain: {}", doc["account_domain"].get<std::string>()));
  }
  ctx.out.Line(fmt::format("local users: {}", doc["users"].empty() ? "none known" : ""));
  for (const auto& u : doc["users"]) {
    ctx.out.Line(fmt::format("  {} {} (from {})", u["name"].get<std::string>(),
                             u["sid"].get<std::string>(), u["source"].get<std::string>()));
  }
  ctx.out.Line(fmt::format("local groups: {}", doc["groups"].empty() ? "none known" : ""));
  for (const auto& g : doc["groups"]) {
    std::string members;
    for (const auto& m : g["members"]) {
      members += (members.empty() ? "" : ", ") + m["name"].get<std::string>();
    }
    ctx.out.Line(fmt::format("  {} {}: {} (from {})", g["name"].get<std::string>(),
                             g["sid"].get<std::string>(), members.empty() ? "-" : members,
                             g["source"].get<std::string>()));
  }
  ctx.out.Line(fmt::format("services: {} (from {})", doc["services"].size(),
                           doc["services_source"].get<std::string>()));
  for (const auto& w : doc["warnings"]) ctx.out.Note("warning: " + w.get<std::string>());
}

}  // namespace mkeys::cli
