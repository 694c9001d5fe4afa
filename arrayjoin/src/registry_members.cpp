// SPDX-License-Identifier: GPL-3.0-or-later
// The registry's members: listing, removal and certificate revocation.
#include "internal/registry_rows.hpp"
#include "internal/sqlite_registry.hpp"
#include "mkeys/arrayjoin/registry.hpp"

namespace mkeys::arrayjoin {

using internal::kMemberColumns;
using internal::SqliteRegistry;
using internal::Stmt;

namespace internal {

MemberStatus ParseMemberStatus(std::string_view text) {
  if (text == "delivered") return MemberStatus::kDelivered;
  if (text == "revoked") return MemberStatus::kRevoked;
  return MemberStatus::kJoined;
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
  m.status = ParseMemberStatus(s.Text(7));
  m.delivered_at = s.Int(8);
  return m;
}

}  // namespace internal

std::string_view MemberStatusName(MemberStatus status) {
  switch (status) {
    case MemberStatus::kDelivered:
      return "delivered, not confirmed";
    case MemberStatus::kJoined:
      return "joined";
    case MemberStatus::kRevoked:
      return "revoked";
  }
  return "unknown";
}

Result<std::vector<MemberRecord>> SqliteRegistry::Members() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT " + std::string(kMemberColumns) + " FROM members ORDER BY name");
  if (!s.ok()) return DbError("cannot read members");
  std::vector<MemberRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(internal::ReadMember(s));
  if (rc != SQLITE_DONE) return DbError("cannot read members");
  return out;
}

Result<std::optional<MemberRecord>> SqliteRegistry::FindMember(std::string_view name) {
  std::lock_guard lock(mutex_);
  return FindMemberLocked(name);
}

Result<std::optional<MemberRecord>> SqliteRegistry::FindMemberLocked(std::string_view name) {
  Stmt s(db_, "SELECT " + std::string(kMemberColumns) + " FROM members WHERE name = ?");
  if (!s.ok()) return DbError("cannot read members");
  s.Bind(1, name);
  const int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<MemberRecord>(internal::ReadMember(s));
  if (rc == SQLITE_DONE) return std::optional<MemberRecord>();
  return DbError("cannot read members");
}

Result<void> SqliteRegistry::RemoveMember(std::string_view name, std::int64_t now,
                                          std::string_view why) {
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

Result<void> SqliteRegistry::RevokeMember(std::string_view name, std::int64_t now) {
  std::lock_guard lock(mutex_);
  MKEYS_ASSIGN_OR_RETURN(auto member, FindMemberLocked(name));
  if (!member) {
    return Error(ErrorCode::kNotFound,
                 "no such member ('mkeys array members ROOT --all' lists them)")
        .On(std::string(name));
  }
  MKEYS_TRY(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Error e) -> Result<void> {
    (void)Exec("ROLLBACK");
    return e;
  };
  Stmt put(db_, "INSERT OR IGNORE INTO revoked_certs(cert_pin, member, at) VALUES (?, ?, ?)");
  Stmt mark(db_, "UPDATE members SET status = 'revoked' WHERE name = ?");
  if (!put.ok() || !mark.ok()) return fail(DbError("cannot revoke the member"));
  put.BindBlob(1, member->cert_pin).Bind(2, name).Bind(3, now);
  mark.Bind(1, name);
  if (put.Step() != SQLITE_DONE || mark.Step() != SQLITE_DONE) {
    return fail(DbError("cannot revoke the member"));
  }
  if (auto r = LogEventLocked("certificate-revoked", name,
                              "certificate " + FormatFingerprint(member->cert_pin) + " (was " +
                                  std::string(MemberStatusName(member->status)) + ")",
                              now);
      !r) {
    return fail(std::move(r).error());
  }
  return Exec("COMMIT");
}

Result<bool> SqliteRegistry::IsRevoked(const Digest& cert_pin) {
  std::lock_guard lock(mutex_);
  return IsRevokedLocked(cert_pin);
}

Result<bool> SqliteRegistry::IsRevokedLocked(const Digest& cert_pin) {
  Stmt s(db_, "SELECT count(*) FROM revoked_certs WHERE cert_pin = ?");
  if (!s.ok()) return DbError("cannot read revocations");
  s.BindBlob(1, cert_pin);
  if (s.Step() != SQLITE_ROW) return DbError("cannot read revocations");
  return s.Int(0) > 0;
}

}  // namespace mkeys::arrayjoin
