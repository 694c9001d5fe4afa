// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array join|leave|sync` and the member's `array status`.
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>

#include "commands/array_cli.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "output/audit_render.hpp"

namespace mkeys::cli::array_cmd {
namespace {

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

// What a failed join leaves and whether trying again can help (the manager's refusals say
// "retryable" or "final" themselves).
std::string AfterFailure(const Error& e, bool preflight_failed, const std::string& kept_key) {
  if (preflight_failed) {
    return "Nothing was sent to the manager and the token was not used; run the fix above, then "
           "join again with the same token.";
  }
  if (!kept_key.empty()) {
    return "Only this join's member key stays on this machine (container " + kept_key +
           ", readable by SYSTEM only): join again with the same token, through this or another "
           "manager, and a delivery the manager recorded resumes with the same name and no new "
           "token use. The key goes once the join succeeds or is refused for good.";
  }
  if (e.code() == ErrorCode::kPeerRefused) {
    return "Nothing was left behind on this machine.";
  }
  if (e.code() == ErrorCode::kNetwork || e.code() == ErrorCode::kAccessDenied) {
    return "Nothing was left behind on this machine. If the keys had already arrived, the token "
           "use is spent and the name stays taken ('mkeys array members --pending' on the "
           "manager shows the delivery).";
  }
  return "Nothing was left behind on this machine.";
}

}  // namespace

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
  options.rejoin = a.rejoin;
  options.timeout_seconds = a.timeout;
  options.on_diagnosis = [&ctx, &a](const repair::Diagnosis& d) {
    auto machine = keystore::MachineRoot::Open(a.root);
    if (!machine || ctx.out.json()) return;
    ctx.out.Line("The preflight's diagnosis (as 'mkeys diagnose' gives it):");
    for (const auto& line : DiagnosisText(d, *machine, ctx.out)) ctx.out.Line("  " + line);
  };
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
    return Fail(ctx, Error(ErrorCode::kInvalidArgument,
                           "--manager HOST[:PORT] is required (the default port is " +
                               std::to_string(aj::kDefaultPort) + ")"));
  }
  auto token = aj::JoinToken::Parse(std::string_view(
      reinterpret_cast<const char*>(token_text.RevealSecret().data()), token_text.size()));
  if (!token) return Fail(ctx, token.error());
  const bool show_steps = !ctx.out.json();
  nlohmann::json steps = nlohmann::json::array();
  bool preflight_failed = false;
  options.on_progress = [&](const aj::JoinProgress& p) {
    if (p.step == aj::JoinStep::kPreflight && !p.ok) preflight_failed = true;
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
    std::string kept_key;
    if (auto machine = keystore::MachineRoot::Open(a.root); machine) {
      keystore::KeyStore store(*machine);
      std::error_code ec;
      const std::string name = aj::PendingKeyContainerName(*token);
      if (std::filesystem::exists(store.PathFor(name), ec)) kept_key = name;
    }
    if (!ctx.out.json()) ctx.out.Note(AfterFailure(result.error(), preflight_failed, kept_key));
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
  auto recovered = aj::RecoverInterruptedJoin(a.root, a.manager);
  if (!recovered) return Fail(ctx, recovered.error());
  std::error_code ec;
  if (aj::Registry::ExistsFor(a.root)) return ManagerStatus(ctx, a);
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
  // --manager: ask the manager (and remember where it answered).
  std::optional<aj::MemberCheck> check;
  if (!a.manager.empty()) {
    auto c = aj::CheckWithManager(a.root, a.timeout, a.manager);
    if (!c) return Fail(ctx, c.error());
    check = *c;
    state = aj::ReadMemberState(a.root);
    if (!state || !*state)
      return Fail(ctx,
                  state ? Error(ErrorCode::kNotFound, "member state vanished") : state.error());
  }
  const auto& s = **state;
  if (ctx.out.json()) {
    ctx.out.Json({{"role", "member"},
                  {"array", s.array},
                  {"array_id", s.array_id},
                  {"member", s.member},
                  {"manager", s.manager},
                  {"managers", s.managers},
                  {"listed_by_manager", check ? nlohmann::json(check->listed) : nullptr},
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
    for (const auto& m : s.managers) ctx.out.Line("  manager endpoint  " + m);
    if (check) {
      ctx.out.Line(fmt::format("  manager says      {} (current key version {})",
                               check->listed ? "listed" : "NOT listed", check->current_version));
    }
  }
  return kExitOk;
}

int Leave(Context& ctx, const ArrayArgs& a) {
  if (auto r = aj::Leave(a.root, a.force, a.timeout, a.manager); !r) return Fail(ctx, r.error());
  if (ctx.out.json()) {
    ctx.out.Json({{"left", true}});
  } else {
    ctx.out.Line("Left the array; its containers were removed from this machine.");
  }
  return kExitOk;
}

int Sync(Context& ctx, const ArrayArgs& a) {
  auto r = aj::Sync(a.root, a.timeout, a.manager);
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

}  // namespace mkeys::cli::array_cmd
