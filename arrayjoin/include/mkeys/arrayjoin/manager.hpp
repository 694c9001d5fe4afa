// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The manager side: create an array, issue and revoke join tokens, rotate key versions, and
// serve joins over pinned TLS 1.3.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::arrayjoin {

// mkeys itself acts as SYSTEM when it creates and opens the array containers.
inline constexpr std::string_view kInstallerIdentity = "NT AUTHORITY\\SYSTEM";
inline constexpr std::string_view kDefaultServiceIdentity = "NT AUTHORITY\\NETWORK SERVICE";

// Container names (the same on the manager and on every member).
std::string CaContainerName(std::string_view array);                    // mkeys-array-NAME-ca
std::string RsaContainerName(std::string_view array, std::uint32_t v);  // mkeys-array-NAME-rsa-vN
std::string ConfigContainerName(std::string_view array, std::uint32_t v);  // ...-config-vN
std::string MemberKeyContainerName(std::string_view array);                // ...-member (members)

struct CreatedArray {
  ArrayInfo info;
  KeyVersion version;
};
// Creates the CA (EC P-256), key version 1 (RSA 2048 + 256-bit config key), each a container in
// the root's store created as SYSTEM, and the registry. On failure nothing is left behind.
Result<CreatedArray> CreateArray(const std::filesystem::path& root, std::string_view name);
// The same with the registry in etcd (`--registry etcd://...`): the array's secrets are also
// sealed into etcd under a new registry key, kept in the container mkeys-array-NAME-registry.
Result<CreatedArray> CreateArray(const std::filesystem::path& root, std::string_view name,
                                 const std::vector<std::string>& etcd_endpoints,
                                 const EtcdAccess& etcd_access = {});

struct AddedManager {
  ArrayInfo info;
  std::string manager_id;
  std::vector<std::string> containers;  // created in the new manager's store
};
// Makes `root` another manager of the array whose etcd registry `from_root` (an existing
// manager's root on this machine) uses: the registry key is copied store to store (it never
// passes through etcd or a file), the CA key is unsealed from etcd into the new store, and the
// manager is registered in etcd. `etcd_endpoints` empty: those of `from_root`; `etcd_access`
// null: that of `from_root` too (TLS, client certificate, user).
Result<AddedManager> AddManager(const std::filesystem::path& root,
                                const std::filesystem::path& from_root,
                                const std::vector<std::string>& etcd_endpoints,
                                const EtcdAccess* etcd_access = nullptr);

struct IssuedToken {
  JoinToken token;
  TokenRecord record;
};
// Tokens live at most this long unless the operator says --ttl-max-override.
inline constexpr std::chrono::seconds kMaxTokenTtl{7 * 24 * 3600};

struct TokenOptions {
  std::chrono::seconds ttl{3600};
  std::uint32_t uses = 1;
  std::string replace_name;   // a join with this token may take over this member name
  bool ttl_override = false;  // allow ttl > kMaxTokenTtl
};
// A new token; only its verifier is stored.
Result<IssuedToken> IssueToken(const std::filesystem::path& root, const TokenOptions& options);
Result<IssuedToken> IssueToken(const std::filesystem::path& root, std::chrono::seconds ttl,
                               std::uint32_t uses);

// A new key version (RSA + config key), made current. Members fetch it with `array sync`.
// With several managers (etcd) the rotation first takes the array's rotation lock on a lease of
// `lease` (see Registry::LeadRotation); another manager's rotation meanwhile is refused.
inline constexpr std::chrono::seconds kDefaultRotationLease{30};
Result<KeyVersion> RotateKeys(const std::filesystem::path& root,
                              std::chrono::seconds lease = kDefaultRotationLease);

// The port a manager listens on unless told otherwise, and a member dials when --manager names
// a host without a port. (Unassigned by IANA and below Linux's ephemeral range.)
inline constexpr std::uint16_t kDefaultPort = 4763;

struct ServeOptions {
  std::filesystem::path root;
  std::string listen = "0.0.0.0:4763";
  // HOST:PORT members should dial (learned on every sync). Default: the listen address, with
  // the host name in place of a wildcard address.
  std::vector<std::string> advertise;
  std::optional<std::filesystem::path> port_file;
  int handshake_timeout_seconds = 10;  // slow clients are cut off (slowloris)
  int step_timeout_seconds = 120;      // a member may take this long to install and confirm
  // Failed authentications (bad token proof or secret, bad certificate) per peer address within
  // the window; past it, joins from that address wait until the window has passed. Plain
  // connects and clients that close before their first message count nothing, and a client
  // with a valid member certificate is never refused by this limit.
  int max_failures = 10;
  int failure_window_seconds = 300;
  std::size_t max_connections = 256;  // authenticated connections (members, token holders)
  // Connections still in the TLS handshake or before their first message, per address and in
  // all: when full, the oldest waiting one is closed, so idle floods cannot starve members.
  std::size_t max_pending_per_address = 32;
  std::size_t max_pending = 512;
  // One line per join, refusal and server event (the CLI prints them).
  std::function<void(const std::string&)> on_event;
  // Called once listening, with the port.
  std::function<void(std::uint16_t)> on_ready;
};

// Serves until SIGTERM or SIGINT, then stops cleanly (open connections are closed; a join not
// yet confirmed is not recorded).
Result<void> Serve(const ServeOptions& options);

}  // namespace mkeys::arrayjoin
