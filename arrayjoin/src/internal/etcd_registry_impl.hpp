// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The etcd registry's class (private to etcd_registry*.cpp). Keys under
// /mkeys/arrays/ARRAY_ID/: info, current, versions/N, tokens/ID, members/NAME, revoked/PIN,
// events/TIME-RANDOM, managers/ID, serve/ID, limits/ID/ADDRESS, secrets/ca, secrets/vN/rsa,
// secrets/vN/config, rotation/lock (on a lease). Values are JSON, secrets sealed bytes.

#include <filesystem>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "internal/etcd_client.hpp"
#include "internal/etcd_json.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"

namespace mkeys::arrayjoin::internal {

inline constexpr int kEtcdSchemaVersion = 1;

std::string EtcdPrefix(std::string_view array_id);
std::string Host();  // this machine's host name ("localhost" when it has none)
// ROOT/mkeys-array/registry.json (no secret; 0600).
Result<void> WriteSettings(const std::filesystem::path& root, const EtcdSettings& s);
// A managers/ID value for `s.manager_id` on this host.
std::string ManagerJson(const EtcdSettings& s, std::int64_t now);

class EtcdRegistry final : public Registry {
 public:
  EtcdRegistry(std::filesystem::path root, EtcdSettings settings)
      : root_(std::move(root)),
        settings_(std::move(settings)),
        client_(settings_.endpoints, settings_.access),
        prefix_(EtcdPrefix(settings_.array_id)) {}

  std::string_view Kind() const override { return "etcd"; }
  std::string Location() const override;
  Result<ArrayInfo> Info() override;
  Result<int> SchemaVersion() override { return kEtcdSchemaVersion; }
  Result<void> AddKeyVersion(const KeyVersion& version) override;
  Result<std::vector<KeyVersion>> KeyVersions() override;
  Result<void> AddToken(const TokenRecord& token) override;
  Result<std::vector<TokenRecord>> Tokens() override;
  Result<std::optional<TokenRecord>> FindToken(std::string_view id) override;
  Result<void> RevokeToken(std::string_view id, std::int64_t now) override;
  Result<bool> ReserveDelivery(std::string_view token_id, const Digest& verifier,
                               const MemberRecord& member, const std::optional<Digest>& proven_pin,
                               std::int64_t now) override;
  Result<void> ConfirmJoin(std::string_view name, const Digest& cert_pin,
                           std::int64_t now) override;
  Result<void> RevokeMember(std::string_view name, std::int64_t now) override;
  Result<bool> IsRevoked(const Digest& cert_pin) override;
  Result<std::vector<MemberRecord>> Members() override;
  Result<std::optional<MemberRecord>> FindMember(std::string_view name) override;
  Result<void> RemoveMember(std::string_view name, std::int64_t now, std::string_view why) override;
  Result<void> LogEvent(std::string_view kind, std::string_view subject, std::string_view detail,
                        std::int64_t now) override;
  Result<std::vector<EventRecord>> Events(std::size_t limit) override;
  Result<void> SaveAddressLimit(const AddressLimit& limit) override;
  Result<void> ClearAddressLimits() override;
  Result<std::vector<AddressLimit>> AddressLimits() override;
  Result<void> SaveServeRecord(const ServeRecord& record) override;
  Result<std::optional<ServeRecord>> LoadServeRecord() override;

  std::string ManagerId() const override { return settings_.manager_id; }
  Result<std::vector<ManagerRecord>> Managers() override;
  Result<std::string> Health() override;
  bool HoldsSecrets() const override { return true; }
  Result<SecretBytes> LoadSecret(std::string_view name) override;
  Result<void> AddKeyVersionWithSecrets(const KeyVersion& version, const SecretBytes& rsa_pkcs8,
                                        const SecretBytes& config_key) override;
  Result<void> LeadRotation(std::chrono::seconds lease) override;
  void EndRotation() override;

  // For creation: the registry key given rather than read from the store.
  void SetRegistryKey(SecretBytes key) { registry_key_ = std::move(key); }
  EtcdClient& client() { return client_; }
  const std::string& prefix() const { return prefix_; }

  // A "events/..." put for a transaction.
  EtcdOp EventOp(std::string_view kind, std::string_view subject, std::string_view detail,
                 std::int64_t now) const;

 private:
  Result<const SecretBytes*> RegistryKey();
  Result<std::optional<EtcdKv>> GetMember(std::string_view name);
  Result<std::optional<EtcdKv>> GetToken(std::string_view id);
  std::string MemberKey(std::string_view name) const {
    return prefix_ + "members/" + std::string(name);
  }
  std::string TokenKey(std::string_view id) const { return prefix_ + "tokens/" + std::string(id); }
  std::string RevokedKey(const Digest& pin) const;
  Result<bool> AddKeyVersionOps(const KeyVersion& version, std::vector<EtcdOp> extra);
  std::string RotationLockKey() const { return prefix_ + "rotation/lock"; }
  // After a rotation write failed its compares: an error when the rotation lock this manager
  // took is no longer its own, nothing when it still is (or none was taken).
  std::optional<Error> LostRotationLock();

  std::filesystem::path root_;
  EtcdSettings settings_;
  std::mutex mutex_;
  EtcdClient client_;
  std::string prefix_;
  std::optional<SecretBytes> registry_key_;
  std::int64_t lock_revision_ = 0;  // the rotation lock's create_revision while held, else 0
  std::int64_t lock_lease_ = 0;
  std::chrono::seconds lock_ttl_{0};
};

}  // namespace mkeys::arrayjoin::internal
