// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/acl/inheritance.hpp"

namespace mkeys::acl {
namespace {

using namespace ace_flags;

constexpr AccessMask kGenericBits =
    rights::kGenericRead | rights::kGenericWrite | rights::kGenericExecute | rights::kGenericAll;

bool IsCreatorSid(const Sid& sid) {
  return sid == sids::CreatorOwner() || sid == sids::CreatorGroup();
}

// The post-processing MS-DTYP 2.5.3.4 applies to an inherited ACE (ComputeInheritedACLfromParent):
// an ACE that is effective on the new object (not INHERIT_ONLY) and names CREATOR OWNER /
// CREATOR GROUP or carries generic rights is made concrete — the SID replaced by the new
// object's owner / group, the generic rights mapped — and, if it is also inheritable further
// (OI or CI left), it is split: the concrete effective ACE (no inheritance flags) followed by an
// INHERIT_ONLY copy of the original, so that grandchildren inherit the original again.
void AppendProcessed(std::vector<Ace>& out, Ace ace, const Sid& owner, const Sid& group,
                     bool container) {
  if ((ace.flags & kInheritOnly) != 0) {
    out.push_back(std::move(ace));
    return;
  }
  const bool creator = IsCreatorSid(ace.sid);
  const bool generic = (ace.mask & kGenericBits) != 0;
  if (!creator && !generic) {
    out.push_back(std::move(ace));
    return;
  }
  const bool inheritable = container && (ace.flags & (kObjectInherit | kContainerInherit)) != 0;
  Ace effective = ace;
  if (ace.sid == sids::CreatorOwner()) effective.sid = owner;
  if (ace.sid == sids::CreatorGroup()) effective.sid = group;
  effective.mask = MapGeneric(ace.mask);
  if (inheritable) {
    effective.flags = static_cast<std::uint8_t>(ace.flags & ~kInheritanceFlags);
  }
  out.push_back(std::move(effective));
  if (inheritable) {
    Ace inherit_only = std::move(ace);
    inherit_only.flags |= kInheritOnly;
    out.push_back(std::move(inherit_only));
  }
}

// The token's default DACL (TOKEN_DEFAULT_DACL), its generic rights mapped since it is effective
// on the object. A token without one set: as LSA builds it for a logon, GENERIC_ALL to the
// token's default owner and to SYSTEM (`whoami`-style dumps of TokenDefaultDacl show
// (A;;GA;;;<owner>)(A;;GA;;;SY)).
Acl DefaultDacl(const Token& creator) {
  Acl acl;
  if (creator.default_dacl()) {
    acl = *creator.default_dacl();
    for (Ace& ace : acl.aces) {
      if (!ace.IsInheritOnly()) ace.mask = MapGeneric(ace.mask);
    }
    acl.revision = acl.NaturalRevision();
    return acl;
  }
  acl.aces.push_back(AllowAce(creator.default_owner(), rights::kFileAllAccess));
  if (creator.default_owner() != sids::LocalSystem()) {
    acl.aces.push_back(AllowAce(sids::LocalSystem(), rights::kFileAllAccess));
  }
  return acl;
}

}  // namespace

Acl ComputeInheritedAcl(const Acl& parent_acl, bool is_directory, const Sid& owner,
                        const Sid& group) {
  Acl out;
  out.revision = parent_acl.revision;
  for (const Ace& parent_ace : parent_acl.aces) {
    const std::uint8_t f = parent_ace.flags;
    const bool oi = (f & kObjectInherit) != 0;
    const bool ci = (f & kContainerInherit) != 0;
    const bool np = (f & kNoPropagateInherit) != 0;
    Ace ace = parent_ace;
    if (is_directory) {
      if (ci) {
        // A container inherits CI ACEs as effective ACEs. Without NP they keep OI/CI so that
        // they propagate further (and lose IO); with NP they stop here.
        ace.flags = np ? static_cast<std::uint8_t>(f & ~kInheritanceFlags)
                       : static_cast<std::uint8_t>(f & ~kInheritOnly);
      } else if (oi && !np) {
        // OI-only ACEs pass through a container to its files: inherit-only on the container.
        ace.flags = static_cast<std::uint8_t>(f | kInheritOnly);
      } else {
        continue;  // OI+NP: for files directly inside the parent only; CI-less, OI-less: none.
      }
    } else {
      if (!oi) continue;  // files inherit OI ACEs only, as effective ACEs without any flags
      ace.flags = static_cast<std::uint8_t>(f & ~kInheritanceFlags);
    }
    ace.flags |= kInherited;
    AppendProcessed(out.aces, std::move(ace), owner, group, is_directory);
  }
  return out;
}

std::uint32_t FileSystemAutoInheritFlags(const SecurityDescriptor* explicit_sd) {
  std::uint32_t flags = auto_inherit::kDacl | auto_inherit::kSacl;
  if (explicit_sd == nullptr) return flags;
  if (explicit_sd->HasDacl() && (explicit_sd->control & sd_control::kDaclDefaulted) == 0) {
    flags &= ~auto_inherit::kDacl;
  }
  if (explicit_sd->HasSacl() && (explicit_sd->control & sd_control::kSaclDefaulted) == 0) {
    flags &= ~auto_inherit::kSacl;
  }
  return flags;
}

namespace {

// The creator's explicit ACEs as they land on the new object (Windows-run create tests, see
// tests/acl/inheritance_test.cpp): one ACE each, flags and SID as given — CREATOR OWNER /
// CREATOR GROUP are not substituted and nothing is split —, generic rights mapped unless the
// ACE is inherit-only. A creator cannot claim that its ACEs were inherited.
Acl CreatorAcl(const Acl& given) {
  Acl acl;
  acl.revision = given.revision;
  for (const Ace& ace : given.aces) {
    Ace copy = ace;
    copy.flags = static_cast<std::uint8_t>(copy.flags & ~kInherited);
    if (!copy.IsInheritOnly()) copy.mask = MapGeneric(copy.mask);
    acl.aces.push_back(std::move(copy));
  }
  return acl;
}

struct AclInputs {
  const Acl* parent_acl = nullptr;  // the parent's ACL, if it has one
  bool parent_auto_inherited = false;
  const SecurityDescriptor* creator = nullptr;
  bool creator_given = false;  // present and not defaulted
  bool creator_protected = false;
  bool auto_inherit = false;  // SEF_DACL_AUTO_INHERIT / SEF_SACL_AUTO_INHERIT
};

struct AclResult {
  std::optional<Acl> acl;  // nullopt: no ACL from this step
  bool null_acl = false;
  bool is_protected = false;
  bool auto_inherited = false;
};

// MS-DTYP 2.5.3.4.2 ComputeACL for one ACL (the default DACL step is the caller's).
AclResult ComputeOneAcl(const AclInputs& in, const std::optional<Acl>& creator_acl,
                        bool creator_null, bool is_directory, const Sid& owner, const Sid& group) {
  AclResult out;
  Acl inherited;
  if (in.parent_acl != nullptr) {
    inherited = ComputeInheritedAcl(*in.parent_acl, is_directory, owner, group);
  }
  if (in.creator_given) {
    out.is_protected = in.creator_protected;
    if (creator_null) {
      out.null_acl = true;
      return out;
    }
    Acl acl = CreatorAcl(*creator_acl);
    if (in.auto_inherit && !in.creator_protected) {
      for (auto& ace : inherited.aces) acl.aces.push_back(std::move(ace));
    }
    out.auto_inherited = in.auto_inherit && in.parent_auto_inherited;
    acl.revision = acl.NaturalRevision();
    out.acl = std::move(acl);
    return out;
  }
  if (!inherited.aces.empty()) {
    out.auto_inherited = in.auto_inherit && in.parent_auto_inherited;
    inherited.revision = inherited.NaturalRevision();
    out.acl = std::move(inherited);
  }
  return out;
}

}  // namespace

SecurityDescriptor InheritSecurityDescriptor(const SecurityDescriptor* parent, const Token& creator,
                                             const CreateOptions& options) {
  const SecurityDescriptor* explicit_sd = options.explicit_sd;
  SecurityDescriptor sd;
  sd.control = sd_control::kSelfRelative;

  // Owner and group: the creator's if it supplied them, else the token's defaults.
  if (explicit_sd != nullptr && explicit_sd->owner) {
    sd.owner = explicit_sd->owner;
  } else {
    sd.owner = options.default_owner.value_or(creator.default_owner());
  }
  if (explicit_sd != nullptr && explicit_sd->group) {
    sd.group = explicit_sd->group;
  } else {
    sd.group = options.default_group.value_or(creator.primary_group());
  }
  const std::uint32_t flags =
      options.auto_inherit_flags.value_or(FileSystemAutoInheritFlags(explicit_sd));

  // DACL (MS-DTYP 2.5.3.4.2 ComputeACL): the creator's DACL if it gave one (merged with the
  // parent's inheritable ACEs only under SEF_DACL_AUTO_INHERIT and when not protected); else
  // the inheritable ACEs; if there are none, the token's default DACL.
  AclInputs dacl_in;
  if (parent != nullptr && parent->HasDacl() && parent->dacl) dacl_in.parent_acl = &*parent->dacl;
  dacl_in.parent_auto_inherited =
      parent != nullptr && (parent->control & sd_control::kDaclAutoInherited) != 0;
  dacl_in.creator_given = explicit_sd != nullptr && explicit_sd->HasDacl() &&
                          (explicit_sd->control & sd_control::kDaclDefaulted) == 0;
  dacl_in.creator_protected = dacl_in.creator_given && explicit_sd->DaclProtected();
  dacl_in.auto_inherit = (flags & auto_inherit::kDacl) != 0;
  AclResult dacl = ComputeOneAcl(dacl_in, dacl_in.creator_given ? explicit_sd->dacl : std::nullopt,
                                 dacl_in.creator_given && explicit_sd->HasNullDacl(),
                                 options.is_directory, *sd.owner, *sd.group);
  if (dacl.null_acl) {
    sd.SetNullDacl();
  } else if (dacl.acl) {
    sd.SetDacl(std::move(*dacl.acl));
  } else {
    sd.SetDacl(DefaultDacl(creator));
  }
  if (dacl.is_protected) sd.control |= sd_control::kDaclProtected;
  if (dacl.auto_inherited) sd.control |= sd_control::kDaclAutoInherited;

  // SACL: the same computation; without any source the new object has no SACL.
  AclInputs sacl_in;
  if (parent != nullptr && parent->HasSacl() && parent->sacl) sacl_in.parent_acl = &*parent->sacl;
  sacl_in.parent_auto_inherited =
      parent != nullptr && (parent->control & sd_control::kSaclAutoInherited) != 0;
  sacl_in.creator_given = explicit_sd != nullptr && explicit_sd->HasSacl() &&
                          (explicit_sd->control & sd_control::kSaclDefaulted) == 0;
  sacl_in.creator_protected =
      sacl_in.creator_given && (explicit_sd->control & sd_control::kSaclProtected) != 0;
  sacl_in.auto_inherit = (flags & auto_inherit::kSacl) != 0;
  AclResult sacl = ComputeOneAcl(sacl_in, sacl_in.creator_given ? explicit_sd->sacl : std::nullopt,
                                 sacl_in.creator_given && !explicit_sd->sacl, options.is_directory,
                                 *sd.owner, *sd.group);
  if (sacl.null_acl) {
    sd.sacl.reset();
    sd.control |= sd_control::kSaclPresent;
  } else if (sacl.acl) {
    sd.SetSacl(std::move(*sacl.acl));
  }
  if (sacl.is_protected) sd.control |= sd_control::kSaclProtected;
  if (sacl.auto_inherited) sd.control |= sd_control::kSaclAutoInherited;
  return sd;
}

}  // namespace mkeys::acl
