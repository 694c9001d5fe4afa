// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/registry.hpp"

#include <sys/stat.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "internal/registry_rows.hpp"
#include "internal/sqlite_registry.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/time.hpp"

namespace mkeys::arrayjoin {
namespace {

using internal::SqliteRegistry;
using internal::Stmt;

// Each entry migrates the schema from version i to i + 1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE array_info(
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  array_id TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
  pin BLOB NOT NULL, ca_cert_pem TEXT NOT NULL, current_version INTEGER NOT NULL);
CREATE TABLE key_versions(
  version INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,
  rsa_container TEXT NOT NULL, config_container TEXT NOT NULL);
CREATE TABLE tokens(
  id TEXT PRIMARY KEY, verifier BLOB NOT NULL, created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, uses_total INTEGER NOT NULL, uses_left INTEGER NOT NULL,
  revoked_at INTEGER);
CREATE TABLE members(
  name TEXT PRIMARY KEY, joined_at INTEGER NOT NULL, key_version INTEGER NOT NULL,
  address TEXT NOT NULL, token_id TEXT NOT NULL, cert_pem TEXT NOT NULL, cert_pin BLOB NOT NULL);
CREATE TABLE events(
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL,
  subject TEXT NOT NULL, detail TEXT NOT NULL);
)sql",
    // 2: deliveries before confirmation, replaceable names, revoked certificates, the failure
    // limits' state and the serving endpoints.
    R"sql(
ALTER TABLE members ADD COLUMN status TEXT NOT NULL DEFAULT 'joined';
ALTER TABLE members ADD COLUMN delivered_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN replace_name TEXT NOT NULL DEFAULT '';
CREATE TABLE revoked_certs(
  cert_pin BLOB PRIMARY KEY, member TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE address_limits(
  address TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at INTEGER NOT NULL,
  retry_at INTEGER NOT NULL);
CREATE TABLE serve_state(
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1), endpoints TEXT NOT NULL,
  max_failures INTEGER NOT NULL, failure_window INTEGER NOT NULL, started_at INTEGER NOT NULL,
  pid INTEGER NOT NULL);
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kRegistrySchemaVersion);

bool IsCorruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

}  // namespace

std::string_view TokenRefusalText(TokenRefusal refusal) {
  switch (refusal) {
    case TokenRefusal::kUnknown:
      return "unknown token id";
    case TokenRefusal::kWrongSecret:
      return "token secret does not match";
    case TokenRefusal::kRevoked:
      return "token was revoked";
    case TokenRefusal::kExpired:
      return "token expired";
    case TokenRefusal::kUsedUp:
      return "token has no uses left";
  }
  return "token refused";
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(std::int64_t unix_seconds) {
  return time::UtcTimestamp(static_cast<std::time_t>(unix_seconds), "%Y-%m-%d %H:%M:%S UTC");
}

std::filesystem::path Registry::DirFor(const std::filesystem::path& root) {
  return root / "mkeys-array";
}
std::filesystem::path Registry::PathFor(const std::filesystem::path& root) {
  return DirFor(root) / "registry.db";
}
std::filesystem::path Registry::ConfigPathFor(const std::filesystem::path& root) {
  return DirFor(root) / "registry.json";
}
bool Registry::ExistsFor(const std::filesystem::path& root) {
  std::error_code ec;
  return std::filesystem::exists(PathFor(root), ec) ||
         std::filesystem::exists(ConfigPathFor(root), ec);
}

Result<std::unique_ptr<Registry>> Registry::Create(const std::filesystem::path& root,
                                                   const ArrayInfo& info) {
  if (std::error_code ec; std::filesystem::exists(ConfigPathFor(root), ec)) {
    return Error(ErrorCode::kExists,
                 "an array registry (etcd) is already configured here; "
                 "'mkeys array status' shows it")
        .On(ConfigPathFor(root).string());
  }
  return SqliteRegistry::Create(root, info);
}

Result<std::unique_ptr<Registry>> Registry::Open(const std::filesystem::path& root) {
  if (std::error_code ec; std::filesystem::exists(ConfigPathFor(root), ec)) {
    return OpenEtcdRegistry(root);
  }
  return SqliteRegistry::Open(root);
}

Result<SecretBytes> Registry::LoadSecret(std::string_view name) {
  return Error(ErrorCode::kNotFound, "this registry holds no secrets").On(std::string(name));
}

Result<void> Registry::AddKeyVersionWithSecrets(const KeyVersion& version, const SecretBytes&,
                                                const SecretBytes&) {
  return AddKeyVersion(version);
}

Error SqliteRegistry::DbError(std::string_view what) const {
  const int rc = sqlite3_extended_errcode(db_);
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db_);
  if (IsCorruption(rc)) {
    return Error(ErrorCode::kCorrupt,
                 msg +
                     " (the registry is damaged; restore it from a backup — mkeys never "
                     "resets a registry on its own)")
        .On(path_.string());
  }
  return Error(ErrorCode::kIo, std::move(msg)).On(path_.string());
}

Result<void> SqliteRegistry::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    return DbError("registry statement failed");
  }
  return Ok();
}

SqliteRegistry::~SqliteRegistry() {
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Registry>> SqliteRegistry::Create(const std::filesystem::path& root,
                                                         const ArrayInfo& info) {
  const auto path = PathFor(root);
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return Error(ErrorCode::kExists,
                 "an array registry already exists here; "
                 "'mkeys array status' shows it")
        .On(path.string());
  }
  std::filesystem::create_directories(DirFor(root), ec);
  if (ec) {
    return Error(ErrorCode::kIo, "cannot create the registry directory: " + ec.message())
        .On(DirFor(root).string());
  }
  ::chmod(DirFor(root).c_str(), 0700);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXCLUSIVE,
      nullptr);
  std::unique_ptr<SqliteRegistry> reg(new SqliteRegistry(db, path));
  if (rc != SQLITE_OK) {
    return reg->DbError("cannot create the registry");
  }
  ::chmod(path.c_str(), 0600);
  MKEYS_TRY(reg->Migrate());
  MKEYS_TRY(reg->Exec("BEGIN IMMEDIATE"));
  Stmt s(reg->db_,
         "INSERT INTO array_info(singleton, array_id, name, created_at, pin, ca_cert_pem, "
         "current_version) VALUES (1, ?, ?, ?, ?, ?, ?)");
  if (!s.ok()) {
    (void)reg->Exec("ROLLBACK");
    return reg->DbError("cannot write the array");
  }
  s.Bind(1, info.array_id).Bind(2, info.name).Bind(3, info.created_at).BindBlob(4, info.pin);
  s.Bind(5, info.ca_cert_pem).Bind(6, static_cast<std::int64_t>(info.current_version));
  if (s.Step() != SQLITE_DONE) {
    (void)reg->Exec("ROLLBACK");
    return reg->DbError("cannot write the array");
  }
  MKEYS_TRY(reg->LogEventLocked("created", info.name, "array " + info.array_id, info.created_at));
  MKEYS_TRY(reg->Exec("COMMIT"));
  return std::unique_ptr<Registry>(std::move(reg));
}

Result<std::unique_ptr<Registry>> SqliteRegistry::Open(const std::filesystem::path& root) {
  const auto path = PathFor(root);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Error(ErrorCode::kNotFound,
                 "no array registry: this root is not an array manager (create one with "
                 "'mkeys array create ROOT --name NAME')")
        .On(path.string());
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<SqliteRegistry> reg(new SqliteRegistry(db, path));
  if (rc != SQLITE_OK) {
    return reg->DbError("cannot open the registry");
  }
  sqlite3_busy_timeout(db, 10000);
  // quick_check reads every page: a damaged file is reported here rather than half-way
  // through a join.
  {
    Stmt check(db, "PRAGMA quick_check");
    if (!check.ok()) {
      return reg->DbError("cannot read the registry");
    }
    const int step = check.Step();
    if (step != SQLITE_ROW) {
      return reg->DbError("cannot read the registry");
    }
    const std::string verdict = check.Text(0);
    if (verdict != "ok") {
      return Error(ErrorCode::kCorrupt, "the registry fails its integrity check (" + verdict +
                                            "); restore it from a backup — mkeys never resets a "
                                            "registry on its own")
          .On(path.string());
    }
  }
  MKEYS_TRY(reg->Migrate());
  return std::unique_ptr<Registry>(std::move(reg));
}

Result<void> SqliteRegistry::Migrate() {
  MKEYS_TRY(Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"));
  sqlite3_busy_timeout(db_, 10000);
  MKEYS_TRY(Exec("BEGIN IMMEDIATE"));
  int version = 0;
  {
    Stmt has(db_,
             "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'");
    if (!has.ok() || has.Step() != SQLITE_ROW) {
      (void)Exec("ROLLBACK");
      return DbError("cannot read the registry schema");
    }
    if (has.Int(0) == 0) {
      Stmt any(db_, "SELECT count(*) FROM sqlite_master");
      if (!any.ok() || any.Step() != SQLITE_ROW) {
        (void)Exec("ROLLBACK");
        return DbError("cannot read the registry schema");
      }
      if (any.Int(0) != 0) {
        (void)Exec("ROLLBACK");
        return Error(ErrorCode::kCorrupt,
                     "this SQLite database has tables but no schema_version: it is not an mkeys "
                     "registry, or it is damaged; mkeys will not overwrite it")
            .On(path_.string());
      }
      if (auto r = Exec("CREATE TABLE schema_version(version INTEGER NOT NULL); "
                        "INSERT INTO schema_version VALUES (0)");
          !r) {
        (void)Exec("ROLLBACK");
        return r;
      }
    } else {
      Stmt v(db_, "SELECT version FROM schema_version");
      if (!v.ok() || v.Step() != SQLITE_ROW) {
        (void)Exec("ROLLBACK");
        return Error(ErrorCode::kCorrupt, "the registry's schema_version table is empty")
            .On(path_.string());
      }
      version = static_cast<int>(v.Int(0));
    }
  }
  if (version > kRegistrySchemaVersion || version < 0) {
    (void)Exec("ROLLBACK");
    return Error(ErrorCode::kUnsupported,
                 "the registry has schema version " + std::to_string(version) +
                     ", newer than this mkeys understands (" +
                     std::to_string(kRegistrySchemaVersion) + "); use a newer mkeys")
        .On(path_.string());
  }
  for (int v = version; v < kRegistrySchemaVersion; ++v) {
    if (auto r = Exec(kMigrations[v]); !r) {
      (void)Exec("ROLLBACK");
      return r;
    }
    if (auto r = Exec("UPDATE schema_version SET version = " + std::to_string(v + 1)); !r) {
      (void)Exec("ROLLBACK");
      return r;
    }
  }
  return Exec("COMMIT");
}

Result<int> SqliteRegistry::SchemaVersion() {
  std::lock_guard lock(mutex_);
  Stmt v(db_, "SELECT version FROM schema_version");
  if (!v.ok() || v.Step() != SQLITE_ROW) {
    return DbError("cannot read the schema version");
  }
  return static_cast<int>(v.Int(0));
}

Result<ArrayInfo> SqliteRegistry::Info() {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "SELECT array_id, name, created_at, pin, ca_cert_pem, current_version FROM array_info");
  if (!s.ok()) {
    return DbError("cannot read the array");
  }
  const int rc = s.Step();
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) {
      return Error(ErrorCode::kCorrupt, "the registry holds no array").On(path_.string());
    }
    return DbError("cannot read the array");
  }
  ArrayInfo info;
  info.array_id = s.Text(0);
  info.name = s.Text(1);
  info.created_at = s.Int(2);
  info.pin = s.DigestAt(3);
  info.ca_cert_pem = s.Text(4);
  info.current_version = static_cast<std::uint32_t>(s.Int(5));
  return info;
}

Result<void> SqliteRegistry::AddKeyVersion(const KeyVersion& version) {
  std::lock_guard lock(mutex_);
  MKEYS_TRY(Exec("BEGIN IMMEDIATE"));
  Stmt s(db_,
         "INSERT INTO key_versions(version, created_at, rsa_container, config_container) "
         "VALUES (?, ?, ?, ?)");
  Stmt u(db_, "UPDATE array_info SET current_version = ?");
  if (!s.ok() || !u.ok()) {
    (void)Exec("ROLLBACK");
    return DbError("cannot add a key version");
  }
  s.Bind(1, static_cast<std::int64_t>(version.version)).Bind(2, version.created_at);
  s.Bind(3, version.rsa_container).Bind(4, version.config_container);
  u.Bind(1, static_cast<std::int64_t>(version.version));
  if (s.Step() != SQLITE_DONE || u.Step() != SQLITE_DONE) {
    auto err = DbError("cannot add a key version");
    (void)Exec("ROLLBACK");
    return err;
  }
  MKEYS_TRY(LogEventLocked("key-version", "v" + std::to_string(version.version),
                           "containers " + version.rsa_container + ", " + version.config_container,
                           version.created_at));
  return Exec("COMMIT");
}

Result<std::vector<KeyVersion>> SqliteRegistry::KeyVersions() {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "SELECT version, created_at, rsa_container, config_container FROM key_versions "
         "ORDER BY version");
  if (!s.ok()) return DbError("cannot read key versions");
  std::vector<KeyVersion> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({static_cast<std::uint32_t>(s.Int(0)), s.Int(1), s.Text(2), s.Text(3)});
  }
  if (rc != SQLITE_DONE) return DbError("cannot read key versions");
  return out;
}

Result<void> SqliteRegistry::LogEvent(std::string_view kind, std::string_view subject,
                                      std::string_view detail, std::int64_t now) {
  std::lock_guard lock(mutex_);
  return LogEventLocked(kind, subject, detail, now);
}

Result<void> SqliteRegistry::LogEventLocked(std::string_view kind, std::string_view subject,
                                            std::string_view detail, std::int64_t now) {
  Stmt s(db_, "INSERT INTO events(at, kind, subject, detail) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return DbError("cannot log an event");
  s.Bind(1, now).Bind(2, kind).Bind(3, subject).Bind(4, detail);
  if (s.Step() != SQLITE_DONE) return DbError("cannot log an event");
  return Ok();
}

Result<std::vector<EventRecord>> SqliteRegistry::Events(std::size_t limit) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT id, at, kind, subject, detail FROM events ORDER BY id DESC LIMIT ?");
  if (!s.ok()) return DbError("cannot read events");
  s.Bind(1, static_cast<std::int64_t>(limit));
  std::vector<EventRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4)});
  }
  if (rc != SQLITE_DONE) return DbError("cannot read events");
  return out;
}

Result<void> SqliteRegistry::SaveAddressLimit(const AddressLimit& limit) {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "INSERT OR REPLACE INTO address_limits(address, failures, last_at, retry_at) "
         "VALUES (?, ?, ?, ?)");
  if (!s.ok()) return DbError("cannot save the failure limit");
  s.Bind(1, limit.address).Bind(2, limit.failures).Bind(3, limit.last_at).Bind(4, limit.retry_at);
  if (s.Step() != SQLITE_DONE) return DbError("cannot save the failure limit");
  return Ok();
}

Result<void> SqliteRegistry::ClearAddressLimits() {
  std::lock_guard lock(mutex_);
  return Exec("DELETE FROM address_limits");
}

Result<std::vector<AddressLimit>> SqliteRegistry::AddressLimits() {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "SELECT address, failures, last_at, retry_at FROM address_limits ORDER BY last_at DESC");
  if (!s.ok()) return DbError("cannot read the failure limits");
  std::vector<AddressLimit> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back({s.Text(0), s.Int(1), s.Int(2), s.Int(3)});
  if (rc != SQLITE_DONE) return DbError("cannot read the failure limits");
  return out;
}

Result<void> SqliteRegistry::SaveServeRecord(const ServeRecord& record) {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "INSERT OR REPLACE INTO serve_state(singleton, endpoints, max_failures, failure_window, "
         "started_at, pid) VALUES (1, ?, ?, ?, ?, ?)");
  if (!s.ok()) return DbError("cannot save the serving state");
  s.Bind(1, nlohmann::json(record.endpoints).dump()).Bind(2, record.max_failures);
  s.Bind(3, record.failure_window).Bind(4, record.started_at).Bind(5, record.pid);
  if (s.Step() != SQLITE_DONE) return DbError("cannot save the serving state");
  return Ok();
}

Result<std::optional<ServeRecord>> SqliteRegistry::LoadServeRecord() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT endpoints, max_failures, failure_window, started_at, pid FROM serve_state");
  if (!s.ok()) return DbError("cannot read the serving state");
  const int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ServeRecord>();
  if (rc != SQLITE_ROW) return DbError("cannot read the serving state");
  ServeRecord r;
  auto doc = nlohmann::json::parse(s.Text(0), nullptr, false);
  if (doc.is_array()) {
    for (const auto& e : doc) {
      if (e.is_string()) r.endpoints.push_back(e.get<std::string>());
    }
  }
  r.max_failures = s.Int(1);
  r.failure_window = s.Int(2);
  r.started_at = s.Int(3);
  r.pid = s.Int(4);
  return std::optional<ServeRecord>(std::move(r));
}

}  // namespace mkeys::arrayjoin
