// SPDX-License-Identifier: GPL-3.0-or-later
// Model machine policy writers over libhivex, in Windows' key and value layouts.
#include <fmt/format.h>

#include <algorithm>

#include "mkeys/core/files.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/hive_values.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"
#include "policy/internal/hive_file.hpp"
#include "policy/internal/read_util.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

using policy::HiveFile;
using policy::HiveMode;
using policy::NodeId;

constexpr std::string_view kAccountKey = "SAM\\Domains\\Account";
constexpr std::string_view kBuiltinKey = "SAM\\Domains\\Builtin";

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

// A privilege (its LUID) or a logon right (its bit).
struct RightRef {
  std::optional<std::uint32_t> privilege;
  std::uint32_t logon_bit = 0;
};

Result<RightRef> ClassifyRight(std::string_view right) {
  if (auto luid = hive::PrivilegeValue(right)) return RightRef{*luid, 0};
  if (auto bit = hive::LogonRightBit(right)) return RightRef{std::nullopt, *bit};
  return Error(
      ErrorCode::kInvalidArgument,
      fmt::format("unknown privilege or logon right '{}'; privileges: {}; logon rights: {}", right,
                  JoinNames(hive::AllPrivilegeNames()), JoinNames(hive::AllLogonRightNames())));
}

// The default value of `key`, decoded by `decode`; `fallback` when the key or value is absent.
template <typename T, typename Decode>
Result<T> ReadDefault(const HiveFile& hive, const std::string& key, Decode decode, T fallback) {
  auto node = hive.Find(key);
  if (!node) return fallback;
  MKEYS_ASSIGN_OR_RETURN(auto raw, hive.Value(*node, ""));
  if (!raw) return fallback;
  auto value = decode(raw->data);
  if (!value) return hive.At(key, "", value.error());
  return std::move(*value);
}

Result<void> SetDefault(HiveFile& hive, const std::string& key,
                        std::span<const std::uint8_t> data) {
  MKEYS_ASSIGN_OR_RETURN(const NodeId node, hive.EnsurePath(key));
  return hive.SetValue(node, "", policy::kRegNone, data);
}

// Privilgs: adds or removes one LUID; returns whether anything changed.
Result<bool> ChangePrivilege(HiveFile& hive, const std::string& account, std::uint32_t luid,
                             bool grant) {
  const std::string key = account + "\\Privilgs";
  MKEYS_ASSIGN_OR_RETURN(hive::PrivilegeSet set,
                         ReadDefault(hive, key, hive::DecodePrivilgs, hive::PrivilegeSet{}));
  auto& entries = set.entries;
  const auto held = std::find_if(entries.begin(), entries.end(),
                                 [&](const hive::PrivilegeEntry& e) { return e.luid_low == luid; });
  if (grant == (held != entries.end())) return false;
  if (grant) {
    entries.push_back({luid, 0, 0});
  } else {
    entries.erase(held);
  }
  MKEYS_TRY(SetDefault(hive, key, hive::EncodePrivilgs(set)));
  return true;
}

// ActSysAc: sets or clears one bit; returns whether anything changed.
Result<bool> ChangeLogonRight(HiveFile& hive, const std::string& account, std::uint32_t bit,
                              bool grant) {
  const std::string key = account + "\\ActSysAc";
  MKEYS_ASSIGN_OR_RETURN(const std::uint32_t mask,
                         ReadDefault(hive, key, hive::DecodeActSysAc, std::uint32_t{0}));
  const std::uint32_t next = grant ? (mask | bit) : (mask & ~bit);
  if (next == mask) return false;
  MKEYS_TRY(SetDefault(hive, key, hive::EncodeActSysAc(next)));
  return true;
}

// One change in an open hive; the caller commits.
Result<bool> ChangeRightIn(HiveFile& hive, const acl::Sid& sid, std::string_view right,
                           bool grant) {
  MKEYS_ASSIGN_OR_RETURN(const RightRef ref, ClassifyRight(right));
  const std::string account = "Policy\\Accounts\\" + sid.ToString();
  if (!grant && !hive.Find(account)) return false;
  if (grant && !hive.Find(account + "\\Sid")) {
    MKEYS_TRY(SetDefault(hive, account + "\\Sid", sid.ToBytes()));
  }
  return ref.privilege ? ChangePrivilege(hive, account, *ref.privilege, grant)
                       : ChangeLogonRight(hive, account, ref.logon_bit, grant);
}

Result<bool> ChangeRight(const fs::path& file, const acl::Sid& sid, std::string_view right,
                         bool grant) {
  MKEYS_TRY(ClassifyRight(right));
  MKEYS_ASSIGN_OR_RETURN(HiveFile hive,
                         HiveFile::Open(file, HiveKind::kSecurity, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const bool changed, ChangeRightIn(hive, sid, right, grant));
  if (changed) MKEYS_TRY(hive.Commit());
  return changed;
}

Result<acl::Sid> AccountDomain(const HiveFile& hive) {
  MKEYS_ASSIGN_OR_RETURN(const NodeId account, hive.Require(kAccountKey));
  MKEYS_ASSIGN_OR_RETURN(const auto v, hive.Value(account, "V"));
  if (!v) return hive.At(kAccountKey, "V", Error(ErrorCode::kNotFound, "missing"));
  auto domain = hive::DecodeDomainV(v->data);
  if (!domain) return hive.At(kAccountKey, "V", domain.error());
  return *domain;
}

// Adds <container>\<RID> with `value_name` = `value` and <container>\Names\<name> (default value
// of type RID, no data, as Windows keeps its name index).
Result<void> AddSamObject(HiveFile& hive, const std::string& container, std::uint32_t rid,
                          std::string_view name, std::string_view value_name,
                          std::span<const std::uint8_t> value) {
  if (name.empty() || name.find('\\') != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("'{}' is not a valid account name", name));
  }
  MKEYS_ASSIGN_OR_RETURN(const NodeId parent, hive.EnsurePath(container));
  MKEYS_ASSIGN_OR_RETURN(const NodeId names, hive.EnsurePath(container + "\\Names"));
  if (hive.Child(parent, policy::RidKey(rid))) {
    return hive.Fail(ErrorCode::kExists, fmt::format("{} has RID {} already", container, rid));
  }
  if (hive.Child(names, name)) {
    return hive.Fail(ErrorCode::kExists,
                     fmt::format("{} has the name '{}' already", container, name));
  }
  MKEYS_ASSIGN_OR_RETURN(const NodeId object,
                         hive.EnsurePath(container + "\\" + policy::RidKey(rid)));
  MKEYS_TRY(hive.SetValue(object, value_name, policy::kRegBinary, value));
  MKEYS_ASSIGN_OR_RETURN(const NodeId index,
                         hive.EnsurePath(container + "\\Names\\" + std::string(name)));
  MKEYS_TRY(hive.SetValue(index, "", rid, {}));
  return hive.Commit();
}

// The key of the alias whose SID is `alias`: builtin (S-1-5-32-RID) or the account domain's.
Result<std::string> AliasKey(const HiveFile& hive, const acl::Sid& alias) {
  const acl::Sid builtin = acl::Sid::Of(5, {32});
  MKEYS_ASSIGN_OR_RETURN(const acl::Sid domain, AccountDomain(hive));
  std::string container;
  if (alias.IsInDomain(builtin)) container = std::string(kBuiltinKey);
  if (alias.IsInDomain(domain)) container = std::string(kAccountKey);
  const std::string key = container + "\\Aliases\\" + policy::RidKey(alias.rid());
  if (container.empty() || !hive.Find(key)) {
    return hive.Fail(ErrorCode::kNotFound, fmt::format("no alias {} in the SAM", alias.ToString()));
  }
  return key;
}

Result<bool> ChangeAliasMember(const fs::path& file, const acl::Sid& alias, const acl::Sid& member,
                               bool add) {
  MKEYS_ASSIGN_OR_RETURN(HiveFile hive, HiveFile::Open(file, HiveKind::kSam, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const std::string key, AliasKey(hive, alias));
  MKEYS_ASSIGN_OR_RETURN(const NodeId node, hive.Require(key));
  MKEYS_ASSIGN_OR_RETURN(const auto raw, hive.Value(node, "C"));
  if (!raw) return hive.At(key, "C", Error(ErrorCode::kNotFound, "missing"));
  auto c = hive::DecodeAliasC(raw->data);
  if (!c) return hive.At(key, "C", c.error());
  auto& members = c->members;
  const auto found = std::find(members.begin(), members.end(), member);
  if (add == (found != members.end())) return false;
  if (add) {
    members.push_back(member);
  } else {
    members.erase(found);
  }
  MKEYS_TRY(hive.SetValue(node, "C", policy::kRegBinary, hive::EncodeAliasC(*c)));
  MKEYS_TRY(hive.Commit());
  return true;
}

Result<void> ValidateService(const ServiceSpec& spec) {
  if (spec.name.empty() || spec.name.find_first_of("\\/") != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a service name", spec.name));
  }
  if (spec.sid_type != 0 && spec.sid_type != 1 && spec.sid_type != 3) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("service SID type {} is not 0 (none), 1 (unrestricted) or 3 "
                             "(restricted)",
                             spec.sid_type));
  }
  for (const auto& name : spec.required_privileges.value_or(std::vector<std::string>{})) {
    MKEYS_TRY(hive::PrivilegeValue(name));
  }
  return {};
}

Result<void> SetDword(HiveFile& hive, NodeId node, std::string_view name, std::uint32_t value) {
  std::vector<std::uint8_t> bytes;
  le::Put32(bytes, value);
  return hive.SetValue(node, name, policy::kRegDword, bytes);
}

}  // namespace

Result<void> GrantRights(const fs::path& security_hive,
                         const std::vector<std::pair<acl::Sid, std::string>>& grants) {
  MKEYS_ASSIGN_OR_RETURN(HiveFile hive,
                         HiveFile::Open(security_hive, HiveKind::kSecurity, HiveMode::kWrite));
  for (const auto& [sid, right] : grants) MKEYS_TRY(ChangeRightIn(hive, sid, right, true));
  return hive.Commit();
}

Result<bool> GrantRight(const fs::path& security_hive, const acl::Sid& sid,
                        std::string_view right) {
  return ChangeRight(security_hive, sid, right, true);
}

Result<bool> RevokeRight(const fs::path& security_hive, const acl::Sid& sid,
                         std::string_view right) {
  return ChangeRight(security_hive, sid, right, false);
}

Result<acl::Sid> AddLocalUser(const fs::path& sam_hive, std::uint32_t rid, std::string_view name,
                              std::string_view full_name) {
  MKEYS_ASSIGN_OR_RETURN(HiveFile hive, HiveFile::Open(sam_hive, HiveKind::kSam, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const acl::Sid domain, AccountDomain(hive));
  MKEYS_ASSIGN_OR_RETURN(acl::Sid sid, policy::AppendRid(domain, rid));
  const auto v = hive::EncodeUserV({std::string(name), std::string(full_name), ""});
  MKEYS_TRY(AddSamObject(hive, std::string(kAccountKey) + "\\Users", rid, name, "V", v));
  return sid;
}

Result<acl::Sid> AddAlias(const fs::path& sam_hive, bool builtin, std::uint32_t rid,
                          std::string_view name, std::string_view comment) {
  MKEYS_ASSIGN_OR_RETURN(HiveFile hive, HiveFile::Open(sam_hive, HiveKind::kSam, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const acl::Sid domain, AccountDomain(hive));
  MKEYS_ASSIGN_OR_RETURN(acl::Sid sid,
                         policy::AppendRid(builtin ? acl::Sid::Of(5, {32}) : domain, rid));
  hive::AliasC c;
  c.rid = rid;
  c.name = std::string(name);
  c.comment = std::string(comment);
  const std::string container = std::string(builtin ? kBuiltinKey : kAccountKey) + "\\Aliases";
  MKEYS_TRY(AddSamObject(hive, container, rid, name, "C", hive::EncodeAliasC(c)));
  return sid;
}

Result<bool> AddAliasMember(const fs::path& sam_hive, const acl::Sid& alias,
                            const acl::Sid& member) {
  return ChangeAliasMember(sam_hive, alias, member, true);
}

Result<bool> RemoveAliasMember(const fs::path& sam_hive, const acl::Sid& alias,
                               const acl::Sid& member) {
  return ChangeAliasMember(sam_hive, alias, member, false);
}

Result<void> AddService(const fs::path& system_hive, const ServiceSpec& spec) {
  MKEYS_TRY(ValidateService(spec));
  MKEYS_ASSIGN_OR_RETURN(HiveFile hive,
                         HiveFile::Open(system_hive, HiveKind::kSystem, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const NodeId select, hive.Require("Select"));
  MKEYS_ASSIGN_OR_RETURN(const auto current, policy::ReadDword(hive, select, "Select", "Current"));
  if (!current || *current == 0 || *current > 999) {
    return hive.At("Select", "Current", Error(ErrorCode::kParse, "names no control set"));
  }
  const std::string services = fmt::format("ControlSet{:03}\\Services", *current);
  MKEYS_ASSIGN_OR_RETURN(const NodeId parent, hive.EnsurePath(services));
  if (hive.Child(parent, spec.name)) {
    return hive.Fail(ErrorCode::kExists, fmt::format("service {} exists already", spec.name));
  }
  MKEYS_ASSIGN_OR_RETURN(const NodeId node, hive.EnsurePath(services + "\\" + spec.name));
  MKEYS_TRY(SetDword(hive, node, "Type", spec.type));
  MKEYS_TRY(SetDword(hive, node, "Start", spec.start));
  MKEYS_TRY(SetDword(hive, node, "ErrorControl", 1));
  MKEYS_TRY(
      hive.SetValue(node, "ObjectName", policy::kRegSz, hive::EncodeRegString(spec.object_name)));
  MKEYS_TRY(SetDword(hive, node, "ServiceSidType", spec.sid_type));
  if (spec.required_privileges) {
    MKEYS_TRY(hive.SetValue(node, "RequiredPrivileges", policy::kRegMultiSz,
                            hive::EncodeRegMultiString(*spec.required_privileges)));
  }
  return hive.Commit();
}

Result<void> CreateModelHives(const fs::path& root, const ModelHivesOptions& options) {
  const HiveKind kinds[] = {HiveKind::kSam, HiveKind::kSecurity, HiveKind::kSystem,
                            HiveKind::kSoftware};
  std::error_code ec;
  for (const HiveKind kind : kinds) {
    if (fs::exists(root / HiveRelativePath(kind), ec)) {
      return std::move(Error(ErrorCode::kExists, "the hive file exists already")
                           .On((root / HiveRelativePath(kind)).string()));
    }
  }
  fs::create_directories(root / HiveRelativePath(HiveKind::kSam).parent_path(), ec);
  if (ec) return files::IoError(ec.value(), root, "cannot create Windows/System32/config");
  for (const HiveKind kind : kinds) MKEYS_TRY(WriteEmptyHive(root / HiveRelativePath(kind)));

  MKEYS_ASSIGN_OR_RETURN(HiveFile sam, HiveFile::Open(root / HiveRelativePath(HiveKind::kSam),
                                                      HiveKind::kSam, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const NodeId account, sam.EnsurePath(kAccountKey));
  MKEYS_TRY(
      sam.SetValue(account, "V", policy::kRegBinary, hive::EncodeDomainV(options.account_domain)));
  for (const char* key :
       {"SAM\\Domains\\Account\\Users\\Names", "SAM\\Domains\\Account\\Aliases\\Names",
        "SAM\\Domains\\Builtin\\Aliases\\Names"}) {
    MKEYS_TRY(sam.EnsurePath(key));
  }
  MKEYS_TRY(sam.Commit());

  MKEYS_ASSIGN_OR_RETURN(HiveFile security,
                         HiveFile::Open(root / HiveRelativePath(HiveKind::kSecurity),
                                        HiveKind::kSecurity, HiveMode::kWrite));
  MKEYS_TRY(security.EnsurePath("Policy\\Accounts"));
  MKEYS_TRY(security.Commit());

  MKEYS_ASSIGN_OR_RETURN(HiveFile system, HiveFile::Open(root / HiveRelativePath(HiveKind::kSystem),
                                                         HiveKind::kSystem, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const NodeId select, system.EnsurePath("Select"));
  for (const char* name : {"Current", "Default", "LastKnownGood"}) {
    MKEYS_TRY(SetDword(system, select, name, 1));
  }
  MKEYS_TRY(SetDword(system, select, "Failed", 0));
  MKEYS_TRY(system.EnsurePath("ControlSet001\\Services"));
  MKEYS_TRY(system.Commit());

  MKEYS_ASSIGN_OR_RETURN(HiveFile software,
                         HiveFile::Open(root / HiveRelativePath(HiveKind::kSoftware),
                                        HiveKind::kSoftware, HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(const NodeId crypto, software.EnsurePath("Microsoft\\Cryptography"));
  MKEYS_TRY(software.SetValue(crypto, "MachineGuid", policy::kRegSz,
                              hive::EncodeRegString(options.machine_guid)));
  return software.Commit();
}

}  // namespace mkeys::keystore
