// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array create|token|serve|members|events|remove|revoke|rotate|join|status|leave|sync`:
// joining member nodes to an array run by a manager, over pinned TLS 1.3 (docs/arrayjoin.md).
// The handlers live in array_manager.cpp and array_member.cpp.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "commands/array_cli.hpp"

namespace mkeys::cli {
namespace array_cmd {

int Fail(Context& ctx, const Error& error) {
  ctx.out.PrintError(error);
  return error.ToExitCode();
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

}  // namespace array_cmd

namespace {

using namespace array_cmd;

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
  create->add_option("--registry", a->registry,
                     "etcd://HOST:PORT[,HOST:PORT...] for several managers, etcds://... over "
                     "TLS (default: SQLite)");
  auto etcd_options = [a](CLI::App* sub) {
    sub->add_option("--etcd-ca", a->etcd_ca,
                    "CA certificate (PEM) that etcd's must verify against");
    sub->add_option("--etcd-cert", a->etcd_cert, "Client certificate (PEM) for etcd");
    sub->add_option("--etcd-key", a->etcd_key, "The client certificate's key (PEM)");
    sub->add_option("--etcd-user", a->etcd_user,
                    "etcd user (password: --etcd-password-file or $MKEYS_ETCD_PASSWORD)");
    sub->add_option("--etcd-password-file", a->etcd_password_file,
                    "File holding the etcd user's password");
  };
  etcd_options(create);
  bind(create, Create);

  auto* manager = group->add_subcommand("manager", "Several managers of one array (etcd)");
  manager->require_subcommand(1);
  auto* manager_add = manager->add_subcommand("add", "Make this root another manager");
  manager_add->add_option("ROOT", a->root, "The new manager's machine root")->required();
  manager_add->add_option("--from", a->from, "An existing manager's root on this machine");
  manager_add->add_option("--array", a->array_ref,
                          "Ask to manage this array (name or id; with --registry, on another "
                          "machine than any manager): an existing manager approves");
  manager_add->add_option("--array-fingerprint", a->array_fingerprint,
                          "With --array: the array key fingerprint as 'mkeys array status' prints "
                          "it on a manager you trust; the array in etcd must have it, now and at "
                          "--complete");
  manager_add->add_flag("--complete", a->complete,
                        "Finish a request made with --array once a manager approved it");
  manager_add->add_option("--registry", a->registry,
                          "etcd://HOST:PORT[,...] or etcds://... (default: the endpoints, TLS "
                          "and user --from uses)");
  etcd_options(manager_add);
  bind(manager_add, ManagerAdd);
  auto* manager_list =
      manager->add_subcommand("list", "List the array's managers and pending requests");
  manager_list->add_option("ROOT", a->root, "A manager's machine root")->required();
  bind(manager_list, ManagerList);
  auto* manager_approve =
      manager->add_subcommand("approve", "Approve another machine's request to be a manager");
  manager_approve->add_option("ROOT", a->root, "An existing manager's machine root")->required();
  manager_approve->add_option("ID", a->request_id, "The request id")->required();
  manager_approve
      ->add_option("--fingerprint", a->fingerprint,
                   "The fingerprint 'array manager add' printed on the new manager's machine")
      ->required();
  bind(manager_approve, ManagerApprove);
  auto* manager_deny = manager->add_subcommand("deny", "Refuse a request to be a manager");
  manager_deny->add_option("ROOT", a->root, "An existing manager's machine root")->required();
  manager_deny->add_option("ID", a->request_id, "The request id")->required();
  bind(manager_deny, ManagerDeny);

  auto* token = group->add_subcommand("token", "Issue, list or revoke join tokens");
  token->add_option("ROOT", a->root, "Manager's machine root")->required();
  token->add_option("--ttl", a->ttl, "Validity (30m, 1h, 2d; default 1h, at most 7d)");
  token->add_flag("--ttl-max-override", a->ttl_override, "Allow a --ttl longer than 7 days");
  token->add_option("--replace", a->replace,
                    "Let a join with this token take over this member name");
  token->add_option("--uses", a->uses, "Joins allowed (default 1)");
  token->add_flag("--list", a->list, "List tokens (ids and state, never secrets)");
  token->add_option("--revoke", a->revoke, "Revoke the token with this id");
  token->add_option("--manager", a->manager_hint, "HOST:PORT to put in the member command");
  bind(token, Token);

  auto* serve = group->add_subcommand("serve", "Serve joins over TLS 1.3 until SIGTERM");
  serve->add_option("ROOT", a->root, "Manager's machine root")->required();
  serve->add_option("--listen", a->listen,
                    "ADDR:PORT (default 0.0.0.0:4763; port 0 = any free port)");
  serve->add_option("--advertise", a->advertise,
                    "HOST:PORT members should dial (repeatable; default: the listen address)");
  serve->add_option("--port-file", a->port_file, "Write the port here once listening");
  serve->add_option("--max-failures", a->max_failures,
                    "Failed authentications per address before refusing its joins (default 10)");
  serve->add_option("--failure-window", a->failure_window,
                    "Seconds a failed authentication counts (default 300)");
  serve->add_option("--handshake-timeout", a->handshake_timeout,
                    "Seconds a client may take per step before the handshake (default 10)");
  bind(serve, Serve);

  auto* members = group->add_subcommand("members", "List the members");
  members->add_option("ROOT", a->root, "Manager's machine root")->required();
  members->add_flag("--pending", a->pending, "Deliveries not confirmed by the member");
  members->add_flag("--revoked", a->revoked, "Members whose certificate was revoked");
  members->add_flag("--all", a->all, "Every record, with its status");
  bind(members, Members);

  auto* events = group->add_subcommand("events", "Show the registry's event log");
  events->add_option("ROOT", a->root, "Manager's machine root")->required();
  events->add_option("--limit", a->limit, "Most recent events to show (default 50)");
  bind(events, Events);

  auto* revoke = group->add_subcommand("revoke", "Revoke a member's certificate");
  revoke->add_option("ROOT", a->root, "Manager's machine root")->required();
  revoke->add_option("MEMBER", a->member, "Member name")->required();
  bind(revoke, Revoke);

  auto* remove = group->add_subcommand("remove", "Remove a member from the registry");
  remove->add_option("ROOT", a->root, "Manager's machine root")->required();
  remove->add_option("MEMBER", a->member, "Member name")->required();
  bind(remove, Remove);

  auto* rotate = group->add_subcommand("rotate", "Create a new key version");
  rotate->add_option("ROOT", a->root, "Manager's machine root")->required();
  rotate
      ->add_option("--lease", a->rotation_lease,
                   "With several managers (etcd): seconds the rotation lock lives if this "
                   "manager stops mid-rotation (default 30; a rotation taking longer writes "
                   "nothing)")
      ->check(CLI::Range(2, 3600));
  bind(rotate, Rotate);

  auto* join = group->add_subcommand(
      "join", "Join an array (a wizard when run on a terminal without a token)");
  join->add_option("ROOT", a->root, "This member's machine root")->required();
  join->add_option("--manager", a->manager, "Manager HOST[:PORT] (default port 4763)");
  join->add_option("--token-file", a->token_file, "File holding the join token");
  join->add_option("--token", a->token_stdin, "'-' to read the join token from stdin");
  join->add_option("--service-identity", a->service_identity,
                   "Identity that must read the keys (default NT AUTHORITY\\NETWORK SERVICE)");
  join->add_option("--member-name", a->member_name,
                   "Name of this member (default: host name and a member key fingerprint prefix)");
  join->add_flag("--rejoin", a->rejoin,
                 "Join again with this member's existing key and certificate (keeps its name)");
  join->add_flag("--yes", a->yes, "Do not ask to confirm the manager's fingerprint");
  join->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(join, Join);

  auto* status = group->add_subcommand("status", "Show this root's array role and state");
  status->add_option("ROOT", a->root, "Machine root")->required();
  status->add_option("--manager", a->manager, "Ask the manager at HOST:PORT (and remember it)");
  status->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(status, Status);

  auto* leave = group->add_subcommand("leave", "Leave the array and remove its keys here");
  leave->add_option("ROOT", a->root, "Member's machine root")->required();
  leave->add_option("--manager", a->manager, "Manager HOST:PORT (remembered once it answers)");
  leave->add_flag("--force", a->force, "Remove the keys even if the manager is unreachable");
  leave->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(leave, Leave);

  auto* sync = group->add_subcommand("sync", "Fetch and install new key versions");
  sync->add_option("ROOT", a->root, "Member's machine root")->required();
  sync->add_option("--manager", a->manager, "Manager HOST:PORT (remembered once it answers)");
  sync->add_option("--timeout", a->timeout, "Seconds to wait for the manager (default 30)");
  bind(sync, Sync);
}

}  // namespace
MKEYS_REGISTER_COMMANDS(100, Register);
}  // namespace mkeys::cli
