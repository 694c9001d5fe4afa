// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/manager.hpp"

#include <openssl/rand.h>

#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::arrayjoin {
namespace {

std::string Prefix(std::string_view array) {
  return "mkeys-array-" + std::string(array);
}

// Creates one container holding `material` as SYSTEM, no extra grants (the manager's own keys).
Result<void> PutContainer(keystore::KeyStore& store, const acl::Token& system,
                          std::string_view name, keystore::KeyMaterial material) {
  keystore::CreateOptions options;
  options.material = std::move(material);
  MKEYS_ASSIGN_OR_RETURN(auto summary, store.Create(name, system, options));
  (void)summary;
  return Ok();
}

// A key version's secrets, kept when the registry seals them too (etcd).
struct VersionSecrets {
  SecretBytes rsa_pkcs8;
  SecretBytes config_key;
};

Result<KeyVersion> MakeKeyVersion(keystore::KeyStore& store, const acl::Token& system,
                                  std::string_view array, std::uint32_t version,
                                  std::vector<std::string>& created,
                                  VersionSecrets* secrets = nullptr) {
  KeyVersion kv;
  kv.version = version;
  kv.created_at = NowSeconds();
  kv.rsa_container = RsaContainerName(array, version);
  kv.config_container = ConfigContainerName(array, version);
  MKEYS_ASSIGN_OR_RETURN(auto rsa,
                         keystore::PrivateKey::Generate({keystore::KeyAlgorithm::kRsa, 2048}));
  if (secrets != nullptr) {
    MKEYS_ASSIGN_OR_RETURN(secrets->rsa_pkcs8, rsa.ToPkcs8());
  }
  keystore::KeyMaterial rsa_material;
  rsa_material.exchange = std::move(rsa);
  MKEYS_TRY(PutContainer(store, system, kv.rsa_container, std::move(rsa_material)));
  created.push_back(kv.rsa_container);
  keystore::KeyMaterial config_material;
  config_material.symmetric = SecretBytes::Random(32);
  if (secrets != nullptr) secrets->config_key = *config_material.symmetric;
  MKEYS_TRY(PutContainer(store, system, kv.config_container, std::move(config_material)));
  created.push_back(kv.config_container);
  return kv;
}

void RemoveContainers(keystore::KeyStore& store, const acl::Token& system,
                      const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (auto r = store.Delete(name, system); !r) {
      Logger("arrayjoin")
          ->warn("cannot remove container {} while undoing: {}", name, r.error().ToString());
    }
  }
}

std::string RandomId() {
  std::uint8_t id[8];
  RAND_bytes(id, sizeof id);
  return HexEncode(id);
}

// The etcd half of CreateArray: the registry key's container, then the array in etcd.
Result<void> CreateOnEtcd(keystore::KeyStore& store, const acl::Token& system,
                          const std::filesystem::path& root, const std::vector<std::string>& etcd,
                          const EtcdAccess& access, CreatedArray& out, ArraySecrets& secrets,
                          std::vector<std::string>& created) {
  secrets.registry_key = SecretBytes::Random(32);
  keystore::KeyMaterial key_material;
  key_material.symmetric = secrets.registry_key;
  const std::string container = RegistryKeyContainerName(out.info.name);
  MKEYS_TRY(PutContainer(store, system, container, std::move(key_material)));
  created.push_back(container);
  EtcdSettings settings{etcd, out.info.array_id, out.info.name, RandomId(), access, {}, {}};
  out.info.current_version = out.version.version;
  MKEYS_ASSIGN_OR_RETURN(auto registry,
                         CreateEtcdRegistry(root, settings, out.info, out.version, secrets));
  (void)registry;
  return Ok();
}

}  // namespace

std::string CaContainerName(std::string_view array) {
  return Prefix(array) + "-ca";
}
std::string RsaContainerName(std::string_view array, std::uint32_t v) {
  return Prefix(array) + "-rsa-v" + std::to_string(v);
}
std::string ConfigContainerName(std::string_view array, std::uint32_t v) {
  return Prefix(array) + "-config-v" + std::to_string(v);
}
std::string MemberKeyContainerName(std::string_view array) {
  return Prefix(array) + "-member";
}

Result<CreatedArray> CreateArray(const std::filesystem::path& root, std::string_view name) {
  return CreateArray(root, name, {});
}

Result<CreatedArray> CreateArray(const std::filesystem::path& root, std::string_view name,
                                 const std::vector<std::string>& etcd_endpoints,
                                 const EtcdAccess& etcd_access) {
  MKEYS_TRY(ValidateArrayName(name));
  if (!etcd_endpoints.empty()) MKEYS_TRY(CheckEtcdAccess(etcd_access));
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  std::error_code ec;
  if (Registry::ExistsFor(root)) {
    return Error(ErrorCode::kExists,
                 "this root already manages an array ('mkeys array status' "
                 "shows it)")
        .On(Registry::DirFor(root).string());
  }
  if (std::filesystem::exists(Registry::DirFor(root) / "member.json", ec)) {
    return Error(ErrorCode::kExists,
                 "this root is a member of an array; leave it first "
                 "('mkeys array leave')")
        .On(root.string());
  }
  MKEYS_ASSIGN_OR_RETURN(auto system, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  std::vector<std::string> created;
  auto result = [&]() -> Result<CreatedArray> {
    MKEYS_ASSIGN_OR_RETURN(PkeyPtr ca_key, GenerateEcP256());
    MKEYS_ASSIGN_OR_RETURN(X509Ptr ca_cert, MakeCaCertificate(ca_key.get(), name));
    MKEYS_ASSIGN_OR_RETURN(auto ca_private, keystore::PrivateKey::Adopt(ca_key.release()));
    MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(ca_private.get()));
    ArraySecrets secrets;
    if (!etcd_endpoints.empty()) {
      MKEYS_ASSIGN_OR_RETURN(secrets.ca_pkcs8, ca_private.ToPkcs8());
    }
    keystore::KeyMaterial ca_material;
    ca_material.signature = std::move(ca_private);
    MKEYS_TRY(PutContainer(store, system, CaContainerName(name), std::move(ca_material)));
    created.push_back(CaContainerName(name));
    VersionSecrets vs;
    MKEYS_ASSIGN_OR_RETURN(KeyVersion kv, MakeKeyVersion(store, system, name, 1, created, &vs));
    CreatedArray out;
    std::uint8_t id[16];
    RAND_bytes(id, sizeof id);
    out.info.array_id = HexEncode(id);
    out.info.name = std::string(name);
    out.info.created_at = NowSeconds();
    out.info.pin = pin;
    MKEYS_ASSIGN_OR_RETURN(out.info.ca_cert_pem, CertToPem(ca_cert.get()));
    out.info.current_version = 0;
    out.version = kv;
    if (!etcd_endpoints.empty()) {
      secrets.rsa_pkcs8 = std::move(vs.rsa_pkcs8);
      secrets.config_key = std::move(vs.config_key);
      MKEYS_TRY(
          CreateOnEtcd(store, system, root, etcd_endpoints, etcd_access, out, secrets, created));
      return out;
    }
    MKEYS_ASSIGN_OR_RETURN(auto registry, Registry::Create(root, out.info));
    if (auto r = registry->AddKeyVersion(kv); !r) {
      registry.reset();
      std::filesystem::remove_all(Registry::DirFor(root), ec);
      return std::move(r).error();
    }
    out.info.current_version = kv.version;
    out.version = kv;
    return out;
  }();
  if (!result) {
    RemoveContainers(store, system, created);
  }
  return result;
}

Result<IssuedToken> IssueToken(const std::filesystem::path& root, std::chrono::seconds ttl,
                               std::uint32_t uses) {
  TokenOptions options;
  options.ttl = ttl;
  options.uses = uses;
  return IssueToken(root, options);
}

Result<IssuedToken> IssueToken(const std::filesystem::path& root, const TokenOptions& options) {
  const auto ttl = options.ttl;
  const auto uses = options.uses;
  if (ttl.count() <= 0) {
    return Error(ErrorCode::kInvalidArgument, "--ttl must be positive");
  }
  if (ttl > kMaxTokenTtl && !options.ttl_override) {
    return Error(ErrorCode::kInvalidArgument,
                 "--ttl is longer than 7 days, the most a join token lives; a token is a "
                 "password for the array's keys (--ttl-max-override allows longer)")
        .On(std::to_string(ttl.count()) + " s");
  }
  if (!options.replace_name.empty()) MKEYS_TRY(ValidateMemberName(options.replace_name));
  if (uses == 0) {
    return Error(ErrorCode::kInvalidArgument, "--uses must be at least 1");
  }
  MKEYS_ASSIGN_OR_RETURN(auto registry, Registry::Open(root));
  MKEYS_ASSIGN_OR_RETURN(ArrayInfo info, registry->Info());
  JoinToken token = JoinToken::Generate(info.pin);
  TokenRecord record;
  record.id = token.id();
  record.verifier = token.Verifier();
  record.created_at = NowSeconds();
  record.expires_at = record.created_at + ttl.count();
  record.uses_total = uses;
  record.uses_left = uses;
  record.replace_name = options.replace_name;
  MKEYS_TRY(registry->AddToken(record));
  return IssuedToken{std::move(token), record};
}

Result<KeyVersion> RotateKeys(const std::filesystem::path& root, std::chrono::seconds lease) {
  MKEYS_ASSIGN_OR_RETURN(auto registry, Registry::Open(root));
  // One manager rotates at a time; the lock goes when this function returns, however it does.
  MKEYS_TRY(registry->LeadRotation(lease));
  struct LetGo {
    Registry& registry;
    ~LetGo() { registry.EndRotation(); }
  } let_go{*registry};
  MKEYS_ASSIGN_OR_RETURN(ArrayInfo info, registry->Info());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto system, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  std::vector<std::string> created;
  VersionSecrets secrets;
  auto kv = MakeKeyVersion(store, system, info.name, info.current_version + 1, created,
                           registry->HoldsSecrets() ? &secrets : nullptr);
  if (!kv) {
    RemoveContainers(store, system, created);
    return kv;
  }
  FaultPoint("manager", "rotate-before-write");
  // With etcd this is one transaction that checks no other manager rotated meanwhile and that
  // this one still holds the rotation lock (fencing): the new version, its sealed secrets and
  // the event are all written, or nothing is.
  auto added = registry->HoldsSecrets()
                   ? registry->AddKeyVersionWithSecrets(*kv, secrets.rsa_pkcs8, secrets.config_key)
                   : registry->AddKeyVersion(*kv);
  if (auto r = std::move(added); !r) {
    RemoveContainers(store, system, created);
    return std::move(r).error();
  }
  return kv;
}

}  // namespace mkeys::arrayjoin
