// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/registry.hpp"

#include <sys/stat.h>

#include <chrono>
#include <ctime>

#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin {
namespace {

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
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kRegistrySchemaVersion);

class Stmt final {
 public:
  Stmt(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
  Stmt& Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& BindBlob(int i, std::span<const std::uint8_t> b) {
    sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::int64_t Int(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool IsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string Text(int i) const {
    const auto* p = sqlite3_column_text(stmt_, i);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
  }
  Digest DigestAt(int i) const {
    Digest d{};
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
    if (p != nullptr && sqlite3_column_bytes(stmt_, i) == 32) {
      std::copy(p, p + 32, d.begin());
    }
    return d;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

bool IsCorruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

TokenRecord ReadToken(const Stmt& s) {
  TokenRecord t;
  t.id = s.Text(0);
  t.verifier = s.DigestAt(1);
  t.created_at = s.Int(2);
  t.expires_at = s.Int(3);
  t.uses_total = static_cast<std::uint32_t>(s.Int(4));
  t.uses_left = static_cast<std::uint32_t>(s.Int(5));
  if (!s.IsNull(6)) t.revoked_at = s.Int(6);
  return t;
}

MemberRecord ReadMember(const Stmt& s) {
  MemberRecord m;
  m.name = s.Text(0);
  m.joined_at = s.Int(1);
  m.key_version = static_cast<std::uint32_t>(s.Int(2));
  m.address = s.Text(3);
  m.token_id = s.Text(4);
  m.cert_pem = s.Text(5);
  m.cert_pin = s.DigestAt(6);
  return m;
}

constexpr std::string_view kTokenColumns =
    "id, verifier, created_at, expires_at, uses_total, uses_left, revoked_at";
constexpr std::string_view kMemberColumns =
    "name, joined_at, key_version, address, token_id, cert_pem, cert_pin";

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
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::filesystem::path Registry::DirFor(const std::filesystem::path& root) {
  return root / "mkeys-array";
}
std::filesystem::path Registry::PathFor(const std::filesystem::path& root) {
  return DirFor(root) / "registry.db";
}

Error Registry::DbError(std::string_view what) const {
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

Result<void> Registry::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    return DbError("registry statement failed");
  }
  return Ok();
}

Registry::~Registry() {
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Registry>> Registry::Create(const std::filesystem::path& root,
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
  std::unique_ptr<Registry> reg(new Registry(db, path));
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
  return reg;
}

Result<std::unique_ptr<Registry>> Registry::Open(const std::filesystem::path& root) {
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
  std::unique_ptr<Registry> reg(new Registry(db, path));
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
  return reg;
}

Result<void> Registry::Migrate() {
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

Result<int> Registry::SchemaVersion() {
  std::lock_guard lock(mutex_);
  Stmt v(db_, "SELECT version FROM schema_version");
  if (!v.ok() || v.Step() != SQLITE_ROW) {
    return DbError("cannot read the schema version");
  }
  return static_cast<int>(v.Int(0));
}

Result<ArrayInfo> Registry::Info() {
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

Result<void> Registry::AddKeyVersion(const KeyVersion& version) {
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

Result<std::vector<KeyVersion>> Registry::KeyVersions() {
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

Result<void> Registry::AddToken(const TokenRecord& token) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT INTO tokens(" + std::string(kTokenColumns) + ") VALUES (?,?,?,?,?,?,NULL)");
  if (!s.ok()) return DbError("cannot add a token");
  s.Bind(1, token.id).BindBlob(2, token.verifier).Bind(3, token.created_at);
  s.Bind(4, token.expires_at).Bind(5, static_cast<std::int64_t>(token.uses_total));
  s.Bind(6, static_cast<std::int64_t>(token.uses_left));
  if (s.Step() != SQLITE_DONE) return DbError("cannot add a token");
  return LogEventLocked("token-issued", token.id,
                        "expires " + FormatTime(token.expires_at) + ", " +
                            std::to_string(token.uses_total) + " use(s)",
                        token.created_at);
}

Result<std::vector<TokenRecord>> Registry::Tokens() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT " + std::string(kTokenColumns) + " FROM tokens ORDER BY created_at, id");
  if (!s.ok()) return DbError("cannot read tokens");
  std::vector<TokenRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadToken(s));
  if (rc != SQLITE_DONE) return DbError("cannot read tokens");
  return out;
}

Result<std::optional<TokenRecord>> Registry::FindToken(std::string_view id) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT " + std::string(kTokenColumns) + " FROM tokens WHERE id = ?");
  if (!s.ok()) return DbError("cannot read tokens");
  s.Bind(1, id);
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<TokenRecord>(ReadToken(s));
  if (rc == SQLITE_DONE) return std::optional<TokenRecord>();
  return DbError("cannot read tokens");
}

Result<void> Registry::RevokeToken(std::string_view id, std::int64_t now) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  if (!s.ok()) return DbError("cannot revoke the token");
  s.Bind(1, now).Bind(2, id);
  if (s.Step() != SQLITE_DONE) return DbError("cannot revoke the token");
  if (sqlite3_changes(db_) == 0) {
    Stmt e(db_, "SELECT count(*) FROM tokens WHERE id = ?");
    e.Bind(1, id);
    if (e.ok() && e.Step() == SQLITE_ROW && e.Int(0) == 0) {
      return Error(ErrorCode::kNotFound,
                   "no token with this id ('mkeys array token ROOT --list' lists them)")
          .On(std::string(id));
    }
    return Ok();  // already revoked
  }
  return LogEventLocked("token-revoked", id, "", now);
}

std::optional<TokenRefusal> Registry::CheckToken(const std::optional<TokenRecord>& token,
                                                 const Digest& verifier, std::int64_t now) {
  if (!token) return TokenRefusal::kUnknown;
  if (!ConstantTimeEquals(token->verifier, verifier)) return TokenRefusal::kWrongSecret;
  if (token->revoked_at) return TokenRefusal::kRevoked;
  if (now >= token->expires_at) return TokenRefusal::kExpired;
  if (token->uses_left == 0) return TokenRefusal::kUsedUp;
  return std::nullopt;
}

Result<void> Registry::RecordJoin(std::string_view token_id, const Digest& verifier,
                                  const MemberRecord& member, std::int64_t now) {
  std::lock_guard lock(mutex_);
  MKEYS_TRY(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Error e) -> Result<void> {
    (void)Exec("ROLLBACK");
    return e;
  };
  std::optional<TokenRecord> token;
  {
    Stmt s(db_, "SELECT " + std::string(kTokenColumns) + " FROM tokens WHERE id = ?");
    if (!s.ok()) return fail(DbError("cannot read tokens"));
    s.Bind(1, token_id);
    const int rc = s.Step();
    if (rc == SQLITE_ROW) {
      token = ReadToken(s);
    } else if (rc != SQLITE_DONE) {
      return fail(DbError("cannot read tokens"));
    }
  }
  if (auto refusal = CheckToken(token, verifier, now)) {
    return fail(Error(ErrorCode::kPeerRefused, std::string(TokenRefusalText(*refusal)))
                    .On("token " + std::string(token_id)));
  }
  Stmt use(db_, "UPDATE tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0");
  Stmt put(db_, "INSERT OR REPLACE INTO members(" + std::string(kMemberColumns) +
                    ") VALUES (?,?,?,?,?,?,?)");
  if (!use.ok() || !put.ok()) return fail(DbError("cannot record the member"));
  use.Bind(1, token_id);
  put.Bind(1, member.name).Bind(2, member.joined_at);
  put.Bind(3, static_cast<std::int64_t>(member.key_version)).Bind(4, member.address);
  put.Bind(5, member.token_id).Bind(6, member.cert_pem).BindBlob(7, member.cert_pin);
  if (use.Step() != SQLITE_DONE || sqlite3_changes(db_) != 1 || put.Step() != SQLITE_DONE) {
    return fail(DbError("cannot record the member"));
  }
  if (auto r = LogEventLocked("joined", member.name,
                              "from " + member.address + " with token " + member.token_id +
                                  ", key version " + std::to_string(member.key_version),
                              now);
      !r) {
    return fail(std::move(r).error());
  }
  return Exec("COMMIT");
}

Result<std::vector<MemberRecord>> Registry::Members() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT " + std::string(kMemberColumns) + " FROM members ORDER BY name");
  if (!s.ok()) return DbError("cannot read members");
  std::vector<MemberRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadMember(s));
  if (rc != SQLITE_DONE) return DbError("cannot read members");
  return out;
}

Result<std::optional<MemberRecord>> Registry::FindMember(std::string_view name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT " + std::string(kMemberColumns) + " FROM members WHERE name = ?");
  if (!s.ok()) return DbError("cannot read members");
  s.Bind(1, name);
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<MemberRecord>(ReadMember(s));
  if (rc == SQLITE_DONE) return std::optional<MemberRecord>();
  return DbError("cannot read members");
}

Result<void> Registry::RemoveMember(std::string_view name, std::int64_t now, std::string_view why) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "DELETE FROM members WHERE name = ?");
  if (!s.ok()) return DbError("cannot remove the member");
  s.Bind(1, name);
  if (s.Step() != SQLITE_DONE) return DbError("cannot remove the member");
  if (sqlite3_changes(db_) == 0) {
    return Error(ErrorCode::kNotFound, "no such member ('mkeys array members ROOT' lists them)")
        .On(std::string(name));
  }
  return LogEventLocked("removed", name, why, now);
}

Result<void> Registry::LogEvent(std::string_view kind, std::string_view subject,
                                std::string_view detail, std::int64_t now) {
  std::lock_guard lock(mutex_);
  return LogEventLocked(kind, subject, detail, now);
}

Result<void> Registry::LogEventLocked(std::string_view kind, std::string_view subject,
                                      std::string_view detail, std::int64_t now) {
  Stmt s(db_, "INSERT INTO events(at, kind, subject, detail) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return DbError("cannot log an event");
  s.Bind(1, now).Bind(2, kind).Bind(3, subject).Bind(4, detail);
  if (s.Step() != SQLITE_DONE) return DbError("cannot log an event");
  return Ok();
}

Result<std::vector<EventRecord>> Registry::Events(std::size_t limit) {
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

}  // namespace mkeys::arrayjoin
