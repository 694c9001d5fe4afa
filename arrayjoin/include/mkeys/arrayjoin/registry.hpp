// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The manager's registry. By default one SQLite database (WAL journal, versioned schema with
// migrations) at <root>/mkeys-array/registry.db holding the array, its key versions, the join
// tokens (only their SHA-256 verifiers), the members and an event log.
//
// A registry that cannot be read is an error (kCorrupt) naming the file; it is never reset or
// recreated behind the user's back. Thread-safe: one connection guarded by a mutex; several
// processes may use one registry at once (WAL, busy timeout).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

namespace mkeys::arrayjoin {

inline constexpr int kRegistrySchemaVersion = 2;

struct ArrayInfo {
  std::string array_id;  // 32 hex digits, random at creation
  std::string name;
  std::int64_t created_at = 0;  // Unix seconds
  Digest pin{};                 // SHA-256 of the manager's (CA) public key
  std::string ca_cert_pem;
  std::uint32_t current_version = 0;
};

struct KeyVersion {
  std::uint32_t version = 0;
  std::int64_t created_at = 0;
  std::string rsa_container;  // container names in the manager's store
  std::string config_container;
};

struct TokenRecord {
  std::string id;
  Digest verifier{};
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
  std::uint32_t uses_total = 0;
  std::uint32_t uses_left = 0;
  std::optional<std::int64_t> revoked_at;
  // A join with this token may take over this member name (`array token --replace NAME`).
  std::string replace_name;
};

// Where a member stands. Keys leave the manager only after a use of the token was reserved and
// the delivery recorded (kDelivered); the member's confirmation makes it kJoined.
enum class MemberStatus : std::uint8_t { kDelivered, kJoined, kRevoked };
std::string_view MemberStatusName(MemberStatus status);  // "delivered", "joined", "revoked"

struct MemberRecord {
  std::string name;
  MemberStatus status = MemberStatus::kJoined;
  std::int64_t delivered_at = 0;
  std::int64_t joined_at = 0;
  std::uint32_t key_version = 0;
  std::string address;  // the peer address it joined from
  std::string token_id;
  std::string cert_pem;
  Digest cert_pin{};  // SHA-256 of the member certificate's public key
};

struct EventRecord {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string kind;     // "created", "token-issued", "joined", "join-refused", ...
  std::string subject;  // a member, a token id, a peer address
  std::string detail;   // never a secret
};

// The failure limit's state for one peer address, as `array status` shows it.
struct AddressLimit {
  std::string address;
  std::int64_t failures = 0;  // failed authentications within the window
  std::int64_t last_at = 0;
  std::int64_t retry_at = 0;  // 0: not refused; else joins from it are refused until then
};

// What the running (or last) `array serve` announced: where members find it and its limits.
struct ServeRecord {
  std::vector<std::string> endpoints;  // HOST:PORT members may dial
  std::int64_t max_failures = 0;
  std::int64_t failure_window = 0;
  std::int64_t started_at = 0;
  std::int64_t pid = 0;
};

// Why a token cannot be used, as the member will be told.
enum class TokenRefusal : std::uint8_t { kUnknown, kWrongSecret, kRevoked, kExpired, kUsedUp };

// Another manager of the same array (several managers share one etcd registry).
struct ManagerRecord {
  std::string id;    // 16 hex digits, random when the manager is added
  std::string host;  // the host name it was added on
  std::int64_t added_at = 0;
  std::vector<std::string> endpoints;  // what its `array serve` announces (empty: not serving)
  std::int64_t started_at = 0;
  std::int64_t pid = 0;
};

// The registry's rules, whatever stores it: SQLite (one manager; the default) or etcd v3
// (several managers, etcd_registry.hpp). Every implementation keeps the same guarantees: a
// token use is reserved once, the delivery and its event recorded in the same transaction,
// member names are unique.
class Registry {
 public:
  static std::filesystem::path DirFor(const std::filesystem::path& root);
  // The SQLite file; ConfigPathFor: the file naming an etcd registry instead.
  static std::filesystem::path PathFor(const std::filesystem::path& root);
  static std::filesystem::path ConfigPathFor(const std::filesystem::path& root);
  // Whether the root manages an array (either kind of registry).
  static bool ExistsFor(const std::filesystem::path& root);

  // Creates the SQLite registry for a new array. Fails with kExists if one is there.
  static Result<std::unique_ptr<Registry>> Create(const std::filesystem::path& root,
                                                  const ArrayInfo& info);
  // Opens the root's registry: etcd when ROOT/mkeys-array/registry.json names one, else the
  // SQLite file, migrating an older schema. kNotFound when the root has none ("not an array
  // manager"), kCorrupt when the file is not a readable registry, kUnsupported when its schema
  // is newer than this mkeys.
  static Result<std::unique_ptr<Registry>> Open(const std::filesystem::path& root);
  virtual ~Registry() = default;
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  virtual std::string_view Kind() const = 0;  // "sqlite" or "etcd"
  virtual std::string Location() const = 0;   // the file, or the etcd endpoints

  virtual Result<ArrayInfo> Info() = 0;
  virtual Result<int> SchemaVersion() = 0;

  // Adds a key version and makes it current.
  virtual Result<void> AddKeyVersion(const KeyVersion& version) = 0;
  virtual Result<std::vector<KeyVersion>> KeyVersions() = 0;

  virtual Result<void> AddToken(const TokenRecord& token) = 0;
  virtual Result<std::vector<TokenRecord>> Tokens() = 0;
  virtual Result<std::optional<TokenRecord>> FindToken(std::string_view id) = 0;
  // Marks the token revoked. kNotFound for an unknown id.
  virtual Result<void> RevokeToken(std::string_view id, std::int64_t now) = 0;

  // Checks without consuming: nullopt if the token may be used now, else why not.
  static std::optional<TokenRefusal> CheckToken(const std::optional<TokenRecord>& token,
                                                const Digest& verifier, std::int64_t now);

  // A reservation for a name already kDelivered to the same member key (cert_pin) with this
  // token: the member retrying (through this or another manager, or after a lost reply). It
  // resumes that delivery and takes no new use; the token must still be valid apart from its
  // uses (not revoked, not expired).
  static bool ResumesDelivery(const std::optional<MemberRecord>& existing,
                              const std::optional<TokenRecord>& token, std::string_view token_id,
                              const Digest& verifier, const MemberRecord& member);

  // At most once: in one transaction, before any key byte is sent, checks the token again,
  // takes one use, checks the member name and records the member as kDelivered with a
  // "delivered" event (certificate fingerprint, address). A name already in the registry is
  // taken over only when `proven_pin` (the key the client proved over mutual TLS) is that
  // member's, or the token was issued with --replace for this name. A resumed delivery
  // (ResumesDelivery) takes no use and records a "delivery-resumed" event instead; the result
  // is true then. Changes nothing on failure: kPeerRefused (the token), kExists (the name) or
  // kAccessDenied (a revoked certificate).
  virtual Result<bool> ReserveDelivery(std::string_view token_id, const Digest& verifier,
                                       const MemberRecord& member,
                                       const std::optional<Digest>& proven_pin,
                                       std::int64_t now) = 0;
  // The member confirmed: kDelivered -> kJoined, "joined" event. kPeerRefused when the record
  // is gone, revoked or holds another certificate.
  virtual Result<void> ConfirmJoin(std::string_view name, const Digest& cert_pin,
                                   std::int64_t now) = 0;
  // ReserveDelivery then ConfirmJoin (tests and tools that record a finished join).
  Result<void> RecordJoin(std::string_view token_id, const Digest& verifier,
                          const MemberRecord& member, std::int64_t now);
  // Revokes a member's certificate: its requests are refused from now on, whatever its name
  // later holds. kNotFound for an unknown name.
  virtual Result<void> RevokeMember(std::string_view name, std::int64_t now) = 0;
  virtual Result<bool> IsRevoked(const Digest& cert_pin) = 0;
  virtual Result<std::vector<MemberRecord>> Members() = 0;
  virtual Result<std::optional<MemberRecord>> FindMember(std::string_view name) = 0;
  // Removes a member. kNotFound for an unknown name.
  virtual Result<void> RemoveMember(std::string_view name, std::int64_t now,
                                    std::string_view why) = 0;

  virtual Result<void> LogEvent(std::string_view kind, std::string_view subject,
                                std::string_view detail, std::int64_t now) = 0;
  virtual Result<std::vector<EventRecord>> Events(std::size_t limit) = 0;

  // The failure limits and the serving state belong to this manager (with several managers,
  // each keeps its own).
  virtual Result<void> SaveAddressLimit(const AddressLimit& limit) = 0;
  virtual Result<void> ClearAddressLimits() = 0;
  virtual Result<std::vector<AddressLimit>> AddressLimits() = 0;
  virtual Result<void> SaveServeRecord(const ServeRecord& record) = 0;
  virtual Result<std::optional<ServeRecord>> LoadServeRecord() = 0;

  // Several managers (etcd). SQLite: one manager, no others, always healthy, no secrets.
  virtual std::string ManagerId() const { return {}; }
  virtual Result<std::vector<ManagerRecord>> Managers() { return std::vector<ManagerRecord>{}; }
  // One line on the store's health ("3 of 3 endpoints healthy, leader ...").
  virtual Result<std::string> Health() { return std::string("ok (local file)"); }
  // Whether the array's secrets (the CA key, each version's keys) are kept in the registry,
  // sealed under the array's registry key, so that every manager can load them.
  virtual bool HoldsSecrets() const { return false; }
  // One sealed secret by name ("ca", "v3/rsa", "v3/config"); kNotFound when absent.
  virtual Result<SecretBytes> LoadSecret(std::string_view name);
  // Rotation leadership. With several managers (etcd) one rotates at a time: LeadRotation takes
  // the array's rotation lock on a lease of `lease` (a leader that dies lets it go when the lease
  // runs out), or fails naming the manager that holds it; while it is held, every rotation write
  // also checks that the lock is still this one (fencing: a leader whose lease ran out writes
  // nothing). EndRotation lets it go. SQLite has one manager: there is nothing to take.
  virtual Result<void> LeadRotation(std::chrono::seconds lease) {
    (void)lease;
    return Ok();
  }
  virtual void EndRotation() {}
  // AddKeyVersion, together with the version's secrets in the same transaction (a rotation is
  // all there or not at all). Without HoldsSecrets(), AddKeyVersion.
  virtual Result<void> AddKeyVersionWithSecrets(const KeyVersion& version,
                                                const SecretBytes& rsa_pkcs8,
                                                const SecretBytes& config_key);
};

std::string_view TokenRefusalText(TokenRefusal refusal);
std::int64_t NowSeconds();
// "2024-05-01 12:00:00 UTC"
std::string FormatTime(std::int64_t unix_seconds);

}  // namespace mkeys::arrayjoin
