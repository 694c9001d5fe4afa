// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.5.3.4: the security descriptor of a new object from its parent's, the creator's
// token and an optional explicit descriptor.

#include <cstdint>
#include <optional>

#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"

namespace mkeys::acl {

// AutoInheritFlags of SeAssignSecurityEx / CreatePrivateObjectSecurityEx (MS-DTYP 2.5.3.4.1).
namespace auto_inherit {
// SEF_DACL_AUTO_INHERIT: the parent's inheritable ACEs are merged after the creator's explicit,
// unprotected DACL, and the new DACL is marked auto-inherited when the parent's is.
inline constexpr std::uint32_t kDacl = 0x01;
inline constexpr std::uint32_t kSacl = 0x02;  // SEF_SACL_AUTO_INHERIT, the same for the SACL
}  // namespace auto_inherit

struct CreateOptions {
  bool is_directory = false;
  // The descriptor the creator passed (CreateFile's lpSecurityAttributes), if any.
  const SecurityDescriptor* explicit_sd = nullptr;
  // The token's default owner/group; defaults to the token's user and its first group.
  std::optional<Sid> default_owner;
  std::optional<Sid> default_group;
  // The AutoInheritFlags to compute with, as CreatePrivateObjectSecurityEx takes them. Unset:
  // what creating a file or directory on NTFS does (CreateFile, CreateDirectory, NtCreateFile):
  // a creator's explicit DACL (SACL) is used as given, nothing merged into it and not marked
  // auto-inherited; without one the parent's inheritable ACEs are inherited (auto-inherited
  // when the parent's ACL is). See FileSystemAutoInheritFlags.
  std::optional<std::uint32_t> auto_inherit_flags;
};

// The AutoInheritFlags that explain what Windows' file systems give a new file or directory:
// SEF_DACL_AUTO_INHERIT only when the creator's descriptor has no (or a defaulted) DACL, and
// likewise for the SACL.
std::uint32_t FileSystemAutoInheritFlags(const SecurityDescriptor* explicit_sd);

// CreateSecurityDescriptor (2.5.3.4.1) with the file generic mapping. Handles OI/CI/NP/IO,
// CREATOR OWNER / CREATOR GROUP substitution in inherited ACEs, INHERITED_ACE, protected and
// auto-inherited DACLs. The creator's explicit ACEs keep their SIDs and flags (only their
// generic rights are mapped).
SecurityDescriptor InheritSecurityDescriptor(const SecurityDescriptor* parent, const Token& creator,
                                             const CreateOptions& options = {});

// The ACEs that `parent_acl` passes on to a child (2.5.3.4.2 ComputeInheritedACLfromParent).
Acl ComputeInheritedAcl(const Acl& parent_acl, bool is_directory, const Sid& owner,
                        const Sid& group);

}  // namespace mkeys::acl
