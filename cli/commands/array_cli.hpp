// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// `mkeys array ...`: the options every array subcommand shares and the handlers, split by side
// (array_manager.cpp, array_member.cpp); array.cpp registers them.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/arrayjoin/member.hpp"
#include "mkeys/arrayjoin/registry.hpp"

namespace mkeys::cli::array_cmd {

namespace aj = arrayjoin;

// `array manager add ROOT --complete` before a manager approved the request (docs/exit-codes.md).
inline constexpr int kExitWaiting = 5;

struct ArrayArgs {
  std::string root;
  std::string name;
  std::string ttl = "1h";
  bool ttl_override = false;
  std::uint32_t uses = 1;
  bool list = false;
  std::string revoke;
  std::string replace;
  std::string manager_hint;
  std::string listen = "0.0.0.0:" + std::to_string(aj::kDefaultPort);
  std::vector<std::string> advertise;
  std::string port_file;
  int max_failures = 10;
  int failure_window = 300;
  int handshake_timeout = 10;
  std::string member;
  std::string manager;
  std::string token_file;
  std::string token_stdin;
  std::string service_identity = std::string(aj::kDefaultServiceIdentity);
  std::string member_name;
  bool rejoin = false;
  bool pending = false;
  bool revoked = false;
  bool all = false;
  std::size_t limit = 50;
  bool yes = false;
  bool force = false;
  int timeout = 30;
  int rotation_lease = 30;        // array rotate --lease (seconds)
  std::string registry;           // etcd://HOST:PORT[,...]; empty: SQLite
  std::string from;               // an existing manager's root (array manager add)
  std::string array_ref;          // --array NAME_OR_ID: request to manage it (array manager add)
  std::string array_fingerprint;  // --array-fingerprint FP: the pin the array must have
  bool complete = false;          // --complete: finish an approved request (array manager add)
  std::string request_id;         // array manager approve|deny
  std::string fingerprint;        // array manager approve --fingerprint
  // TLS and authentication towards etcd (docs/arrayjoin.md); never a password here.
  std::string etcd_ca, etcd_cert, etcd_key, etcd_user, etcd_password_file;
  bool EtcdOptionsGiven() const {
    return !etcd_ca.empty() || !etcd_cert.empty() || !etcd_key.empty() || !etcd_user.empty() ||
           !etcd_password_file.empty();
  }
};

// --etcd-* as the registry keeps them (absolute paths); `tls` from the etcds:// scheme.
aj::EtcdAccess EtcdAccessFrom(const ArrayArgs& a, bool tls);

int Fail(Context& ctx, const Error& error);
std::string Prompt(const std::string& question, bool secret);

// The manager's side (array_manager.cpp).
int Create(Context& ctx, const ArrayArgs& a);
int Token(Context& ctx, const ArrayArgs& a);
int Serve(Context& ctx, const ArrayArgs& a);
int Members(Context& ctx, const ArrayArgs& a);
int Events(Context& ctx, const ArrayArgs& a);
int Remove(Context& ctx, const ArrayArgs& a);
int Revoke(Context& ctx, const ArrayArgs& a);
int Rotate(Context& ctx, const ArrayArgs& a);
int ManagerStatus(Context& ctx, const ArrayArgs& a);

// Several managers (array_managers.cpp).
int ManagerAdd(Context& ctx, const ArrayArgs& a);
int ManagerList(Context& ctx, const ArrayArgs& a);
// By approval, across machines (array_manager_approval.cpp).
int ManagerRequest(Context& ctx, const ArrayArgs& a);
int ManagerComplete(Context& ctx, const ArrayArgs& a);
int ManagerApprove(Context& ctx, const ArrayArgs& a);
int ManagerDeny(Context& ctx, const ArrayArgs& a);
// The pending requests after the managers (`array manager list`).
void PrintManagerRequests(Context& ctx, const ArrayArgs& a);
nlohmann::json ManagerRequestsJson(const ArrayArgs& a);
// The registry's kind and place, the other managers and the store's health, for `array status`.
void PrintRegistryStatus(Context& ctx, aj::Registry& reg);
nlohmann::json RegistryStatusJson(aj::Registry& reg);

// The member's side (array_member.cpp).
int Join(Context& ctx, const ArrayArgs& a);
int Status(Context& ctx, const ArrayArgs& a);
int Leave(Context& ctx, const ArrayArgs& a);
int Sync(Context& ctx, const ArrayArgs& a);

}  // namespace mkeys::cli::array_cmd
