// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The key directories of a machine besides RSA/MachineKeys: DSS/MachineKeys (CAPI's DSS and
// Diffie-Hellman CSPs), Crypto/Keys (CNG machine keys of the Microsoft Software Key Storage
// Provider) and Crypto/SystemKeys (CNG keys of the system). Resolvers for the one open path
// (open_path.hpp: the same traverse, descriptor and access checks as CryptAcquireContext; for
// CNG what NCryptOpenKey checks: traverse of the chain and read of the key file) and a lister.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/open_path.hpp"

namespace mkeys::keystore {

enum class KeyDirectory : std::uint8_t {
  kRsaMachineKeys,
  kDssMachineKeys,
  kCngKeys,
  kCngSystemKeys
};

struct KeyDirectoryInfo {
  KeyDirectory dir;
  std::string_view under_crypto;  // "RSA/MachineKeys", "DSS/MachineKeys", "Keys", "SystemKeys"
  std::string_view label;         // how file labels start: "MachineKeys", "Crypto/Keys", ...
  std::string_view provider;      // the provider whose keys live there
  StoreKind kind;
};
// The four directories, RSA/MachineKeys first.
const std::vector<KeyDirectoryInfo>& KeyDirectories();
const KeyDirectoryInfo& InfoOf(KeyDirectory dir);

inline constexpr std::string_view kSoftwareKspName = "Microsoft Software Key Storage Provider";
inline constexpr std::string_view kPlatformKspName = "Microsoft Platform Crypto Provider";
inline constexpr std::string_view kSmartCardKspName = "Microsoft Smart Card Key Storage Provider";

// ProgramData ... <dir> under the root (each component found case-insensitively on volumes;
// the last ones may not exist).
std::vector<std::filesystem::path> KeyDirectoryChain(const MachineRoot& root, KeyDirectory dir);
// "<label>/<file>".
std::string KeyFileLabelIn(KeyDirectory dir, std::string_view file_name);

// NCryptOpenKey's target for key `name` in Crypto/Keys (or SystemKeys): the file name
// CngKeyFileName(name, MachineGuid), or `name` itself when it is already a unique file name
// (<32 hex>_<GUID>[_<32 hex>]).
Result<OpenTarget> ResolveCngKey(const MachineRoot& root, std::string_view name,
                                 KeyDirectory dir = KeyDirectory::kCngKeys);
// CryptAcquireContext's target in RSA or DSS MachineKeys; a unique file name is used as is.
Result<OpenTarget> ResolveCapiKey(const MachineRoot& root, std::string_view name,
                                  KeyDirectory dir = KeyDirectory::kRsaMachineKeys);
// A key file given by path (absolute, relative to the root, or "Crypto/Keys/<f>"): the store
// its directory names. A bare file name is looked for in MachineKeys first, then in the others.
Result<OpenTarget> ResolveKeyFileAnywhere(const MachineRoot& root, std::string_view file);

// One file of a key directory, as `store list` shows it.
struct StoredKey {
  KeyDirectory dir = KeyDirectory::kCngKeys;
  std::string file_name;
  std::string label;      // "Crypto/Keys/<file>"
  std::string provider;   // the directory's provider
  std::string name;       // the key or container name stored in the file ("" when unreadable)
  std::string algorithm;  // "RSA 2048 (e=65537)", "ECDSA P-256"
  std::string format;     // "cng", "capi", "mkeys"
  std::optional<acl::Sid> owner;
  bool corrupt = false;
  bool name_hash_mismatch = false;
  std::string problem;
};
// The files of `dir` (empty when the directory does not exist).
Result<std::vector<StoredKey>> ListKeyDirectory(const MachineRoot& root, KeyDirectory dir);

// Creates `dir` (and Crypto/...) on a model machine with MachineKeys' descriptor, as Windows'
// default gives Crypto/Keys the same one. Existing directories are left alone.
Result<std::filesystem::path> EnsureKeyDirectory(MachineRoot& root, KeyDirectory dir);

}  // namespace mkeys::keystore
