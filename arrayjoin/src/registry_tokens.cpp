// SPDX-License-Identifier: GPL-3.0-or-later
// The registry's tokens, and the one transaction that spends a token use before any key
// material leaves the manager.
#include "internal/registry_rows.hpp"
#include "internal/sqlite_registry.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin {

using internal::kTokenColumns;
using internal::SqliteRegistry;
using internal::Stmt;

namespace internal {

TokenRecord ReadToken(const Stmt& s) {
  TokenRecord t;
  t.id = s.Text(0);
  t.verifier = s.DigestAt(1);
  t.created_at = s.Int(2);
  t.expires_at = s.Int(3);
  t.uses_total = static_cast<std::uint32_t>(s.Int(4));
  t.uses_left = static_cast<std::uint32_t>(s.Int(5));
  if (!s.IsNull(6)) t.revoked_at = s.Int(6);
  t.replace_name = s.Text(7);
  return t;
}

}  // namespace internal

Result<void> SqliteRegistry::AddToken(const TokenRecord& token) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT INTO tokens(" + std::string(kTokenColumns) + ") VALUES (?,?,?,?,?,?,NULL,?)");
  if (!s.ok()) return DbError("cannot add a token");
  s.Bind(1, token.id).BindBlob(2, token.verifier).Bind(3, token.created_at);
  s.Bind(4, token.expires_at).Bind(5, static_cast<std::int64_t>(token.uses_total));
  s.Bind(6, static_cast<std::int64_t>(token.uses_left)).Bind(7, token.replace_name);
  if (s.Step() != SQLITE_DONE) return DbError("cannot add a token");
  std::string detail = "expires " + FormatTime(token.expires_at) + ", " +
                       std::to_string(token.uses_total) + " use(s)";
  if (!token.replace_name.empty()) detail += ", may replace member " + token.replace_name;
  return LogEventLocked("token-issued", token.id, detail, token.created_at);
}

Result<std::vector<TokenRecord>> SqliteRegistry::Tokens() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT " + std::string(kTokenColumns) + " FROM tokens ORDER BY created_at, rowid");
  if (!s.ok()) return DbError("cannot read tokens");
  std::vector<TokenRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(internal::ReadToken(s));
  if (rc != SQLITE_DONE) return DbError("cannot read tokens");
  return out;
}

Result<std::optional<TokenRecord>> SqliteRegistry::FindToken(std::string_view id) {
  std::lock_guard lock(mutex_);
  return FindTokenLocked(id);
}

Result<std::optional<TokenRecord>> SqliteRegistry::FindTokenLocked(std::string_view id) {
  Stmt s(db_, "SELECT " + std::string(kTokenColumns) + " FROM tokens WHERE id = ?");
  if (!s.ok()) return DbError("cannot read tokens");
  s.Bind(1, id);
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<TokenRecord>(internal::ReadToken(s));
  if (rc == SQLITE_DONE) return std::optional<TokenRecord>();
  return DbError("cannot read tokens");
}

Result<void> SqliteRegistry::RevokeToken(std::string_view id, std::int64_t now) {
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

bool Registry::ResumesDelivery(const std::optional<MemberRecord>& existing,
                               const std::optional<TokenRecord>& token, std::string_view token_id,
                               const Digest& verifier, const MemberRecord& member) {
  return existing && existing->status == MemberStatus::kDelivered &&
         existing->token_id == token_id &&
         ConstantTimeEquals(existing->cert_pin, member.cert_pin) && token &&
         ConstantTimeEquals(token->verifier, verifier);
}

Result<void> SqliteRegistry::CheckNameFree(const MemberRecord& member, const TokenRecord& token,
                                           const std::optional<Digest>& proven_pin) {
  MKEYS_ASSIGN_OR_RETURN(auto existing, FindMemberLocked(member.name));
  if (proven_pin) {
    MKEYS_ASSIGN_OR_RETURN(bool revoked, IsRevokedLocked(*proven_pin));
    if (revoked) {
      return Error(ErrorCode::kAccessDenied, "the certificate this client presented was revoked")
          .On(member.name);
    }
  }
  if (!existing) return Ok();
  if (token.replace_name == member.name) return Ok();
  if (proven_pin && existing->status != MemberStatus::kRevoked &&
      ConstantTimeEquals(existing->cert_pin, *proven_pin)) {
    return Ok();
  }
  return Error(ErrorCode::kExists,
               "the array already has a member named " + member.name + " (" +
                   std::string(MemberStatusName(existing->status)) + " since " +
                   FormatTime(existing->status == MemberStatus::kDelivered ? existing->delivered_at
                                                                           : existing->joined_at) +
                   ", certificate " + FormatFingerprint(existing->cert_pin) + ")")
      .On(member.name);
}

Result<bool> SqliteRegistry::ReserveDelivery(std::string_view token_id, const Digest& verifier,
                                             const MemberRecord& member,
                                             const std::optional<Digest>& proven_pin,
                                             std::int64_t now) {
  std::lock_guard lock(mutex_);
  MKEYS_TRY(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Error e) -> Result<bool> {
    (void)Exec("ROLLBACK");
    return e;
  };
  auto token = FindTokenLocked(token_id);
  if (!token) return fail(std::move(token).error());
  auto existing = FindMemberLocked(member.name);
  if (!existing) return fail(std::move(existing).error());
  const bool resume = ResumesDelivery(*existing, *token, token_id, verifier, member);
  if (auto refusal = CheckToken(*token, verifier, now);
      refusal && !(resume && *refusal == TokenRefusal::kUsedUp)) {
    return fail(Error(ErrorCode::kPeerRefused, std::string(TokenRefusalText(*refusal)))
                    .On("token " + std::string(token_id)));
  }
  if (!resume) {
    if (auto r = CheckNameFree(member, **token, proven_pin); !r) return fail(std::move(r).error());
    Stmt use(db_, "UPDATE tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0");
    if (!use.ok()) return fail(DbError("cannot reserve the token use"));
    use.Bind(1, token_id);
    if (use.Step() != SQLITE_DONE || sqlite3_changes(db_) != 1) {
      return fail(DbError("cannot reserve the token use"));
    }
  }
  Stmt put(db_, "INSERT OR REPLACE INTO members(" + std::string(internal::kMemberColumns) +
                    ") VALUES (?,?,?,?,?,?,?,'delivered',?)");
  if (!put.ok()) return fail(DbError("cannot record the delivery"));
  put.Bind(1, member.name).Bind(2, std::int64_t{0});
  put.Bind(3, static_cast<std::int64_t>(member.key_version)).Bind(4, member.address);
  put.Bind(5, member.token_id).Bind(6, member.cert_pem).BindBlob(7, member.cert_pin);
  put.Bind(8, now);
  if (put.Step() != SQLITE_DONE) return fail(DbError("cannot record the delivery"));
  std::string detail = "keys for key version " + std::to_string(member.key_version) +
                       " to certificate " + FormatFingerprint(member.cert_pin) + " at " +
                       member.address + " with token " + member.token_id;
  detail += resume ? " (the same member key again: its delivery resumed, no new use)"
                   : " (use spent; not confirmed yet)";
  if (auto r = LogEventLocked(resume ? "delivery-resumed" : "delivered", member.name, detail, now);
      !r) {
    return fail(std::move(r).error());
  }
  MKEYS_TRY(Exec("COMMIT"));
  return resume;
}

Result<void> SqliteRegistry::ConfirmJoin(std::string_view name, const Digest& cert_pin,
                                         std::int64_t now) {
  std::lock_guard lock(mutex_);
  MKEYS_TRY(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Error e) -> Result<void> {
    (void)Exec("ROLLBACK");
    return e;
  };
  Stmt s(db_,
         "UPDATE members SET status = 'joined', joined_at = ? "
         "WHERE name = ? AND status = 'delivered' AND cert_pin = ?");
  if (!s.ok()) return fail(DbError("cannot record the member"));
  s.Bind(1, now).Bind(2, name).BindBlob(3, cert_pin);
  if (s.Step() != SQLITE_DONE) return fail(DbError("cannot record the member"));
  if (sqlite3_changes(db_) != 1) {
    return fail(Error(ErrorCode::kPeerRefused,
                      "the delivery was removed or revoked on the manager before the "
                      "confirmation arrived")
                    .On(std::string(name)));
  }
  if (auto r = LogEventLocked("joined", name,
                              "confirmed by certificate " + FormatFingerprint(cert_pin), now);
      !r) {
    return fail(std::move(r).error());
  }
  return Exec("COMMIT");
}

Result<void> Registry::RecordJoin(std::string_view token_id, const Digest& verifier,
                                  const MemberRecord& member, std::int64_t now) {
  MKEYS_ASSIGN_OR_RETURN(bool resumed,
                         ReserveDelivery(token_id, verifier, member, std::nullopt, now));
  (void)resumed;
  return ConfirmJoin(member.name, member.cert_pin, now);
}

}  // namespace mkeys::arrayjoin
