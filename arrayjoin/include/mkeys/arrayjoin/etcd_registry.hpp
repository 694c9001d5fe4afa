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

struct EtcdSettings {
  std::vector<std::string> endpoints;  // HOST:PORT of etcd members (client URLs, http)
  std::string array_id;
  std::string array;       // the array's name
  std::string manager_id;  // this manager
};

// "etcd://HOST:PORT[,HOST:PORT...]" -> the endpoints. kInvalidArgument names the offset.
Result<std::vector<std::string>> ParseEtcdUrl(std::string_view url);
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
