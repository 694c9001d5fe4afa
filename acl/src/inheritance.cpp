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

// The post-processing MS-DTYP 2.5.3.4 applies to every ACE that lands in a new object's ACL,
// inherited or explicit (ComputeInheritedACLfromParent / ComputeInheritedACLfromCreator):
// an ACE that is effective on the new object (not INHERIT_ONLY) and names CREATOR OWNER /
// CREATOR GROUP or carries generic rights is made concrete — the SID replaced by the new
// object's owner / group, the generic rights mapped — and, if it is also inheritable further
// (OI or CI left), it is split: the concrete effective ACE (no inheritance flags) followed by an
// INHERIT_ONLY copy of the original, so that grandchildren inherit the original again.
// On a file (`container` false) nothing propagates further, so an explicit ACE is made concrete
// in place, its flags as the creator gave them.
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

// The token's default DACL (TOKEN_DEFAULT_DACL) as Windows builds it for a logon: GENERIC_ALL to
// the token's default owner and to SYSTEM (`whoami`-style dumps of TokenDefaultDacl show
// (A;;GA;;;<owner>)(A;;GA;;;SY)); mapped, since it is effective on the object.
Acl DefaultDacl(const Token& creator) {
  Acl acl;
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

  // DACL (MS-DTYP 2.5.3.4.2 ComputeACL; Microsoft docs "DACL for a New Object"): the creator's
  // DACL if it gave one, with the parent's inheritable ACEs merged after it unless the creator's
  // DACL is protected; else the inheritable ACEs; if there are none, the token's default DACL.
  // NTFS creates files with DACL_AUTO_INHERIT, so inherited ACEs carry INHERITED_ACE and the
  // new DACL is marked auto-inherited when the parent's is.
  const bool parent_has_acl = parent != nullptr && parent->HasDacl() && parent->dacl.has_value();
  const bool parent_auto_inherited =
      parent != nullptr && (parent->control & sd_control::kDaclAutoInherited) != 0;
  Acl inherited;
  if (parent_has_acl) {
    inherited = ComputeInheritedAcl(*parent->dacl, options.is_directory, *sd.owner, *sd.group);
  }
  const bool creator_dacl = explicit_sd != nullptr && explicit_sd->HasDacl() &&
                            (explicit_sd->control & sd_control::kDaclDefaulted) == 0;
  if (creator_dacl && explicit_sd->HasNullDacl()) {
    sd.SetNullDacl();
    sd.control |= explicit_sd->control & sd_control::kDaclProtected;
  } else if (creator_dacl) {
    Acl dacl;
    dacl.revision = explicit_sd->dacl->revision;
    for (const Ace& ace : explicit_sd->dacl->aces) {
      Ace explicit_ace = ace;
      // A creator cannot claim that its ACEs were inherited.
      explicit_ace.flags = static_cast<std::uint8_t>(explicit_ace.flags & ~kInherited);
      AppendProcessed(dacl.aces, std::move(explicit_ace), *sd.owner, *sd.group,
                      options.is_directory);
    }
    if (explicit_sd->DaclProtected()) {
      sd.SetDacl(std::move(dacl));
      sd.control |= sd_control::kDaclProtected;
    } else {
      for (auto& ace : inherited.aces) dacl.aces.push_back(std::move(ace));
      sd.SetDacl(std::move(dacl));
    }
    if (parent_auto_inherited) sd.control |= sd_control::kDaclAutoInherited;
  } else if (!inherited.aces.empty()) {
    sd.SetDacl(std::move(inherited));
    if (parent_auto_inherited) sd.control |= sd_control::kDaclAutoInherited;
  } else {
    sd.SetDacl(DefaultDacl(creator));
  }
  if (sd.dacl) sd.dacl->revision = sd.dacl->NaturalRevision();

  // SACL: the creator's (if any), with the parent's inheritable audit ACEs merged the same way.
  const bool parent_has_sacl = parent != nullptr && parent->HasSacl() && parent->sacl.has_value();
  Acl inherited_sacl;
  if (parent_has_sacl) {
    inherited_sacl = ComputeInheritedAcl(*parent->sacl, options.is_directory, *sd.owner, *sd.group);
  }
  if (explicit_sd != nullptr && explicit_sd->HasSacl() && explicit_sd->sacl) {
    Acl sacl = *explicit_sd->sacl;
    if ((explicit_sd->control & sd_control::kSaclProtected) != 0) {
      sd.control |= sd_control::kSaclProtected;
    } else {
      for (auto& ace : inherited_sacl.aces) sacl.aces.push_back(std::move(ace));
    }
    sacl.revision = sacl.NaturalRevision();
    sd.SetSacl(std::move(sacl));
  } else if (!inherited_sacl.aces.empty()) {
    inherited_sacl.revision = inherited_sacl.NaturalRevision();
    sd.SetSacl(std::move(inherited_sacl));
    if ((parent->control & sd_control::kSaclAutoInherited) != 0) {
      sd.control |= sd_control::kSaclAutoInherited;
    }
  }
  return sd;
}

}  // namespace mkeys::acl
