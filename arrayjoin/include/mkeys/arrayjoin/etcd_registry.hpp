// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The etcd v3 registry: several managers of one array share it (docs/arrayjoin.md, "More than
// one manager"). Each manager root names it in ROOT/mkeys-array/registry.json (endpoints, the
// array's key prefix, this manager's id; no secrets). The array's secrets (the CA key, each key
// version's RSA key and config key) are kept in etcd sealed with AES-256-GCM under the array's
// registry key, which each manager holds in its own store (container mkeys-array-NAME-registry,
// encrypted under that machine's master key like every container) and which never goes to etcd.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

namespace mkeys::arrayjoin {

// How a manager reaches etcd beyond its endpoints (docs/arrayjoin.md, "TLS and authentication
// towards etcd"). Kept in registry.json: file paths and the user name, never a password.
struct EtcdAccess {
  bool tls = false;           // etcds://: TLS 1.2+, etcd's certificate checked against ca_file
  std::string ca_file;        // --etcd-ca (required with tls)
  std::string cert_file;      // --etcd-cert (client certificate), with key_file
  std::string key_file;       // --etcd-key
  std::string user;           // --etcd-user: etcd v3 auth
  std::string password_file;  // --etcd-password-file; empty: $MKEYS_ETCD_PASSWORD at each start
  bool empty() const { return !tls && ca_file.empty() && cert_file.empty() && user.empty(); }
};
// Checks the combination of options (etcds:// needs --etcd-ca, --etcd-cert needs --etcd-key, a
// password file needs a user, the files exist). kInvalidArgument names the option.
Result<void> CheckEtcdAccess(const EtcdAccess& access);

struct EtcdSettings {
  std::vector<std::string> endpoints;  // HOST:PORT of etcd members (client URLs)
  std::string array_id;
  std::string array;       // the array's name
  std::string manager_id;  // this manager
  EtcdAccess access;
  // Set while this root's request to become a manager waits for approval (the request id is the
  // manager id): the registry does not open until `array manager add ROOT --complete` finishes.
  std::string pending_request;
  // 64 hex digits: the array key fingerprint given with --array-fingerprint when asking to become
  // a manager; --complete refuses an array with another pin. Empty when none was given.
  std::string expected_pin;
};

// "etcd://HOST:PORT[,HOST:PORT...]" -> the endpoints; "etcds://..." the same over TLS (sets
// *tls when given). kInvalidArgument names the offset.
Result<std::vector<std::string>> ParseEtcdUrl(std::string_view url, bool* tls = nullptr);
std::string RegistryKeyContainerName(std::string_view array);  // mkeys-array-NAME-registry

Result<std::unique_ptr<Registry>> OpenEtcdRegistry(const std::filesystem::path& root);

// The secrets of a new array, sealed into etcd when it is created there.
struct ArraySecrets {
  SecretBytes registry_key;  // 32 bytes, the AES-256-GCM key
  SecretBytes ca_pkcs8;
  SecretBytes rsa_pkcs8;
  SecretBytes config_key;
};
// Writes a new array into etcd (fails with kExists if etcd holds one with this id), registers
// `settings.manager_id` as its first manager and writes ROOT/mkeys-array/registry.json.
Result<std::unique_ptr<Registry>> CreateEtcdRegistry(const std::filesystem::path& root,
                                                     const EtcdSettings& settings,
                                                     const ArrayInfo& info, const KeyVersion& kv,
                                                     const ArraySecrets& secrets);
// Registers another manager of the array in etcd and writes its registry.json.
Result<std::unique_ptr<Registry>> AddEtcdManager(const std::filesystem::path& root,
                                                 const EtcdSettings& settings,
                                                 const SecretBytes& registry_key);
Result<EtcdSettings> LoadEtcdSettings(const std::filesystem::path& root);

// AES-256-GCM under the registry key; `name` (and the array id) is the associated data, so a
// sealed value cannot be moved to another name or array. Output: nonce (12) || ciphertext || tag.
Result<std::string> SealSecret(const SecretBytes& key, std::string_view array_id,
                               std::string_view name, const SecretBytes& plaintext);
Result<SecretBytes> OpenSealedSecret(const SecretBytes& key, std::string_view array_id,
                                     std::string_view name, std::string_view sealed);

}  // namespace mkeys::arrayjoin
