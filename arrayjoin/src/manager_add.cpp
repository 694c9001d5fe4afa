// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array manager add`: another manager of an array whose registry is in etcd.
#include <openssl/rand.h>

#include "internal/etcd_managers.hpp"
#include "internal/etcd_registry_impl.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::arrayjoin {
namespace internal {

// The registry key from an existing manager's store.
Result<SecretBytes> ReadRegistryKey(const std::filesystem::path& from_root,
                                    std::string_view array) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(from_root));
  MKEYS_ASSIGN_OR_RETURN(auto system, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  const std::string name = RegistryKeyContainerName(array);
  MKEYS_ASSIGN_OR_RETURN(auto opened, store.Open(name, system));
  if (!opened.symmetric || opened.symmetric->size() != 32) {
    return Error(ErrorCode::kCorrupt, "the registry key container holds no 256-bit key").On(name);
  }
  return *opened.symmetric;
}

Result<void> CheckFreeRoot(const std::filesystem::path& root) {
  if (auto pending = LoadEtcdSettings(root); pending && !pending->pending_request.empty()) {
    return Error(ErrorCode::kExists, "this root's request " + pending->pending_request +
                                         " to become a manager of array " + pending->array +
                                         " waits for approval; after it, run 'mkeys array "
                                         "manager add " +
                                         root.string() + " --complete'")
        .On(Registry::ConfigPathFor(root).string());
  }
  if (Registry::ExistsFor(root)) {
    return Error(ErrorCode::kExists, "this root already manages an array ('mkeys array status')")
        .On(Registry::DirFor(root).string());
  }
  std::error_code ec;
  if (std::filesystem::exists(Registry::DirFor(root) / "member.json", ec)) {
    return Error(ErrorCode::kExists, "this root is a member of an array; leave it first")
        .On(root.string());
  }
  return Ok();
}

}  // namespace internal

using internal::CheckFreeRoot;
using internal::ReadRegistryKey;

Result<AddedManager> AddManager(const std::filesystem::path& root,
                                const std::filesystem::path& from_root,
                                const std::vector<std::string>& etcd_endpoints,
                                const EtcdAccess* etcd_access) {
  MKEYS_TRY(CheckFreeRoot(root));
  auto from = LoadEtcdSettings(from_root);
  if (!from) {
    if (from.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kInvalidArgument,
                   "--from names no manager whose registry is in etcd (only arrays created "
                   "with --registry etcd://... can have several managers)")
          .On(from_root.string());
    }
    return std::move(from).error();
  }
  if (!from->pending_request.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "--from names a root whose own request to become a manager waits for approval")
        .On(from_root.string());
  }
  MKEYS_ASSIGN_OR_RETURN(SecretBytes key, ReadRegistryKey(from_root, from->array));
  EtcdSettings settings = *from;
  if (!etcd_endpoints.empty()) settings.endpoints = etcd_endpoints;
  if (etcd_access != nullptr) {
    MKEYS_TRY(CheckEtcdAccess(*etcd_access));
    settings.access = *etcd_access;
  }
  std::uint8_t id[8];
  RAND_bytes(id, sizeof id);
  settings.manager_id = HexEncode(id);

  internal::EtcdRegistry probe(root, settings);
  probe.SetRegistryKey(key);
  MKEYS_ASSIGN_OR_RETURN(ArrayInfo info, probe.Info());
  MKEYS_ASSIGN_OR_RETURN(SecretBytes ca_der, probe.LoadSecret("ca"));
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr ca_key, PrivateKeyFromPkcs8(ca_der));
  MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(ca_key.get()));
  if (!ConstantTimeEquals(pin, info.pin)) {
    return Error(ErrorCode::kCorrupt, "the CA key sealed in etcd does not match the array's pin")
        .On(probe.Location());
  }

  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto system, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  AddedManager out;
  out.info = info;
  out.manager_id = settings.manager_id;
  auto result = [&]() -> Result<void> {
    keystore::KeyMaterial key_material;
    key_material.symmetric = key;
    keystore::CreateOptions key_options;
    key_options.material = std::move(key_material);
    MKEYS_ASSIGN_OR_RETURN(auto s1,
                           store.Create(RegistryKeyContainerName(info.name), system, key_options));
    (void)s1;
    out.containers.push_back(RegistryKeyContainerName(info.name));
    MKEYS_ASSIGN_OR_RETURN(auto ca_private, keystore::PrivateKey::Adopt(ca_key.release()));
    keystore::KeyMaterial ca_material;
    ca_material.signature = std::move(ca_private);
    keystore::CreateOptions ca_options;
    ca_options.material = std::move(ca_material);
    MKEYS_ASSIGN_OR_RETURN(auto s2, store.Create(CaContainerName(info.name), system, ca_options));
    (void)s2;
    out.containers.push_back(CaContainerName(info.name));
    MKEYS_ASSIGN_OR_RETURN(auto reg, AddEtcdManager(root, settings, key));
    (void)reg;
    return Ok();
  }();
  if (!result) {
    for (const auto& name : out.containers) {
      if (auto r = store.Delete(name, system); !r) {
        Logger("arrayjoin")
            ->warn("cannot remove container {} while undoing: {}", name, r.error().ToString());
      }
    }
    return std::move(result).error();
  }
  return out;
}

}  // namespace mkeys::arrayjoin
