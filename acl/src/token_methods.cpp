// SPDX-License-Identifier: GPL-3.0-or-later
// The Token value type: membership for allow and deny ACEs, privileges, and the defaults it gives
// new objects (owner, primary group, default DACL). The catalogue of identities is token.cpp.
#include <algorithm>

#include "mkeys/acl/token.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::acl {

Token::Token(Sid user, std::vector<TokenGroup> groups, std::vector<TokenPrivilege> privileges,
             std::string display_name)
    : user_(std::move(user)),
      groups_(std::move(groups)),
      privileges_(std::move(privileges)),
      display_name_(std::move(display_name)) {}

bool Token::MatchesForAllow(const Sid& sid) const {
  if (user_ == sid) return true;
  return std::any_of(groups_.begin(), groups_.end(),
                     [&](const TokenGroup& g) { return !g.deny_only && g.sid == sid; });
}

bool Token::MatchesForDeny(const Sid& sid) const {
  if (user_ == sid) return true;
  return std::any_of(groups_.begin(), groups_.end(),
                     [&](const TokenGroup& g) { return g.sid == sid; });
}

bool Token::HasPrivilege(std::string_view name) const {
  return std::any_of(privileges_.begin(), privileges_.end(), [&](const TokenPrivilege& p) {
    return p.enabled && text::EqualsIgnoreAsciiCase(p.name, name);
  });
}

Token& Token::EnablePrivilege(std::string_view name) {
  for (auto& p : privileges_) {
    if (text::EqualsIgnoreAsciiCase(p.name, name)) {
      p.enabled = true;
      return *this;
    }
  }
  privileges_.push_back({CanonicalPrivilegeName(name).value_or(std::string(name)), true});
  return *this;
}

Token& Token::RemovePrivilege(std::string_view name) {
  privileges_.erase(std::remove_if(privileges_.begin(), privileges_.end(),
                                   [&](const TokenPrivilege& p) {
                                     return text::EqualsIgnoreAsciiCase(p.name, name);
                                   }),
                    privileges_.end());
  return *this;
}

Token& Token::AddGroup(TokenGroup group) {
  for (auto& g : groups_) {
    if (g.sid == group.sid) {
      g.deny_only = group.deny_only;
      return *this;
    }
  }
  groups_.push_back(std::move(group));
  return *this;
}

Token& Token::SetDefaultOwner(Sid owner) {
  default_owner_ = std::move(owner);
  return *this;
}

Token& Token::SetPrimaryGroup(Sid group) {
  primary_group_ = std::move(group);
  return *this;
}

Token& Token::SetDefaultDacl(Acl dacl) {
  default_dacl_ = std::move(dacl);
  return *this;
}

}  // namespace mkeys::acl
