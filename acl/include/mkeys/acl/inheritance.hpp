// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.5.3.4: the security descriptor of a new object from its parent's, the creator's
// token and an optional explicit descriptor.

#include <optional>

#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"

namespace mkeys::acl {

struct CreateOptions {
  bool is_directory = false;
  // The descriptor the creator passed (CreateFile's lpSecurityAttributes), if any.
  const SecurityDescriptor* explicit_sd = nullptr;
  // The token's default owner/group; defaults to the token's user and its first group.
  std::optional<Sid> default_owner;
  std::optional<Sid> default_group;
};

// CreateSecurityDescriptor (2.5.3.4.1) with the file generic mapping. Handles OI/CI/NP/IO,
// CREATOR OWNER / CREATOR GROUP substitution, INHERITED_ACE, protected and auto-inherited DACLs.
SecurityDescriptor InheritSecurityDescriptor(const SecurityDescriptor* parent, const Token& creator,
                                             const CreateOptions& options = {});

// The ACEs that `parent_acl` passes on to a child (2.5.3.4.2 ComputeInheritedACLfromParent).
Acl ComputeInheritedAcl(const Acl& parent_acl, bool is_directory, const Sid& owner,
                        const Sid& group);

}  // namespace mkeys::acl
