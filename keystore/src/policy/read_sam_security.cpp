// SPDX-License-Identifier: GPL-3.0-or-later
// SAM (account domain, users, aliases) and SECURITY (privileges, logon rights) readers.
#include <fmt/format.h>

#include "mkeys/core/text.hpp"
#include "mkeys/keystore/hive_values.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "policy/internal/hive_file.hpp"
#include "policy/internal/read_util.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

using policy::HiveFile;
using policy::NodeId;

constexpr std::string_view kAccountKey = "SAM\\Domains\\Account";
constexpr std::string_view kBuiltinKey = "SAM\\Domains\\Builtin";
constexpr std::string_view kAccountsKey = "Policy\\Accounts";

policy::HiveMode ReadMode(const PolicyReadOptions& options) {
  return options.copy_from_image ? policy::HiveMode::kReadCopy : policy::HiveMode::kRead;
}

// The value `name` of `node`, required; an error naming hive, key and value when absent.
Result<policy::RawValue> RequireValue(const HiveFile& hive, NodeId node, std::string_view key,
                                      std::string_view name) {
  MKEYS_ASSIGN_OR_RETURN(auto raw, hive.Value(node, name));
  if (!raw) return hive.At(key, name, Error(ErrorCode::kNotFound, "missing"));
  return std::move(*raw);
}

Result<std::vector<LocalUser>> ReadUsers(const HiveFile& hive, const acl::Sid& domain) {
  std::vector<LocalUser> users;
  const std::string users_key = std::string(kAccountKey) + "\\Users";
  auto node = hive.Find(users_key);
  if (!node) return users;
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(*node));
  for (const auto& [name, child] : children) {
    const auto rid = policy::ParseRidKey(name);
    if (!rid) continue;  // "Names" (the name -> RID index)
    const std::string key = users_key + "\\" + name;
    MKEYS_ASSIGN_OR_RETURN(const auto raw, RequireValue(hive, child, key, "V"));
    auto v = hive::DecodeUserV(raw.data);
    if (!v) return hive.At(key, "V", v.error());
    MKEYS_ASSIGN_OR_RETURN(acl::Sid sid, policy::AppendRid(domain, *rid));
    users.push_back({std::move(sid), *rid, v->name, v->full_name, v->comment,
                     Provenance{HiveKind::kSam, key, "V"}});
  }
  return users;
}

Result<std::vector<LocalAlias>> ReadAliases(const HiveFile& hive, std::string_view domain_key,
                                            const acl::Sid& domain, bool builtin) {
  std::vector<LocalAlias> aliases;
  const std::string aliases_key = std::string(domain_key) + "\\Aliases";
  auto node = hive.Find(aliases_key);
  if (!node) return aliases;
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(*node));
  for (const auto& [name, child] : children) {
    const auto rid = policy::ParseRidKey(name);
    if (!rid) continue;  // "Members", "Names"
    const std::string key = aliases_key + "\\" + name;
    MKEYS_ASSIGN_OR_RETURN(const auto raw, RequireValue(hive, child, key, "C"));
    auto c = hive::DecodeAliasC(raw.data);
    if (!c) return hive.At(key, "C", c.error());
    MKEYS_ASSIGN_OR_RETURN(acl::Sid sid, policy::AppendRid(domain, *rid));
    aliases.push_back({std::move(sid), *rid, builtin, c->name, c->comment, std::move(c->members),
                       Provenance{HiveKind::kSam, key, "C"}});
  }
  return aliases;
}

Result<AccountRights> ReadAccount(const HiveFile& hive, const std::string& name, NodeId node) {
  const std::string key = std::string(kAccountsKey) + "\\" + name;
  auto sid = acl::Sid::Parse(name);
  if (!sid) {
    return hive.Fail(ErrorCode::kParse,
                     fmt::format("{}: the key name is not a SID: {}", key, sid.error().message()));
  }
  AccountRights rights;
  rights.sid = *sid;
  if (auto privs = hive.Child(node, "Privilgs")) {
    const std::string privs_key = key + "\\Privilgs";
    MKEYS_ASSIGN_OR_RETURN(const auto raw, RequireValue(hive, *privs, privs_key, ""));
    auto set = hive::DecodePrivilgs(raw.data);
    if (!set) return hive.At(privs_key, "", set.error());
    for (const auto& entry : set->entries) {
      auto priv = hive::PrivilegeName(entry.luid_low);
      rights.privileges.push_back(priv ? std::string(*priv)
                                       : fmt::format("LUID 0x{:x}", entry.luid_low));
    }
    rights.privileges_source = Provenance{HiveKind::kSecurity, privs_key, ""};
  }
  if (auto access = hive.Child(node, "ActSysAc")) {
    const std::string access_key = key + "\\ActSysAc";
    MKEYS_ASSIGN_OR_RETURN(const auto raw, RequireValue(hive, *access, access_key, ""));
    auto mask = hive::DecodeActSysAc(raw.data);
    if (!mask) return hive.At(access_key, "", mask.error());
    rights.logon_rights = hive::LogonRightNames(*mask);
    rights.logon_rights_source = Provenance{HiveKind::kSecurity, access_key, ""};
  }
  return rights;
}

}  // namespace

Result<SamFacts> ReadSamHive(const fs::path& file, const PolicyReadOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const HiveFile hive,
                         HiveFile::Open(file, HiveKind::kSam, ReadMode(options)));
  SamFacts facts;
  facts.warnings = hive.warnings();
  MKEYS_ASSIGN_OR_RETURN(const NodeId account, hive.Require(kAccountKey));
  MKEYS_ASSIGN_OR_RETURN(const auto v, RequireValue(hive, account, kAccountKey, "V"));
  auto domain = hive::DecodeDomainV(v.data);
  if (!domain) return hive.At(kAccountKey, "V", domain.error());
  facts.account_domain = *domain;
  facts.account_domain_source = Provenance{HiveKind::kSam, std::string(kAccountKey), "V"};
  MKEYS_ASSIGN_OR_RETURN(facts.users, ReadUsers(hive, facts.account_domain));
  MKEYS_ASSIGN_OR_RETURN(facts.aliases,
                         ReadAliases(hive, kBuiltinKey, acl::Sid::Of(5, {32}), true));
  MKEYS_ASSIGN_OR_RETURN(auto local, ReadAliases(hive, kAccountKey, facts.account_domain, false));
  for (auto& alias : local) facts.aliases.push_back(std::move(alias));
  return facts;
}

Result<SecurityFacts> ReadSecurityHive(const fs::path& file, const PolicyReadOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const HiveFile hive,
                         HiveFile::Open(file, HiveKind::kSecurity, ReadMode(options)));
  SecurityFacts facts;
  facts.warnings = hive.warnings();
  MKEYS_ASSIGN_OR_RETURN(const NodeId accounts, hive.Require(kAccountsKey));
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(accounts));
  for (const auto& [name, child] : children) {
    MKEYS_ASSIGN_OR_RETURN(auto rights, ReadAccount(hive, name, child));
    facts.accounts.push_back(std::move(rights));
  }
  return facts;
}

bool AccountRights::HasPrivilege(std::string_view name) const {
  for (const auto& p : privileges) {
    if (text::EqualsIgnoreAsciiCase(p, name)) return true;
  }
  return false;
}

const AccountRights* SecurityFacts::Find(const acl::Sid& sid) const {
  for (const auto& account : accounts) {
    if (account.sid == sid) return &account;
  }
  return nullptr;
}

}  // namespace mkeys::keystore
