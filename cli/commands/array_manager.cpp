// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array create|token|serve|members|events|remove|revoke|rotate` and the manager's
// `array status`.
#include <fmt/format.h>

#include <iostream>

#include "commands/array_cli.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/core/time.hpp"

namespace mkeys::cli::array_cmd {
namespace {

Result<std::chrono::seconds> ParseTtl(const std::string& text) {
  if (text.empty()) return Error(ErrorCode::kInvalidArgument, "--ttl is empty");
  std::size_t i = 0;
  std::int64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + (text[i] - '0');
    if (value > 10LL * 365 * 86400) {
      return Error(ErrorCode::kInvalidArgument,
                   "--ttl is too long (at most 10 years even with "
                   "--ttl-max-override)")
          .On(text);
    }
    ++i;
  }
  if (i == 0 || i + 1 < text.size()) {
    return Error(ErrorCode::kInvalidArgument, "--ttl takes a number with s, m, h or d (e.g. 1h)")
        .At(i)
        .On(text);
  }
  std::int64_t mult = 1;
  if (i < text.size()) {
    switch (text[i]) {
      case 's':
        mult = 1;
        break;
      case 'm':
        mult = 60;
        break;
      case 'h':
        mult = 3600;
        break;
      case 'd':
        mult = 86400;
        break;
      default:
        return Error(ErrorCode::kInvalidArgument, "--ttl unit must be s, m, h or d").At(i).On(text);
    }
  }
  if (value * mult > 10LL * 365 * 86400) {
    return Error(ErrorCode::kInvalidArgument,
                 "--ttl is too long (at most 10 years even with --ttl-max-override)")
        .On(text);
  }
  return std::chrono::seconds(value * mult);
}

std::string RevealText(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.RevealSecret().data()), s.size());
}

int TokenList(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  auto tokens = (*reg)->Tokens();
  if (!tokens) return Fail(ctx, tokens.error());
  const auto now = aj::NowSeconds();
  auto state = [now](const aj::TokenRecord& t) -> std::string {
    if (t.revoked_at) return "revoked";
    if (now >= t.expires_at) return "expired";
    if (t.uses_left == 0) return "used up";
    return "valid";
  };
  if (ctx.out.json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& t : *tokens) {
      list.push_back({{"id", t.id},
                      {"state", state(t)},
                      {"created_at", t.created_at},
                      {"expires_at", t.expires_at},
                      {"uses_total", t.uses_total},
                      {"uses_left", t.uses_left},
                      {"revoked_at", t.revoked_at ? nlohmann::json(*t.revoked_at) : nullptr}});
    }
    ctx.out.Json(list);
    return kExitOk;
  }
  if (tokens->empty()) {
    ctx.out.Line("No tokens.");
    return kExitOk;
  }
  ctx.out.Line(fmt::format("{:<18} {:<8} {:<24} {}", "ID", "STATE", "EXPIRES", "USES LEFT"));
  for (const auto& t : *tokens) {
    ctx.out.Line(fmt::format("{:<18} {:<8} {:<24} {}/{}", t.id, state(t),
                             aj::FormatTime(t.expires_at), t.uses_left, t.uses_total));
  }
  return kExitOk;
}

nlohmann::json MemberJson(const aj::MemberRecord& m) {
  return {{"name", m.name},
          {"status", aj::MemberStatusName(m.status)},
          {"joined_at", m.joined_at},
          {"delivered_at", m.delivered_at},
          {"key_version", m.key_version},
          {"address", m.address},
          {"token_id", m.token_id},
          {"certificate_fingerprint", aj::FormatFingerprint(m.cert_pin)}};
}

void PrintManagerLimits(Context& ctx, aj::Registry& reg) {
  auto serve = reg.LoadServeRecord();
  auto limits = reg.AddressLimits();
  const auto now = aj::NowSeconds();
  if (serve && *serve) {
    const auto& s = **serve;
    std::string endpoints;
    for (const auto& e : s.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
    ctx.out.Line(fmt::format("  endpoints    {} (serve started {})", endpoints,
                             aj::FormatTime(s.started_at)));
    ctx.out.Line(fmt::format("  limit        {} failed authentications per address within {} s",
                             s.max_failures, s.failure_window));
  }
  if (!limits || limits->empty()) {
    ctx.out.Line("  refused      no address");
    return;
  }
  for (const auto& l : *limits) {
    if (l.retry_at > now) {
      ctx.out.Line(fmt::format("  refused      {}: {} failure(s), joins refused until {}",
                               l.address, l.failures, aj::FormatTime(l.retry_at)));
    } else {
      ctx.out.Line(fmt::format("  failures     {}: {} (last {}), not refused", l.address,
                               l.failures, aj::FormatTime(l.last_at)));
    }
  }
}

nlohmann::json LimitsJson(aj::Registry& reg) {
  nlohmann::json out = {{"addresses", nlohmann::json::array()}};
  if (auto serve = reg.LoadServeRecord(); serve && *serve) {
    out["endpoints"] = (*serve)->endpoints;
    out["max_failures"] = (*serve)->max_failures;
    out["failure_window"] = (*serve)->failure_window;
  }
  const auto now = aj::NowSeconds();
  if (auto limits = reg.AddressLimits(); limits) {
    for (const auto& l : *limits) {
      out["addresses"].push_back({{"address", l.address},
                                  {"failures", l.failures},
                                  {"last_at", l.last_at},
                                  {"retry_at", l.retry_at},
                                  {"refused", l.retry_at > now}});
    }
  }
  return out;
}

}  // namespace

int Create(Context& ctx, const ArrayArgs& a) {
  std::vector<std::string> etcd;
  bool tls = false;
  if (!a.registry.empty() && a.registry != "sqlite") {
    auto parsed = aj::ParseEtcdUrl(a.registry, &tls);
    if (!parsed) return Fail(ctx, parsed.error());
    etcd = std::move(*parsed);
  } else if (a.EtcdOptionsGiven()) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "--etcd-* options need --registry etcd://... or etcds://..."));
  }
  auto created = aj::CreateArray(a.root, a.name, etcd, EtcdAccessFrom(a, tls));
  if (!created) return Fail(ctx, created.error());
  const std::string where = etcd.empty() ? aj::Registry::PathFor(a.root).string() : a.registry;
  const std::string fp = aj::FormatFingerprint(created->info.pin);
  if (ctx.out.json()) {
    ctx.out.Json({{"array", created->info.name},
                  {"array_id", created->info.array_id},
                  {"fingerprint", fp},
                  {"key_version", created->version.version},
                  {"containers",
                   {aj::CaContainerName(a.name), created->version.rsa_container,
                    created->version.config_container}},
                  {"registry", where},
                  {"registry_kind", etcd.empty() ? "sqlite" : "etcd"}});
  } else {
    ctx.out.Line(fmt::format("Created array {} ({})", created->info.name, created->info.array_id));
    ctx.out.Line(fmt::format("  manager key fingerprint  {}", fp));
    ctx.out.Line(fmt::format("  containers               {}, {}, {}", aj::CaContainerName(a.name),
                             created->version.rsa_container, created->version.config_container));
    ctx.out.Line(fmt::format("  registry                 {}", where));
    ctx.out.Line(
        fmt::format("Next: 'mkeys array token {}' and 'mkeys array serve {}'", a.root, a.root));
  }
  return kExitOk;
}

int Token(Context& ctx, const ArrayArgs& a) {
  if (a.list) return TokenList(ctx, a);
  if (!a.revoke.empty()) {
    auto reg = aj::Registry::Open(a.root);
    if (!reg) return Fail(ctx, reg.error());
    if (auto r = (*reg)->RevokeToken(a.revoke, aj::NowSeconds()); !r) return Fail(ctx, r.error());
    if (ctx.out.json()) {
      ctx.out.Json({{"revoked", a.revoke}});
    } else {
      ctx.out.Line(fmt::format("Revoked token {}", a.revoke));
    }
    return kExitOk;
  }
  auto ttl = ParseTtl(a.ttl);
  if (!ttl) return Fail(ctx, ttl.error());
  aj::TokenOptions options;
  options.ttl = *ttl;
  options.uses = a.uses;
  options.replace_name = a.replace;
  options.ttl_override = a.ttl_override;
  auto issued = aj::IssueToken(a.root, options);
  if (!issued) return Fail(ctx, issued.error());
  const SecretBytes revealed = issued->token.Reveal();
  const std::string token = RevealText(revealed);
  const std::string manager = a.manager_hint.empty() ? "MANAGER_HOST" : a.manager_hint;
  // printf is a shell builtin: the token never appears in any process's argv.
  const std::string command = fmt::format(
      "printf '%s\\n' '{}' | mkeys array join MEMBER_ROOT --manager {} --token -", token, manager);
  if (ctx.out.json()) {
    ctx.out.Json({{"token", token},
                  {"id", issued->record.id},
                  {"expires_at", issued->record.expires_at},
                  {"expires", aj::FormatTime(issued->record.expires_at)},
                  {"uses", issued->record.uses_total},
                  {"fingerprint", aj::FormatFingerprint(issued->token.pin())},
                  {"member_command", command}});
  } else {
    ctx.out.Line(fmt::format("Join token {} (valid until {}, {} use(s){}):", issued->record.id,
                             aj::FormatTime(issued->record.expires_at), issued->record.uses_total,
                             a.replace.empty() ? "" : ", may replace member " + a.replace));
    ctx.out.Line("");
    ctx.out.Line("  " + token);
    ctx.out.Line("");
    ctx.out.Line("On the member, run:");
    ctx.out.Line("  " + command);
    ctx.out.Line(fmt::format("The manager's key fingerprint is {}.",
                             aj::FormatFingerprint(issued->token.pin())));
  }
  return kExitOk;
}

int Serve(Context& ctx, const ArrayArgs& a) {
  aj::ServeOptions options;
  options.root = a.root;
  options.listen = a.listen;
  options.advertise = a.advertise;
  if (!a.port_file.empty()) options.port_file = a.port_file;
  options.max_failures = a.max_failures;
  options.failure_window_seconds = a.failure_window;
  options.handshake_timeout_seconds = a.handshake_timeout;
  // Each line once, with its UTC time.
  options.on_event = [](const std::string& line) {
    std::cerr << time::UtcNowIso8601() << " mkeys serve: " << line << std::endl;
  };
  auto r = aj::Serve(options);
  if (!r) return Fail(ctx, r.error());
  return kExitOk;
}

int Members(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  auto all = (*reg)->Members();
  if (!all) return Fail(ctx, all.error());
  const aj::MemberStatus wanted = a.pending   ? aj::MemberStatus::kDelivered
                                  : a.revoked ? aj::MemberStatus::kRevoked
                                              : aj::MemberStatus::kJoined;
  std::vector<aj::MemberRecord> members;
  for (const auto& m : *all) {
    if (a.all || m.status == wanted) members.push_back(m);
  }
  if (ctx.out.json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : members) list.push_back(MemberJson(m));
    ctx.out.Json(list);
    return kExitOk;
  }
  if (members.empty()) {
    ctx.out.Line(a.pending ? "No deliveries waiting for confirmation."
                           : (a.revoked ? "No revoked members." : "No members."));
    return kExitOk;
  }
  ctx.out.Line(fmt::format("{:<28} {:<26} {:<24} {:<8} {:<16} {}", "MEMBER", "STATUS", "SINCE",
                           "VERSION", "ADDRESS", "CERTIFICATE"));
  for (const auto& m : members) {
    const auto since = m.status == aj::MemberStatus::kJoined ? m.joined_at : m.delivered_at;
    ctx.out.Line(fmt::format("{:<28} {:<26} {:<24} v{:<7} {:<16} {}", m.name,
                             aj::MemberStatusName(m.status), aj::FormatTime(since), m.key_version,
                             m.address, aj::FormatFingerprint(m.cert_pin)));
  }
  return kExitOk;
}

int Events(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  auto events = (*reg)->Events(a.limit);
  if (!events) return Fail(ctx, events.error());
  if (ctx.out.json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : *events) {
      list.push_back({{"id", e.id},
                      {"at", e.at},
                      {"kind", e.kind},
                      {"subject", e.subject},
                      {"detail", e.detail}});
    }
    ctx.out.Json(list);
    return kExitOk;
  }
  for (auto it = events->rbegin(); it != events->rend(); ++it) {
    ctx.out.Line(fmt::format("{}  {:<22} {:<24} {}", aj::FormatTime(it->at), it->kind, it->subject,
                             it->detail));
  }
  return kExitOk;
}

int Remove(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  if (auto r = (*reg)->RemoveMember(a.member, aj::NowSeconds(), "removed by the administrator");
      !r) {
    return Fail(ctx, r.error());
  }
  if (ctx.out.json()) {
    ctx.out.Json({{"removed", a.member}});
  } else {
    ctx.out.Line(
        fmt::format("Removed member {} (its keys stay on it until 'mkeys array leave "
                    "--force' there)",
                    a.member));
  }
  return kExitOk;
}

int Revoke(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  if (auto r = (*reg)->RevokeMember(a.member, aj::NowSeconds()); !r) return Fail(ctx, r.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"revoked", a.member}});
  } else {
    ctx.out.Line(fmt::format(
        "Revoked the certificate of {}: its sync, status and leave requests are refused; "
        "'mkeys array members {} --revoked' lists it",
        a.member, a.root));
  }
  return kExitOk;
}

int Rotate(Context& ctx, const ArrayArgs& a) {
  auto kv = aj::RotateKeys(a.root, std::chrono::seconds(a.rotation_lease));
  if (!kv) return Fail(ctx, kv.error());
  if (ctx.out.json()) {
    ctx.out.Json(
        {{"key_version", kv->version}, {"containers", {kv->rsa_container, kv->config_container}}});
  } else {
    ctx.out.Line(
        fmt::format("Key version {} is current ({}, {}); members fetch it with 'mkeys "
                    "array sync'",
                    kv->version, kv->rsa_container, kv->config_container));
  }
  return kExitOk;
}

int ManagerStatus(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  auto info = (*reg)->Info();
  if (!info) return Fail(ctx, info.error());
  auto members = (*reg)->Members();
  auto tokens = (*reg)->Tokens();
  if (!members) return Fail(ctx, members.error());
  if (!tokens) return Fail(ctx, tokens.error());
  std::size_t joined = 0;
  std::size_t pending = 0;
  for (const auto& m : *members) {
    joined += m.status == aj::MemberStatus::kJoined ? 1 : 0;
    pending += m.status == aj::MemberStatus::kDelivered ? 1 : 0;
  }
  if (ctx.out.json()) {
    ctx.out.Json({{"role", "manager"},
                  {"array", info->name},
                  {"array_id", info->array_id},
                  {"fingerprint", aj::FormatFingerprint(info->pin)},
                  {"key_version", info->current_version},
                  {"members", joined},
                  {"pending", pending},
                  {"tokens", tokens->size()},
                  {"limits", LimitsJson(**reg)},
                  {"registry", RegistryStatusJson(**reg)}});
    return kExitOk;
  }
  ctx.out.Line(fmt::format("Manager of array {} ({})", info->name, info->array_id));
  ctx.out.Line(fmt::format("  fingerprint  {}", aj::FormatFingerprint(info->pin)));
  ctx.out.Line(fmt::format("  key version  {}", info->current_version));
  ctx.out.Line(fmt::format("  members      {} (+{} delivered, not confirmed)", joined, pending));
  ctx.out.Line(fmt::format("  tokens       {}", tokens->size()));
  PrintManagerLimits(ctx, **reg);
  PrintRegistryStatus(ctx, **reg);
  return kExitOk;
}

}  // namespace mkeys::cli::array_cmd
