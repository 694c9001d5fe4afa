// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Pieces several rules share: ACE tests, the grant they add, the sentence for an access check.
// Private to the repair library.

#include <string>
#include <string_view>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/acl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"

namespace mkeys::repair::internal {

namespace r = acl::rights;

// Everyone's rights on MachineKeys in a default installation (KB 278381).
inline constexpr acl::AccessMask kEveryoneFolderRights = 0x0012019F;
// What a traverse grant added by MK013's fix holds.
inline constexpr acl::AccessMask kTraverseGrant = r::kTraverse | r::kSynchronize;
// Bits that let someone read or write a key file's contents.
inline constexpr acl::AccessMask kKeyDataBits = r::kReadData | r::kWriteData | r::kAppendData;
// Bits a deny ACE on a directory of the chain must not take from a declared service.
inline constexpr acl::AccessMask kDirectoryBits =
    r::kTraverse | r::kListDirectory | r::kReadAttributes | r::kSynchronize;

// Everyone, Users, Authenticated Users, Anonymous, Guests.
bool IsBroadSid(const acl::Sid& sid);
// The ACE applies to the object itself (not inherit-only).
inline bool AppliesToObject(const acl::Ace& ace) {
  return !ace.IsInheritOnly();
}
// "ACE #1 (D;;FR;;;NS)".
std::string AceText(const acl::Acl& dacl, std::size_t i);
// Adds `mask` for `sid` as an explicit allow ACE: merged into an existing explicit,
// non-inheritable allow ACE for the SID, else inserted after the explicit ACEs.
void AddGrant(acl::SecurityDescriptor& sd, const acl::Sid& sid, acl::AccessMask mask);
// A deny ACE on the object that hits `token` for some of `bits`.
bool DenyHits(const acl::Ace& ace, const acl::Token& token, acl::AccessMask bits);

}  // namespace mkeys::repair::internal
