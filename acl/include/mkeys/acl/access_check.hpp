// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.5.3.2: the access check, returning the granted rights and, for each wanted right,
// why: which ACE granted or denied it, that no ACE did, or which privilege granted it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"

namespace mkeys::acl {

enum class ReasonKind : std::uint8_t {
  kGrantedByAce,        // an allow ACE granted it (ace_index, ace_sddl)
  kDeniedByAce,         // a deny ACE denied it first
  kNotGranted,          // no ACE grants it
  kGrantedByPrivilege,  // privilege names the privilege
  kGrantedAsOwner,      // implicit READ_CONTROL / WRITE_DAC of the owner
  kNullDacl,            // the DACL is NULL: everything is granted
  kEmptyDacl,           // the DACL is present and empty: nothing is granted
  kMissingPrivilege,    // ACCESS_SYSTEM_SECURITY without SeSecurityPrivilege
};

struct RightReason {
  AccessMask right = 0;  // one bit
  ReasonKind kind = ReasonKind::kNotGranted;
  std::optional<std::size_t> ace_index;
  std::string ace_sddl;   // "(A;;FR;;;NS)" when an ACE decided
  std::string privilege;  // when a privilege decided
};

// "granted-by-ace", "denied-by-ace", "not-granted", ... (stable names for JSON output).
std::string_view ReasonKindName(ReasonKind kind);
// The reason as a phrase: "granted by ACE #1 (A;;FR;;;NS)", "denied by ACE #0 (D;;FR;;;NS)",
// "no ACE grants it", "granted by SeBackupPrivilege", "granted as owner (implicit)", ...
// ACE numbers count from 0, as the DACL's ACE array does.
std::string ReasonText(const RightReason& reason);

// Win32 errors AccessCheck fails with (winerror.h).
namespace win32_error {
inline constexpr std::uint32_t kInvalidSecurityDescr = 1338;  // ERROR_INVALID_SECURITY_DESCR
inline constexpr std::uint32_t kGenericNotMapped = 1360;      // ERROR_GENERIC_NOT_MAPPED
}  // namespace win32_error

struct AccessCheckResult {
  // CheckAccessWin32 only: non-zero when the check itself fails as AccessCheck fails (nothing
  // is granted then): ERROR_INVALID_SECURITY_DESCR, ERROR_GENERIC_NOT_MAPPED.
  std::uint32_t error = 0;
  AccessMask desired = 0;        // after generic mapping, without MAXIMUM_ALLOWED
  bool maximum_allowed = false;  // MAXIMUM_ALLOWED was asked for
  AccessMask granted = 0;
  // Every desired bit granted (or MAXIMUM_ALLOWED and anything granted). An empty desired
  // access is denied, as AccessCheck denies it.
  bool allowed = false;
  std::vector<RightReason> reasons;  // one per desired bit (for MAXIMUM_ALLOWED: per granted)

  // Bits that were desired and not granted.
  AccessMask Missing() const { return desired & ~granted; }
  // "NETWORK SERVICE lacks READ_DATA (no ACE grants it; owner SYSTEM)": the sentence the CLI
  // and the diagnosis print.
  std::string Explain(const Token& token, const SecurityDescriptor& sd) const;
  // The one sentence for an open's check, an audit finding's evidence and a fix (`what` is
  // the purpose: "read", "traverse", "write"). Denied: "no ACE grants NETWORK SERVICE read
  // (lacks READ_DATA, READ_EA; owner SYSTEM)", "ACE #1 (D;;FR;;;NS) denies NETWORK SERVICE
  // read (lacks READ_DATA)", "the DACL is empty: no ACE grants NETWORK SERVICE read (owner
  // SYSTEM)", "NETWORK SERVICE lacks ACCESS_SYSTEM_SECURITY (SeSecurityPrivilege is not
  // enabled)". Allowed: Explain's sentence.
  std::string Sentence(const Token& token, std::string_view what,
                       const SecurityDescriptor& sd) const;
};

// How sentences name a token: its account name ("NETWORK SERVICE"), the display name of a
// derived SID the catalogue cannot reverse ("IIS APPPOOL\Shop"), else the SID string.
std::string TokenShortName(const Token& token);

// The access check. `desired` may contain generic bits (mapped with `mapping`, as the I/O
// manager maps them before it asks) and MAXIMUM_ALLOWED. Privileges are honoured when enabled
// in the token.
AccessCheckResult CheckAccess(const SecurityDescriptor& sd, const Token& token, AccessMask desired,
                              const GenericMapping& mapping = kFileGenericMapping);
// The Win32 AccessCheck call itself, with its failures: a descriptor without owner or group
// fails with ERROR_INVALID_SECURITY_DESCR (not "denied"); with `map_generic` false (the
// caller did not MapGenericMask) generic bits in `desired` fail with ERROR_GENERIC_NOT_MAPPED.
AccessCheckResult CheckAccessWin32(const SecurityDescriptor& sd, const Token& token,
                                   AccessMask desired, bool map_generic = true,
                                   const GenericMapping& mapping = kFileGenericMapping);

// Traverse: may `token` pass through every directory in `directories` (outermost first) to reach
// an object inside? SeChangeNotifyPrivilege bypasses the check.
struct TraverseResult {
  bool allowed = false;
  bool bypassed = false;                  // by SeChangeNotifyPrivilege
  std::optional<std::size_t> blocked_at;  // index into `directories`
  AccessCheckResult blocking_check;       // the check that failed at blocked_at
};
TraverseResult CheckTraverse(const std::vector<const SecurityDescriptor*>& directories,
                             const Token& token);

}  // namespace mkeys::acl
