// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array create|token|serve|members|remove|rotate|join|status|leave|sync`: joining member
// nodes to an array run by a manager, over pinned TLS 1.3 (docs/arrayjoin.md).
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/arrayjoin/member.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::cli {
namespace {

namespace aj = arrayjoin;

struct ArrayArgs {
  std::string root;
  std::string name;
  std::string ttl = "1h";
  std::uint32_t uses = 1;
  bool list = false;
  std::string revoke;
  std::string manager_hint;
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  int max_failures = 10;
  int handshake_timeout = 10;
  std::string member;
  std::string manager;
  std::string token_file;
  std::string token_stdin;
  std::string service_identity = std::string(aj::kDefaultServiceIdentity);
  std::string member_name;
  bool yes = false;
  bool force = false;
  int timeout = 30;
};

int Fail(Context& ctx, const Error& error) {
  ctx.out.PrintError(error);
  return error.ToExitCode();
}

Result<std::chrono::seconds> ParseTtl(const std::string& text) {
  if (text.empty()) return Error(ErrorCode::kInvalidArgument, "--ttl is empty");
  std::size_t i = 0;
  std::int64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + (text[i] - '0');
    if (value > 10LL * 365 * 86400) {
      return Error(ErrorCode::kInvalidArgument, "--ttl is too long (at most 10 years)").On(text);
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
  return std::chrono::seconds(value * mult);
}

std::string RevealText(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.RevealSecret().data()), s.size());
}

Result<SecretBytes> ReadAll(std::istream& in, const std::string& what) {
  std::string text;
  std::getline(in, text);
  if (text.empty() && !in) {
    return Error(ErrorCode::kInvalidArgument, "no token on " + what);
  }
  SecretBytes out = SecretBytes::FromString(text);
  std::fill(text.begin(), text.end(), '\0');
  return out;
}

// Reads a line from the terminal; with `secret`, without echo.
std::string Prompt(const std::string& question, bool secret) {
  termios old{};
  const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (secret && tty) {
    // Echo goes off before the prompt appears: a secret typed or pasted as soon as the prompt
    // shows must never be echoed.
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::cerr << question << std::flush;
  std::string line;
  std::getline(std::cin, line);
  if (secret && tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

int Create(Context& ctx, const ArrayArgs& a) {
  auto created = aj::CreateArray(a.root, a.name);
  if (!created) return Fail(ctx, created.error());
  const std::string fp = aj::FormatFingerprint(created->info.pin);
  if (ctx.out.json()) {
    ctx.out.Json({{"array", created->info.name},
                  {"array_id", created->info.array_id},
                  {"fingerprint", fp},
                  {"key_version", created->version.version},
                  {"containers",
                   {aj::CaContainerName(a.name), created->version.rsa_container,
                    created->version.config_container}},
                  {"registry", aj::Registry::PathFor(a.root).string()}});
  } else {
    ctx.out.Line(fmt::format("Created array {} ({})", created->info.name, created->info.array_id));
    ctx.out.Line(fmt::format("  manager key fingerprint  {}", fp));
    ctx.out.Line(fmt::format("  containers               {}, {}, {}", aj::CaContainerName(a.name),
                             created->version.rsa_container, created->version.config_container));
    ctx.out.Line(
        fmt::format("  registry                 {}", aj::Registry::PathFor(a.root).string()));
    ctx.out.Line(
        fmt::format("Next: 'mkeys array token {}' and 'mkeys array serve {}'", a.root, a.root));
  }
  return kExitOk;
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
  auto issued = aj::IssueToken(a.root, *ttl, a.uses);
  if (!issued) return Fail(ctx, issued.error());
  const SecretBytes revealed = issued->token.Reveal();
  const std::string token = RevealText(revealed);
  const std::string manager = a.manager_hint.empty() ? "MANAGER_HOST:PORT" : a.manager_hint;
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
    ctx.out.Line(fmt::format("Join token {} (valid until {}, {} use(s)):", issued->record.id,
                             aj::FormatTime(issued->record.expires_at), issued->record.uses_total));
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
  if (!a.port_file.empty()) options.port_file = a.port_file;
  options.max_failures = a.max_failures;
  options.handshake_timeout_seconds = a.handshake_timeout;
  options.on_event = [](const std::string& line) { std::cerr << "mkeys serve: " << line << "\n"; };
  auto r = aj::Serve(options);
  if (!r) return Fail(ctx, r.error());
  return kExitOk;
}

int Members(Context& ctx, const ArrayArgs& a) {
  auto reg = aj::Registry::Open(a.root);
  if (!reg) return Fail(ctx, reg.error());
  auto members = (*reg)->Members();
  if (!members) return Fail(ctx, members.error());
  if (ctx.out.json()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : *members) {
      list.push_back({{"name", m.name},
                      {"joined_at", m.joined_at},
                      {"key_version", m.key_version},
                      {"address", m.address},
                      {"token_id", m.token_id},
                      {"certificate_fingerprint", aj::FormatFingerprint(m.cert_pin)}});
    }
    ctx.out.Json(list);
    return kExitOk;
  }
  if (members->empty()) {
    ctx.out.Line("No members.");
    return kExitOk;
  }
  ctx.out.Line(fmt::format("{:<24} {:<24} {:<8} {}", "MEMBER", "JOINED", "VERSION", "ADDRESS"));
  for (const auto& m : *members) {
    ctx.out.Line(fmt::format("{:<24} {:<24} v{:<7} {}", m.name, aj::FormatTime(m.joined_at),
                             m.key_version, m.address));
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

int Rotate(Context& ctx, const ArrayArgs& a) {
  auto kv = aj::RotateKeys(a.root);
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

int Join(Context& ctx, const ArrayArgs& a) {
  const bool wizard = a.token_file.empty() && a.token_stdin.empty() && isatty(STDIN_FILENO) == 1;
  if (!wizard && a.token_file.empty() && a.token_stdin != "-") {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "give the token with --token-file FILE or --token - (read from stdin); "
                           "it is never taken on the command line"));
  }
  aj::JoinOptions options;
  options.root = a.root;
  options.manager = a.manager;
  options.service_identity = a.service_identity;
  options.member_name = a.member_name;
  options.timeout_seconds = a.timeout;
  SecretBytes token_text;
  if (wizard) {
    std::cerr << "Join this machine to an mkeys array.\n";
    if (options.manager.empty()) options.manager = Prompt("Manager (HOST:PORT): ", false);
    token_text = SecretBytes::FromString(Prompt("Join token (input hidden): ", true));
  } else if (!a.token_file.empty()) {
    std::ifstream in(a.token_file);
    if (!in) {
      return Fail(ctx, Error(ErrorCode::kNotFound, "cannot read the token file").On(a.token_file));
    }
    auto t = ReadAll(in, a.token_file);
    if (!t) return Fail(ctx, t.error());
    token_text = std::move(*t);
  } else {
    auto t = ReadAll(std::cin, "stdin");
    if (!t) return Fail(ctx, t.error());
    token_text = std::move(*t);
  }
  if (options.manager.empty()) {
    return Fail(ctx, Error(ErrorCode::kInvalidArgument, "--manager HOST:PORT is required"));
  }
  auto token = aj::JoinToken::Parse(std::string_view(
      reinterpret_cast<const char*>(token_text.RevealSecret().data()), token_text.size()));
  if (!token) return Fail(ctx, token.error());
  const bool show_steps = !ctx.out.json();
  nlohmann::json steps = nlohmann::json::array();
  options.on_progress = [&](const aj::JoinProgress& p) {
    steps.push_back({{"step", aj::JoinStepName(p.step)}, {"ok", p.ok}, {"detail", p.detail}});
    if (show_steps) {
      const std::string mark =
          p.ok ? ctx.out.Paint("[ok]    ", Color::kGreen) : ctx.out.Paint("[FAILED]", Color::kRed);
      ctx.out.Line(fmt::format("{} {}: {}", mark, aj::JoinStepName(p.step), p.detail));
    }
  };
  if (wizard && !a.yes) {
    options.confirm_fingerprint = [](const std::string& fp) {
      std::cerr << "The manager's key fingerprint is " << fp
                << "\n(it matches the token). Check it with the manager's administrator.\n";
      const std::string answer = Prompt("Join this array? [y/N] ", false);
      return answer == "y" || answer == "Y" || answer == "yes";
    };
  }
  auto result = aj::Join(options, *token);
  if (!result) {
    // Also on stderr when a [FAILED] step line showed it on stdout: scripts read stderr.
    ctx.out.PrintError(result.error());
    if (ctx.out.json()) {
      // PrintError already wrote the error document.
    } else if (result.error().code() != ErrorCode::kAccessDenied) {
      ctx.out.Note("Nothing was left behind on this machine; the token can be retried.");
    }
    return result.error().ToExitCode();
  }
  if (ctx.out.json()) {
    ctx.out.Json({{"joined", true},
                  {"array", result->array},
                  {"member", result->member},
                  {"key_version", result->key_version},
                  {"containers", result->containers},
                  {"fingerprint", result->fingerprint},
                  {"steps", steps}});
  } else {
    ctx.out.Line(fmt::format("Joined array {} as {} (key version {}).", result->array,
                             result->member, result->key_version));
  }
  return kExitOk;
}

int Status(Context& ctx, const ArrayArgs& a) {
  // Say "not a machine root" for a wrong path rather than "not part of an array".
  if (auto machine = keystore::MachineRoot::Open(a.root); !machine) {
    return Fail(ctx, machine.error());
  }
  auto recovered = aj::RecoverInterruptedJoin(a.root);
  if (!recovered) return Fail(ctx, recovered.error());
  std::error_code ec;
  if (std::filesystem::exists(aj::Registry::PathFor(a.root), ec)) {
    auto reg = aj::Registry::Open(a.root);
    if (!reg) return Fail(ctx, reg.error());
    auto info = (*reg)->Info();
    if (!info) return Fail(ctx, info.error());
    auto members = (*reg)->Members();
    auto tokens = (*reg)->Tokens();
    if (!members) return Fail(ctx, members.error());
    if (!tokens) return Fail(ctx, tokens.error());
    if (ctx.out.json()) {
      ctx.out.Json({{"role", "manager"},
                    {"array", info->name},
                    {"array_id", info->array_id},
                    {"fingerprint", aj::FormatFingerprint(info->pin)},
                    {"key_version", info->current_version},
                    {"members", members->size()},
                    {"tokens", tokens->size()}});
    } else {
      ctx.out.Line(fmt::format("Manager of array {} ({})", info->name, info->array_id));
      ctx.out.Line(fmt::format("  fingerprint  {}", aj::FormatFingerprint(info->pin)));
      ctx.out.Line(fmt::format("  key version  {}", info->current_version));
      ctx.out.Line(fmt::format("  members      {}", members->size()));
      ctx.out.Line(fmt::format("  tokens       {}", tokens->size()));
    }
    return kExitOk;
  }
  auto state = aj::ReadMemberState(a.root);
  if (!state) return Fail(ctx, state.error());
  if (!*state) {
    if (ctx.out.json()) {
      ctx.out.Json({{"role", "none"}, {"rolled_back_interrupted_join", *recovered}});
    } else {
      ctx.out.Line(std::string("Not part of an array.") +
                   (*recovered ? " (An interrupted join was rolled back.)" : ""));
    }
    return kExitOk;
  }
  const auto& s = **state;
  if (ctx.out.json()) {
    ctx.out.Json({{"role", "member"},
                  {"array", s.array},
                  {"array_id", s.array_id},
                  {"member", s.member},
                  {"manager", s.manager},
                  {"fingerprint", aj::FormatFingerprint(s.pin)},
                  {"service_identity", s.service_identity},
                  {"key_version", s.key_version},
                  {"containers", s.containers},
                  {"joined_at", s.joined_at}});
  } else {
    ctx.out.Line(fmt::format("Member {} of array {} (manager {})", s.member, s.array, s.manager));
    ctx.out.Line(fmt::format("  fingerprint       {}", aj::FormatFingerprint(s.pin)));
    ctx.out.Line(fmt::format("  service identity  {}", s.service_identity));
    ctx.out.Line(fmt::format("  key version       {}", s.key_version));
    for (const auto& c : s.containers) ctx.out.Line("  container         " + c);
    ctx.out.Line(fmt::format("  joined            {}", aj::FormatTime(s.joined_at)));
  }
  return kExitOk;
}

int Leave(Context& ctx, const ArrayArgs& a) {
  if (auto r = aj::Leave(a.root, a.force, a.timeout); !r) return Fail(ctx, r.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"left", true}});
  } else {
    ctx.out.Line("Left the array; its containers were removed from this machine.");
  }
  return kExitOk;
}

int Sync(Context& ctx, const ArrayArgs& a) {
  auto r = aj::Sync(a.root, a.timeout);
  if (!r) return Fail(ctx, r.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"from_version", r->from_version},
                  {"to_version", r->to_version},
                  {"installed", r->installed}});
  } else if (r->installed.empty()) {
    ctx.out.Line(fmt::format("Up to date (key version {}).", r->to_version));
  } else {
    ctx.out.Line(fmt::format("Installed key version {} ({} container(s)).", r->to_version,
                             r->installed.size()));
  }
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("array", "Arrays: a manager and the members that join it");
  group->require_subcommand(1);
  auto a = std::make_shared<ArrayArgs>();
  auto bind = [&ctx, a](CLI::App* sub, int (*fn)(Context&, const ArrayArgs&)) {
    ctx.Bind(sub, [a, fn](Context& c) { return fn(c, *a); });
  };

  auto* create = group->add_subcommand("create", "Create an array managed by this root");
  create->add_option("ROOT", a->root, "Machine root")->required();
  create->add_option("--name", a->name, "Array name")->required();
  bind(create, Create);

  auto* token = group->add_subcommand("token", "Issue, list or revoke join tokens");
  token->add_option("ROOT", a->root, "Manager's machine root")->required();
  token->add_option("--ttl", a->ttl, "Validity (30m, 1h, 2d; default 1h)");
  token->add_option("--uses", a->uses, "Joins allowed (default 1)");
  token->add_flag("--list", a->list, "List tokens (ids and state, never secrets)");
  token->add_option("--revoke", a->revoke, "Revoke the token with this id");
  token->add_option("--manager", a->manager_hint, "HOST:PORT to put in the member command");
  bind(token, Token);

  auto* serve = group->add_subcommand("serve", "Serve joins over TLS 1.3 until SIGTERM");
  serve->add_option("ROOT", a->root, "Manager's machine root")->required();
  serve->add_option("--listen", a->listen, "ADDR:PORT (default 127.0.0.1:0, port 0 = any free)");
  serve->add_option("--port-file", a->port_file, "Write the port here once listening");
  serve->add_option("--max-failures", a->max_failures,
                    "Failed attempts per peer address before refusing it (default 10)");
  serve->add_option("--handshake-timeout", a->handshake_timeout,
                    "Seconds a client may take per step before the handshake (default 10)");
  bind(serve, Serve);

  auto* members = group->add_subcommand("members", "List the members");
  members->add_option("ROOT", a->root, "Manager's machine root")->required();
  bind(members, Members);

  auto* remove = group->add_subcommand("remove", "Remove a member from the registry");
  remove->add_option("ROOT", a->root, "Manager's machine root")->required();
  remove->add_option("MEMBER", a->member, "Member name")->required();
  bind(remove, Remove);

  auto* rotate = group->add_subcommand("rotate", "Create a new key version");
  rotate->add_option("ROOT", a->root, "Manager's machine root")->required();
  bind(rotate, Rotate);

  auto* join = group->add_subcommand(
      "join", "Join an array (a wizard when run on a terminal without a token)");
  join->add_option("ROOT", a->root, "This member's machine root")->required();
  join->add_option("--manager", a->manager, "Manager HOST:PORT");
  join->add_option("--token-file", a->token_file, "File holding the join token");
  join->add_option("--token", a->token_stdin, "'-' to read the join token from stdin");
  join->add_option("--service-identity", a->service_identity,
                   "Identity that must read the keys (default NT AUTHORITY\\NETWORK SERVICE)");
  join->add_option("--member-name", a->member_name, "Name of this member (default: host name)");
  join->add_flag("--yes", a->yes, "Do not ask to confirm the manager's fingerprint");
  join->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(join, Join);

  auto* status = group->add_subcommand("status", "Show this root's array role and state");
  status->add_option("ROOT", a->root, "Machine root")->required();
  bind(status, Status);

  auto* leave = group->add_subcommand("leave", "Leave the array and remove its keys here");
  leave->add_option("ROOT", a->root, "Member's machine root")->required();
  leave->add_flag("--force", a->force, "Remove the keys even if the manager is unreachable");
  leave->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(leave, Leave);

  auto* sync = group->add_subcommand("sync", "Fetch and install new key versions");
  sync->add_option("ROOT", a->root, "Member's machine root")->required();
  sync->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(sync, Sync);
}

}  // namespace
MKEYS_REGISTER_COMMANDS(100, Register);
}  // namespace mkeys::cli
