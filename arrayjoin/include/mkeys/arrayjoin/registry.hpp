// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The manager's registry: one SQLite database (WAL journal, versioned schema with migrations)
// at <root>/mkeys-array/registry.db holding the array, its key versions, the join tokens (only
// their SHA-256 verifiers), the members and an event log.
//
// A registry that cannot be read is an error (kCorrupt) naming the file; it is never reset or
// recreated behind the user's back. Thread-safe: one connection guarded by a mutex; several
// processes may use one registry at once (WAL, busy timeout).

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/core/result.hpp"

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

class Registry final {
 public:
  static std::filesystem::path DirFor(const std::filesystem::path& root);
  static std::filesystem::path PathFor(const std::filesystem::path& root);

  // Creates the registry for a new array. Fails with kExists if one is there.
  static Result<std::unique_ptr<Registry>> Create(const std::filesystem::path& root,
                                                  const ArrayInfo& info);
  // Opens an existing registry, migrating an older schema. kNotFound when the root has none
  // ("not an array manager"), kCorrupt when the file is not a readable registry, kUnsupported
  // when its schema is newer than this mkeys.
  static Result<std::unique_ptr<Registry>> Open(const std::filesystem::path& root);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Result<ArrayInfo> Info();
  Result<int> SchemaVersion();

  // Adds a key version and makes it current.
  Result<void> AddKeyVersion(const KeyVersion& version);
  Result<std::vector<KeyVersion>> KeyVersions();

  Result<void> AddToken(const TokenRecord& token);
  Result<std::vector<TokenRecord>> Tokens();
  Result<std::optional<TokenRecord>> FindToken(std::string_view id);
  // Marks the token revoked. kNotFound for an unknown id.
  Result<void> RevokeToken(std::string_view id, std::int64_t now);

  // Checks without consuming: nullopt if the token may be used now, else why not.
  static std::optional<TokenRefusal> CheckToken(const std::optional<TokenRecord>& token,
                                                const Digest& verifier, std::int64_t now);

  // At most once: in one transaction, before any key byte is sent, checks the token again,
  // takes one use, checks the member name and records the member as kDelivered with a
  // "delivered" event (certificate fingerprint, address). A name already in the registry is
  // taken over only when `proven_pin` (the key the client proved over mutual TLS) is that
  // member's, or the token was issued with --replace for this name. Changes nothing on failure:
  // kPeerRefused (the token), kExists (the name) or kAccessDenied (a revoked certificate).
  Result<void> ReserveDelivery(std::string_view token_id, const Digest& verifier,
                               const MemberRecord& member, const std::optional<Digest>& proven_pin,
                               std::int64_t now);
  // The member confirmed: kDelivered -> kJoined, "joined" event. kPeerRefused when the record
  // is gone, revoked or holds another certificate.
  Result<void> ConfirmJoin(std::string_view name, const Digest& cert_pin, std::int64_t now);
  // ReserveDelivery then ConfirmJoin (tests and tools that record a finished join).
  Result<void> RecordJoin(std::string_view token_id, const Digest& verifier,
                          const MemberRecord& member, std::int64_t now);
  // Revokes a member's certificate: its requests are refused from now on, whatever its name
  // later holds. kNotFound for an unknown name.
  Result<void> RevokeMember(std::string_view name, std::int64_t now);
  Result<bool> IsRevoked(const Digest& cert_pin);
  Result<std::vector<MemberRecord>> Members();
  Result<std::optional<MemberRecord>> FindMember(std::string_view name);
  // Removes a member. kNotFound for an unknown name.
  Result<void> RemoveMember(std::string_view name, std::int64_t now, std::string_view why);

  Result<void> LogEvent(std::string_view kind, std::string_view subject, std::string_view detail,
                        std::int64_t now);
  Result<std::vector<EventRecord>> Events(std::size_t limit);

  Result<void> SaveAddressLimit(const AddressLimit& limit);
  Result<void> ClearAddressLimits();
  Result<std::vector<AddressLimit>> AddressLimits();
  Result<void> SaveServeRecord(const ServeRecord& record);
  Result<std::optional<ServeRecord>> LoadServeRecord();

 private:
  Registry(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  Result<void> Migrate();
  Result<void> Exec(std::string_view sql);
  Error DbError(std::string_view what) const;
  Result<std::optional<MemberRecord>> FindMemberLocked(std::string_view name);
  Result<std::optional<TokenRecord>> FindTokenLocked(std::string_view id);
  Result<bool> IsRevokedLocked(const Digest& cert_pin);
  Result<void> CheckNameFree(const MemberRecord& member, const TokenRecord& token,
                             const std::optional<Digest>& proven_pin);
  Result<void> LogEventLocked(std::string_view kind, std::string_view subject,
                              std::string_view detail, std::int64_t now);

  std::mutex mutex_;
  sqlite3* db_;
  std::filesystem::path path_;
};

std::string_view TokenRefusalText(TokenRefusal refusal);
std::int64_t NowSeconds();
// "2024-05-01 12:00:00 UTC"
std::string FormatTime(std::int64_t unix_seconds);

}  // namespace mkeys::arrayjoin
