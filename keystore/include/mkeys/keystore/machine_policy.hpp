// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A machine's own accounts, groups, user rights and services, read from its registry hives
// (Windows/System32/config/{SAM,SECURITY,SOFTWARE,SYSTEM} under a machine root) with libhivex.
// A Windows image and a model machine (whose hives mkeys writes, machine_policy_writer.hpp) are
// read by this one code path. Every fact says where it came from (hive, key, value).
// docs/machine-policy.md lists each fact's key and value and the value layouts.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/iis_config.hpp"

namespace mkeys::keystore {

enum class HiveKind : std::uint8_t { kSam, kSecurity, kSoftware, kSystem };
std::string_view HiveName(HiveKind hive);  // "SAM", "SECURITY", "SOFTWARE", "SYSTEM"
// "Windows/System32/config/SAM" etc., relative to a machine root.
std::filesystem::path HiveRelativePath(HiveKind hive);

// Where a fact came from: "SECURITY: Policy\Accounts\S-1-1-0\Privilgs (default value)".
struct Provenance {
  HiveKind hive = HiveKind::kSam;
  std::string key;    // from the hive's root key, backslash-separated
  std::string value;  // value name; "" is the key's default value
  std::string ToString() const;
};

// Something the caller should tell the user (unreplayed .LOG files).
struct HiveWarning {
  HiveKind hive;
  std::string message;  // "primary sequence number 12 differs from secondary 11: ..."
};

// ---- SAM --------------------------------------------------------------------------------------

struct LocalUser {
  acl::Sid sid;  // account domain SID + RID
  std::uint32_t rid = 0;
  std::string name;
  std::string full_name;
  std::string comment;
  Provenance source;  // Domains\Account\Users\<RID hex> V
};

struct LocalAlias {
  acl::Sid sid;  // S-1-5-32-<RID> (builtin) or account domain SID + RID
  std::uint32_t rid = 0;
  bool builtin = false;  // Domains\Builtin (Users, Administrators, IIS_IUSRS ...)
  std::string name;
  std::string comment;
  std::vector<acl::Sid> members;
  Provenance source;  // Domains\{Builtin,Account}\Aliases\<RID hex> C
};

struct SamFacts {
  std::vector<HiveWarning> warnings;  // about this hive file
  acl::Sid account_domain;            // S-1-5-21-a-b-c
  Provenance account_domain_source;
  std::vector<LocalUser> users;
  std::vector<LocalAlias> aliases;  // builtin first, then the account domain's
};

// ---- SECURITY ---------------------------------------------------------------------------------

struct AccountRights {
  acl::Sid sid;
  std::vector<std::string> privileges;             // "SeChangeNotifyPrivilege", in stored order
  std::vector<std::string> logon_rights;           // "SeServiceLogonRight", in bit order
  std::optional<Provenance> privileges_source;     // absent: no Privilgs key
  std::optional<Provenance> logon_rights_source;   // absent: no ActSysAc key
  bool HasPrivilege(std::string_view name) const;  // ASCII case-insensitive
};

struct SecurityFacts {
  std::vector<HiveWarning> warnings;    // about this hive file
  std::vector<AccountRights> accounts;  // Policy\Accounts\<SID>, in hive order
  const AccountRights* Find(const acl::Sid& sid) const;
  // The same facts per privilege, as acl::TokenFor takes them (`machine_privileges`).
  std::vector<acl::PrivilegeAssignment> ToPrivilegeAssignments() const;
  // The union of the privileges held by any of `sids` (a token's user and groups), in
  // privilege-number order; logon rights are not privileges and are not included.
  std::vector<std::string> PrivilegesOf(const std::vector<acl::Sid>& sids) const;
};

// ---- SYSTEM -----------------------------------------------------------------------------------

enum class ServiceSidType : std::uint32_t { kNone = 0, kUnrestricted = 1, kRestricted = 3 };

struct ServiceConfig {
  std::string name;         // the key name (the service name)
  std::string object_name;  // "NT AUTHORITY\NetworkService", "LocalSystem"; "" when absent
  std::optional<std::uint32_t> sid_type;         // ServiceSidType value as stored (0, 1, 3)
  std::vector<std::string> required_privileges;  // empty when absent
  bool has_required_privileges = false;          // RequiredPrivileges present (filtering applies)
  std::optional<std::uint32_t> start;            // 2 automatic, 3 manual, 4 disabled ...
  std::optional<std::uint32_t> type;             // 0x10 own process, 0x20 shared ...
  Provenance source;                             // ControlSet00N\Services\<name>, value ObjectName
};

struct SystemFacts {
  std::vector<HiveWarning> warnings;  // about this hive file
  std::string current_control_set;    // "ControlSet001", from Select\Current
  Provenance current_source;
  std::vector<ServiceConfig> services;  // only keys with an ObjectName (Win32 services)
  const ServiceConfig* Find(std::string_view name) const;  // ASCII case-insensitive
};

// ---- SOFTWARE ---------------------------------------------------------------------------------

struct ProfileEntry {
  acl::Sid sid;
  std::string profile_image_path;  // as stored (%SystemDrive%\Users\...)
  Provenance source;               // Microsoft\Windows NT\CurrentVersion\ProfileList\<SID>
};

struct SoftwareFacts {
  std::vector<HiveWarning> warnings;        // about this hive file
  std::optional<std::string> machine_guid;  // Microsoft\Cryptography MachineGuid, as stored
  std::optional<Provenance> machine_guid_source;
  std::vector<ProfileEntry> profiles;
};

// ---- one machine ------------------------------------------------------------------------------

struct PolicyReadOptions {
  // The hives sit inside an image (a mounted Windows volume): each is first copied to a private
  // temporary file (0600, removed once opened) so nothing ever touches the image's file.
  bool copy_from_image = false;
};

struct MachinePolicy {
  std::optional<SamFacts> sam;            // absent: no SAM hive under the root
  std::optional<SecurityFacts> security;  // absent: no SECURITY hive
  std::optional<SystemFacts> system;
  std::optional<SoftwareFacts> software;
  std::vector<HiveKind> missing;  // hives with no file (callers fall back to defaults, and say so)
  std::vector<HiveWarning> warnings;  // every hive's, gathered
  // IIS application pools from applicationHost.config; absent when the machine has no such file.
  std::optional<IisFacts> iis;
  // applicationHost.config is present but malformed: the error, given when a pool is asked for.
  std::optional<Error> iis_error;

  // Aliases that list `sid` as a member (direct membership only, as SAM stores it).
  std::vector<const LocalAlias*> AliasesOf(const acl::Sid& sid) const;
  // The name the machine knows for `sid`: a local user, an alias, "" if neither.
  std::string NameOf(const acl::Sid& sid) const;
};

// The SID a service's ObjectName names: LocalSystem (or empty) S-1-5-18, NT AUTHORITY\LocalService
// S-1-5-19, NT AUTHORITY\NetworkService S-1-5-20 (ASCII case-insensitive, with or without the
// space), NT SERVICE\x its service SID, ".\name" / "name" / "<any host>\name" a local user of
// `sam` when given. kNotFound for anything else (a domain account the image cannot know).
Result<acl::Sid> ServiceLogonSid(const ServiceConfig& service, const SamFacts* sam);
// The privileges a service's token keeps: `held` (what its account and groups hold) filtered by
// RequiredPrivileges when the service has that value; SeChangeNotifyPrivilege is never filtered
// out (Microsoft: "Service security and access rights" / SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO).
std::vector<std::string> ServiceTokenPrivileges(const ServiceConfig& service,
                                                const std::vector<std::string>& held);

// Reads one hive file. kIo if it cannot be opened, kParse naming hive, key and offset if a value
// is malformed, kNotFound if a key the hive must have is missing (e.g. SAM without
// Domains\Account).
Result<SamFacts> ReadSamHive(const std::filesystem::path& file, const PolicyReadOptions& options);
Result<SecurityFacts> ReadSecurityHive(const std::filesystem::path& file,
                                       const PolicyReadOptions& options);
Result<SystemFacts> ReadSystemHive(const std::filesystem::path& file,
                                   const PolicyReadOptions& options);
Result<SoftwareFacts> ReadSoftwareHive(const std::filesystem::path& file,
                                       const PolicyReadOptions& options);

// Reads every hive present under `root` (Windows/System32/config/, exact case first, then any
// case). A hive with no file is listed in `missing`; a hive that cannot be read is an error.
Result<MachinePolicy> ReadMachinePolicy(const std::filesystem::path& root,
                                        const PolicyReadOptions& options = {});

// Parses applicationHost.config's text into `policy.iis`, or keeps the error in
// `policy.iis_error` (a malformed file fails only what needs the pools).
void AttachIisConfig(MachinePolicy& policy, std::string_view xml);

// The hive file under `root` (exact case, else a case-insensitive match per component, as on an
// NTFS volume mounted case-sensitively); nullopt if there is none.
std::optional<std::filesystem::path> FindHiveFile(const std::filesystem::path& root, HiveKind hive);

}  // namespace mkeys::keystore
