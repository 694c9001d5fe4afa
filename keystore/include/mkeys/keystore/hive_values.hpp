// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The binary registry values Windows keeps its local accounts and policy in, decoded and encoded
// byte for byte (docs/machine-policy.md gives the layouts, offsets and sources):
//   SAM       Domains\Account            V         the account domain SID
//   SAM       Domains\Account\Users\<RID> V        a local user (name, full name, comment)
//   SAM       Domains\*\Aliases\<RID>    C         an alias (name, comment, member SIDs)
//   SECURITY  Policy\Accounts\<SID>\Privilgs  (default)  the privileges held by the SID
//   SECURITY  Policy\Accounts\<SID>\ActSysAc  (default)  the logon rights (SECURITY_ACCESS_* mask)
// Decoders take untrusted bytes: a malformed value is a kParse error whose position is the
// offset in the value; they never read out of bounds (fuzz/hive_values_fuzz.cpp).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::keystore::hive {

// ---- privileges and logon rights -------------------------------------------------------------

// The privilege with LUID `value` (SE_*_PRIVILEGE in wdm.h: 2 SeCreateTokenPrivilege ...
// 23 SeChangeNotifyPrivilege ... 36 SeDelegateSessionUserImpersonatePrivilege); nullopt if
// Windows defines none.
std::optional<std::string_view> PrivilegeName(std::uint32_t value);
// The LUID of a privilege name (ASCII case-insensitive); kInvalidArgument listing every valid
// name otherwise.
Result<std::uint32_t> PrivilegeValue(std::string_view name);
// Every privilege name, in LUID order.
std::vector<std::string_view> AllPrivilegeNames();

// The SECURITY_ACCESS_* bit of a logon right name ("SeServiceLogonRight" -> 0x10), ASCII
// case-insensitive; kInvalidArgument listing every valid name otherwise.
Result<std::uint32_t> LogonRightBit(std::string_view name);
// The names of the rights set in `mask`, in bit order; unknown bits as "0x...".
std::vector<std::string> LogonRightNames(std::uint32_t mask);
std::vector<std::string_view> AllLogonRightNames();

// ---- SECURITY Policy\Accounts\<SID>\Privilgs -------------------------------------------------

struct PrivilegeEntry {
  std::uint32_t luid_low = 0;   // the privilege number
  std::uint32_t luid_high = 0;  // 0 on every Windows
  std::uint32_t attributes = 0;
  friend bool operator==(const PrivilegeEntry&, const PrivilegeEntry&) = default;
};
struct PrivilegeSet {
  std::uint32_t control = 0;
  std::vector<PrivilegeEntry> entries;
  friend bool operator==(const PrivilegeSet&, const PrivilegeSet&) = default;
};
// u32 count, u32 control, count x {u32 LUID low, u32 LUID high, u32 attributes}. Trailing bytes
// after the last entry are an error.
Result<PrivilegeSet> DecodePrivilgs(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodePrivilgs(const PrivilegeSet& set);

// ---- SECURITY Policy\Accounts\<SID>\ActSysAc -------------------------------------------------

Result<std::uint32_t> DecodeActSysAc(std::span<const std::uint8_t> bytes);  // exactly 4 bytes
std::vector<std::uint8_t> EncodeActSysAc(std::uint32_t mask);

// ---- SAM --------------------------------------------------------------------------------------

// Domains\Account\V: 0x30 bytes of header (4 entries of {u32 offset, u32 length, u32 flags}
// from 0x00; entry 1, at 0x0C, is the domain SID), data from 0x30. Returns the SID.
Result<acl::Sid> DecodeDomainV(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodeDomainV(const acl::Sid& domain);

// Domains\Account\Users\<RID>\V: 17 entries of {u32 offset, u32 length, u32 flags} (0xCC bytes),
// data from 0xCC; entry 1 is the user name, 2 the full name, 3 the comment (UTF-16LE).
struct UserV {
  std::string name;
  std::string full_name;
  std::string comment;
  friend bool operator==(const UserV&, const UserV&) = default;
};
Result<UserV> DecodeUserV(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodeUserV(const UserV& user);

// Domains\{Builtin,Account}\Aliases\<RID>\C: u32 RID at 0x00, then 4 entries from 0x04 of
// {u32 offset, u32 length, u32 flags} (security descriptor, name, comment, members), u32 member
// count at 0x30, data from 0x34; members are packed binary SIDs.
struct AliasC {
  std::uint32_t rid = 0;
  std::vector<std::uint8_t> security_descriptor;  // kept as stored (entry 0)
  std::string name;
  std::string comment;
  std::vector<acl::Sid> members;
  friend bool operator==(const AliasC&, const AliasC&) = default;
};
Result<AliasC> DecodeAliasC(std::span<const std::uint8_t> bytes);
// Writes a C value in Windows' layout (the descriptor as given; empty is allowed).
std::vector<std::uint8_t> EncodeAliasC(const AliasC& alias);

// ---- registry value types --------------------------------------------------------------------

// REG_SZ / REG_EXPAND_SZ (UTF-16LE, trailing NULs dropped); kParse on odd length / bad UTF-16.
Result<std::string> DecodeRegString(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodeRegString(std::string_view text);  // with the terminating NUL
// REG_MULTI_SZ: the non-empty strings.
Result<std::vector<std::string>> DecodeRegMultiString(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> EncodeRegMultiString(const std::vector<std::string>& strings);
Result<std::uint32_t> DecodeRegDword(std::span<const std::uint8_t> bytes);

}  // namespace mkeys::keystore::hive
