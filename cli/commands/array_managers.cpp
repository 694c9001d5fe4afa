// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array manager add|list` and the registry lines of the manager's `array status`:
// several managers of one array, sharing a registry in etcd (docs/arrayjoin.md).
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "commands/array_cli.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"

namespace mkeys::cli::array_cmd {
namespace {

std::string Joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& e : list) out += (out.empty() ? "" : ", ") + e;
  return out.empty() ? "-" : out;
}

nlohmann::json ManagersJson(const std::vector<aj::ManagerRecord>& managers,
                            const std::string& self) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : managers) {
    list.push_back({{"id", m.id},
                    {"self", m.id == self},
                    {"host", m.host},
                    {"added_at", m.added_at},
                    {"endpoints", m.endpoints},
                    {"serving_since", m.started_at},
                    {"pid", m.pid}});
  }
  return list;
}

}  // namespace

nlohmann::json RegistryStatusJson(aj::Registry& reg) {
  nlohmann::json out = {{"kind", reg.Kind()}, {"location", reg.Location()}};
  if (reg.Kind() == "sqlite") return out;
  out["manager_id"] = reg.ManagerId();
  auto health = reg.Health();
  out["health"] = health ? *health : health.error().ToString();
  auto managers = reg.Managers();
  if (managers) out["managers"] = ManagersJson(*managers, reg.ManagerId());
  return out;
}

void PrintRegistryStatus(Context& ctx, aj::Registry& reg) {
  ctx.out.Line(fmt::format("  registry     {} ({})", reg.Kind(), reg.Location()));
  if (reg.Kind() == "sqlite") return;
  auto health = reg.Health();
  ctx.out.Line(fmt::format("  etcd health  {}", health ? *health : health.error().ToString()));
  auto managers = reg.Managers();
  if (!managers) {
    ctx.out.Line(fmt::format("  managers     unknown: {}", managers.error().ToString()));
    return;
  }
  ctx.out.Line(fmt::format("  managers     {} (this one: {})", managers->size(), reg.ManagerId()));
  for (const auto& m : *managers) {
    ctx.out.Line(fmt::format("    {}{} on {}, serving {}", m.id, m.id == reg.ManagerId() ? "*" : "",
                             m.host, Joined(m.endpoints)));
  }
}

aj::EtcdAccess EtcdAccessFrom(const ArrayArgs& a, bool tls) {
  auto absolute = [](const std::string& path) {
    if (path.empty()) return path;
    std::error_code ec;
    auto out = std::filesystem::absolute(path, ec);
    return ec ? path : out.lexically_normal().string();
  };
  aj::EtcdAccess out;
  out.tls = tls;
  out.ca_file = absolute(a.etcd_ca);
  out.cert_file = absolute(a.etcd_cert);
  out.key_file = absolute(a.etcd_key);
  out.user = a.etcd_user;
  out.password_file = absolute(a.etcd_password_file);
  return out;
}

int ManagerAdd(Context& ctx, const ArrayArgs& a) {
  auto usage = [&](const char* text) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument, text));
  };
  if (a.complete) {
    if (!a.from.empty() || !a.array_ref.empty() || !a.registry.empty() ||
        !a.array_fingerprint.empty() || a.EtcdOptionsGiven()) {
      return usage(
          "--complete takes only ROOT: the request's etcd settings are in "
          "ROOT/mkeys-array/registry.json");
    }
    return ManagerComplete(ctx, a);
  }
  if (!a.array_ref.empty()) {
    if (!a.from.empty()) return usage("--array and --from exclude each other");
    return ManagerRequest(ctx, a);
  }
  if (!a.array_fingerprint.empty()) {
    return usage("--array-fingerprint goes with --array (the array it pins)");
  }
  if (a.from.empty()) {
    return usage(
        "give --from MANAGER_ROOT (an existing manager on this machine), or --registry "
        "etcd://... --array NAME to ask an existing manager's approval, or --complete once it "
        "approved");
  }
  std::vector<std::string> etcd;
  std::optional<aj::EtcdAccess> access;  // none: the TLS and user --from uses
  if (!a.registry.empty()) {
    bool tls = false;
    auto parsed = aj::ParseEtcdUrl(a.registry, &tls);
    if (!parsed) return Fail(ctx, parsed.error());
    etcd = std::move(*parsed);
    access = EtcdAccessFrom(a, tls);
  } else if (a.EtcdOptionsGiven()) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "--etcd-* options replace those of --from only with --registry "
                           "etcd://... or etcds://... given too"));
  }
  auto added = aj::AddManager(a.root, a.from, etcd, access ? &*access : nullptr);
  if (!added) return Fail(ctx, added.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"array", added->info.name},
                  {"array_id", added->info.array_id},
                  {"manager_id", added->manager_id},
                  {"fingerprint", aj::FormatFingerprint(added->info.pin)},
                  {"containers", added->containers}});
    return kExitOk;
  }
  ctx.out.Line(fmt::format("{} is now a manager of array {} ({}), manager id {}", a.root,
                           added->info.name, added->info.array_id, added->manager_id));
  ctx.out.Line(fmt::format("  manager key fingerprint  {} (the same for every manager)",
                           aj::FormatFingerprint(added->info.pin)));
  ctx.out.Line(fmt::format("  containers               {}", Joined(added->containers)));
  ctx.out.Line(
      fmt::format("Next: 'mkeys array serve {}'; members learn its endpoint on their "
                  "next sync",
                  a.root));
  return kExitOk;
}

int ManagerList(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  auto managers = (*reg)->Managers();
  if (!managers) return Fail(ctx, managers.error());
  if (ctx.out.json()) {
    auto list = ManagersJson(*managers, (*reg)->ManagerId());
    if ((*reg)->Kind() != "sqlite") {
      for (auto& m : list) m["pending"] = false;
      for (auto& r : ManagerRequestsJson(a)) list.push_back(std::move(r));
    }
    ctx.out.Json(list);
    return kExitOk;
  }
  if ((*reg)->Kind() == "sqlite") {
    ctx.out.Line("One manager (this root; the registry is SQLite).");
    return kExitOk;
  }
  ctx.out.Line(fmt::format("{:<18} {:<5} {:<20} {}", "ID", "SELF", "HOST", "SERVING"));
  for (const auto& m : *managers) {
    ctx.out.Line(fmt::format("{:<18} {:<5} {:<20} {}", m.id,
                             m.id == (*reg)->ManagerId() ? "yes" : "", m.host,
                             Joined(m.endpoints)));
  }
  PrintManagerRequests(ctx, a);
  return kExitOk;
}

}  // namespace mkeys::cli::array_cmd
