// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Writes a model machine's hives so that it is read by the same code as a Windows image
// (machine_policy.hpp). libhivex cannot create a hive, so mkeys writes a minimal empty one itself
// from the documented regf format (BuildEmptyHive); everything else goes through libhivex
// (add key, set value, commit), in the value layouts Windows uses (hive_values.hpp).
// Every change is committed atomically (temporary file beside the hive, fsync, rename).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_policy.hpp"

namespace mkeys::keystore {

// A minimal empty hive: a 4096-byte base block ("regf", sequence numbers 1/1, version 1.5,
// root cell at 0x20, 4096 bytes of hive bins, XOR checksum of the first 508 bytes) and one
// 4096-byte "hbin" holding the root "nk" cell (named `root_name`, flags HIVE_ENTRY|NO_DELETE|
// COMP_NAME), its "sk" cell (O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)) and one free cell.
// `root_name`: ASCII, 1..255 characters. docs/machine-policy.md gives every offset.
std::vector<std::uint8_t> BuildEmptyHive(std::string_view root_name = "ROOT");
// Writes BuildEmptyHive to `file` (0600, atomically); kExists if `file` exists.
Result<void> WriteEmptyHive(const std::filesystem::path& file, std::string_view root_name = "ROOT");

struct ModelHivesOptions {
  acl::Sid account_domain;   // S-1-5-21-a-b-c of the model machine
  std::string machine_guid;  // written to SOFTWARE Microsoft\Cryptography MachineGuid
};
// Creates the four hives under `root` (Windows/System32/config/, created if missing) with the
// keys the reader requires: SAM Domains\Account (V with the domain SID), Domains\Builtin\Aliases
// (empty); SECURITY Policy\Accounts (empty); SYSTEM Select\Current = 1, ControlSet001\Services;
// SOFTWARE Microsoft\Cryptography MachineGuid. kExists if any of the four files exists.
Result<void> CreateModelHives(const std::filesystem::path& root, const ModelHivesOptions& options);

// ---- SECURITY: user rights and logon rights ------------------------------------------------

// Adds `right` — a privilege (Privilgs) or a logon right (ActSysAc) — to `sid` in the SECURITY
// hive file, creating Policy\Accounts\<SID> (with its Sid value) if needed. Returns false if the
// SID already held it. kInvalidArgument listing every valid privilege and logon right name for
// an unknown name.
Result<bool> GrantRight(const std::filesystem::path& security_hive, const acl::Sid& sid,
                        std::string_view right);
// Grants every (SID, right) pair in one commit (a model machine's initial user rights).
Result<void> GrantRights(const std::filesystem::path& security_hive,
                         const std::vector<std::pair<acl::Sid, std::string>>& grants);
// Removes `right` from `sid`; returns false if the SID did not hold it.
Result<bool> RevokeRight(const std::filesystem::path& security_hive, const acl::Sid& sid,
                         std::string_view right);

// ---- SAM: local users and groups -------------------------------------------------------------

// Adds Domains\Account\Users\<RID> (V) and Users\Names\<name>. kExists if the RID or the name
// (ASCII case-insensitive) is taken. Returns the user's SID.
Result<acl::Sid> AddLocalUser(const std::filesystem::path& sam_hive, std::uint32_t rid,
                              std::string_view name, std::string_view full_name = "");
// Adds an alias (local group): Domains\Builtin\Aliases\<RID> when `builtin` (SID S-1-5-32-RID),
// else Domains\Account\Aliases\<RID>; with Aliases\Names\<name>. kExists if taken. Returns its SID.
Result<acl::Sid> AddAlias(const std::filesystem::path& sam_hive, bool builtin, std::uint32_t rid,
                          std::string_view name, std::string_view comment = "");
// Adds `member` to the alias whose SID is `alias` (its C value); false if already a member;
// kNotFound if the SAM has no such alias. The C value keeps its security descriptor.
Result<bool> AddAliasMember(const std::filesystem::path& sam_hive, const acl::Sid& alias,
                            const acl::Sid& member);
Result<bool> RemoveAliasMember(const std::filesystem::path& sam_hive, const acl::Sid& alias,
                               const acl::Sid& member);

// ---- SYSTEM: services ------------------------------------------------------------------------

struct ServiceSpec {
  std::string name;
  std::string object_name = "LocalSystem";  // "NT AUTHORITY\NetworkService", ".\user" ...
  std::uint32_t sid_type = 0;               // 0 none, 1 unrestricted, 3 restricted
  std::optional<std::vector<std::string>> required_privileges;  // validated names
  std::uint32_t start = 3;                                      // demand start
  std::uint32_t type = 0x10;                                    // own process
};
// Writes <CurrentControlSet>\Services\<name> (Type, Start, ErrorControl, ObjectName,
// ServiceSidType, RequiredPrivileges). kExists if the service exists; kInvalidArgument for an
// unknown privilege name (listing the valid ones) or a SID type other than 0, 1, 3.
Result<void> AddService(const std::filesystem::path& system_hive, const ServiceSpec& spec);

}  // namespace mkeys::keystore
