// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The SQLite registry (one manager; the default): one database at ROOT/mkeys-array/registry.db.
// Private to the registry's source files.

#include <sqlite3.h>

#include <mutex>

#include "mkeys/arrayjoin/registry.hpp"

namespace mkeys::arrayjoin::internal {

class SqliteRegistry final : public Registry {
 public:
  static Result<std::unique_ptr<Registry>> Create(const std::filesystem::path& root,
                                                  const ArrayInfo& info);
  static Result<std::unique_ptr<Registry>> Open(const std::filesystem::path& root);
  ~SqliteRegistry() override;

  std::string_view Kind() const override { return "sqlite"; }
  std::string Location() const override { return path_.string(); }
  Result<ArrayInfo> Info() override;
  Result<int> SchemaVersion() override;
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

 private:
  SqliteRegistry(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
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

}  // namespace mkeys::arrayjoin::internal
