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

struct IssuedToken {
  JoinToken token;
  TokenRecord record;
};
// A new token valid for `ttl` and `uses` joins; only its verifier is stored.
Result<IssuedToken> IssueToken(const std::filesystem::path& root, std::chrono::seconds ttl,
                               std::uint32_t uses);

// A new key version (RSA + config key), made current. Members fetch it with `array sync`.
Result<KeyVersion> RotateKeys(const std::filesystem::path& root);

struct ServeOptions {
  std::filesystem::path root;
  std::string listen = "127.0.0.1:0";
  std::optional<std::filesystem::path> port_file;
  int handshake_timeout_seconds = 10;  // slow clients are cut off (slowloris)
  int step_timeout_seconds = 120;      // a member may take this long to install and confirm
  int max_failures = 10;               // per peer address within failure_window
  int failure_window_seconds = 300;
  std::size_t max_connections = 256;
  // One line per join, refusal and server event (the CLI prints them).
  std::function<void(const std::string&)> on_event;
  // Called once listening, with the port.
  std::function<void(std::uint16_t)> on_ready;
};

// Serves until SIGTERM or SIGINT, then stops cleanly (open connections are closed; a join not
// yet confirmed is not recorded).
Result<void> Serve(const ServeOptions& options);

}  // namespace mkeys::arrayjoin
