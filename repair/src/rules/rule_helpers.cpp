// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/rule_helpers.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"

namespace mkeys::repair::internal {

using acl::AccessMask;
using acl::Ace;
using acl::SecurityDescriptor;
using acl::Sid;

bool IsBroadSid(const Sid& sid) {
  static const Sid kBroad[] = {acl::sids::Everyone(), acl::sids::Users(),
                               acl::sids::AuthenticatedUsers(), acl::sids::Anonymous(),
                               acl::sids::Guests()};
  return std::find(std::begin(kBroad), std::end(kBroad), sid) != std::end(kBroad);
}

std::string AceText(const acl::Acl& dacl, std::size_t i) {
  return fmt::format("ACE #{} {}", i, acl::FormatAceSddl(dacl.aces[i]));
}

// Adds `mask` for `sid` as an explicit allow ACE: merged into an existing explicit,
// non-inheritable allow ACE for the SID, else inserted after the explicit ACEs.
void AddGrant(SecurityDescriptor& sd, const Sid& sid, AccessMask mask) {
  if (!sd.dacl) return;  // NULL DACL: everything is granted already
  auto& aces = sd.dacl->aces;
  for (auto& ace : aces) {
    if (ace.type == acl::AceType::kAccessAllowed && !ace.IsInherited() &&
        (ace.flags & acl::ace_flags::kInheritanceFlags) == 0 && ace.sid == sid) {
      ace.mask |= mask;
      return;
    }
  }
  std::size_t pos = 0;
  while (pos < aces.size() && !aces[pos].IsInherited()) ++pos;
  aces.insert(aces.begin() + static_cast<std::ptrdiff_t>(pos), acl::AllowAce(sid, mask));
}

bool DenyHits(const Ace& ace, const acl::Token& token, AccessMask bits) {
  return ace.IsDeny() && AppliesToObject(ace) && token.MatchesForDeny(ace.sid) &&
         (acl::MapGeneric(ace.mask) & bits) != 0;
}

}  // namespace mkeys::repair::internal
