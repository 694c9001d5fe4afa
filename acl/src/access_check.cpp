// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/acl/access_check.hpp"

#include <cstdint>
#include <map>
#include <tuple>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"

namespace mkeys::acl {
namespace {

// Rights that backup and restore semantics grant regardless of the DACL. The I/O manager checks
// these before the DACL when an open asks for backup intent (FILE_FLAG_BACKUP_SEMANTICS) and the
// privilege is enabled. Microsoft docs, "File Security and Access Rights": SE_BACKUP_NAME grants
// READ_CONTROL, ACCESS_SYSTEM_SECURITY, FILE_GENERIC_READ and FILE_TRAVERSE; SE_RESTORE_NAME
// grants WRITE_DAC, WRITE_OWNER, ACCESS_SYSTEM_SECURITY, FILE_GENERIC_WRITE, FILE_ADD_FILE,
// FILE_ADD_SUBDIRECTORY and DELETE.
constexpr AccessMask kBackupRights = rights::kReadControl | rights::kAccessSystemSecurity |
                                     rights::kFileGenericRead | rights::kTraverse;
constexpr AccessMask kRestoreRights = rights::kWriteDac | rights::kWriteOwner |
                                      rights::kAccessSystemSecurity | rights::kFileGenericWrite |
                                      rights::kAddFile | rights::kAddSubdirectory | rights::kDelete;

enum class AceEffect { kIgnore, kAllow, kDeny };

// What an ACE does in a file access check with no object-type list.
// - Object ACEs: MS-DTYP 2.5.3.2 applies an object ACE without an ObjectType like a plain ACE;
//   one with an ObjectType only matters against an object-type list, which files do not have.
// - Callback (conditional) ACEs: mkeys does not evaluate conditions. MS-DTYP 2.5.3.2 applies an
//   allow callback ACE only when its condition is TRUE and a deny callback ACE when it is TRUE
//   or UNKNOWN, so an unevaluated allow is ignored and an unevaluated deny is applied.
// - Compound, audit, alarm, label and resource ACEs do not grant or deny in a DACL.
AceEffect EffectOf(const Ace& ace) {
  const bool has_object_type = ace.object_type.has_value();
  switch (ace.type) {
    case AceType::kAccessAllowed:
      return AceEffect::kAllow;
    case AceType::kAccessAllowedObject:
      return has_object_type ? AceEffect::kIgnore : AceEffect::kAllow;
    case AceType::kAccessDenied:
    case AceType::kAccessDeniedCallback:
      return AceEffect::kDeny;
    case AceType::kAccessDeniedObject:
    case AceType::kAccessDeniedCallbackObject:
      return has_object_type ? AceEffect::kIgnore : AceEffect::kDeny;
    default:
      return AceEffect::kIgnore;
  }
}

// Does the ACE's trustee name this token? OWNER RIGHTS (S-1-3-4) stands for the object's owner.
// Deny ACEs also match deny-only groups; allow ACEs only enabled ones (MS-DTYP 2.5.3.2).
bool TrusteeMatches(const Ace& ace, const Token& token, const SecurityDescriptor& sd, bool deny) {
  if (ace.sid == sids::OwnerRights()) {
    if (!sd.owner) return false;
    return deny ? token.MatchesForDeny(*sd.owner) : token.MatchesForAllow(*sd.owner);
  }
  return deny ? token.MatchesForDeny(ace.sid) : token.MatchesForAllow(ace.sid);
}

class Decisions {
 public:
  explicit Decisions(AccessMask universe) : universe_(universe) {}

  // Records `kind` for every bit of `bits` in the universe not decided yet.
  void Decide(AccessMask bits, bool grant, const RightReason& prototype) {
    const AccessMask open = bits & universe_ & ~decided_;
    for (int i = 0; i < 32; ++i) {
      const AccessMask bit = AccessMask{1} << i;
      if ((open & bit) == 0) continue;
      RightReason reason = prototype;
      reason.right = bit;
      reasons_[bit] = std::move(reason);
    }
    decided_ |= open;
    if (grant) granted_ |= open;
  }
  AccessMask undecided() const { return universe_ & ~decided_; }
  AccessMask granted() const { return granted_; }
  const std::map<AccessMask, RightReason>& reasons() const { return reasons_; }

 private:
  AccessMask universe_;
  AccessMask decided_ = 0;
  AccessMask granted_ = 0;
  std::map<AccessMask, RightReason> reasons_;
};

RightReason Reason(ReasonKind kind) {
  RightReason r;
  r.kind = kind;
  return r;
}

RightReason PrivilegeReason(ReasonKind kind, std::string_view privilege) {
  RightReason r;
  r.kind = kind;
  r.privilege = std::string(privilege);
  return r;
}

std::string ShortName(const Sid& sid) {
  if (auto name = LookupSid(sid)) return name->name;
  return sid.ToString();
}

}  // namespace

std::string TokenShortName(const Token& token) {
  // LookupSid names a derived SID it cannot reverse (NT SERVICE\x, IIS APPPOOL\x) by its SID
  // string; the token's display name ("IIS APPPOOL\DefaultAppPool") says more.
  if (auto name = LookupSid(token.user()); name && name->name != token.user().ToString()) {
    return name->name;
  }
  if (!token.display_name().empty()) return token.display_name();
  return token.user().ToString();
}

namespace {

std::string JoinRights(AccessMask mask) {
  std::string out;
  for (const auto& name : RightNames(mask)) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

int BitCount(AccessMask mask) {
  int n = 0;
  for (; mask != 0; mask &= mask - 1) ++n;
  return n;
}

}  // namespace

std::string_view ReasonKindName(ReasonKind kind) {
  switch (kind) {
    case ReasonKind::kGrantedByAce:
      return "granted-by-ace";
    case ReasonKind::kDeniedByAce:
      return "denied-by-ace";
    case ReasonKind::kNotGranted:
      return "not-granted";
    case ReasonKind::kGrantedByPrivilege:
      return "granted-by-privilege";
    case ReasonKind::kGrantedAsOwner:
      return "granted-as-owner";
    case ReasonKind::kNullDacl:
      return "null-dacl";
    case ReasonKind::kEmptyDacl:
      return "empty-dacl";
    case ReasonKind::kMissingPrivilege:
      return "missing-privilege";
  }
  return "unknown";
}

std::string ReasonText(const RightReason& reason) {
  const std::string ace =
      reason.ace_index ? "ACE #" + std::to_string(*reason.ace_index) + " " + reason.ace_sddl : "";
  switch (reason.kind) {
    case ReasonKind::kGrantedByAce:
      return "granted by " + ace;
    case ReasonKind::kDeniedByAce:
      return "denied by " + ace;
    case ReasonKind::kNotGranted:
      return "no ACE grants it";
    case ReasonKind::kGrantedByPrivilege:
      return "granted by " + reason.privilege;
    case ReasonKind::kGrantedAsOwner:
      return "granted to the owner implicitly";
    case ReasonKind::kNullDacl:
      return "granted: the DACL is NULL";
    case ReasonKind::kEmptyDacl:
      return "the DACL is empty";
    case ReasonKind::kMissingPrivilege:
      return "requires " + reason.privilege + ", not enabled";
  }
  return "unknown";
}

AccessCheckResult CheckAccessWin32(const SecurityDescriptor& sd, const Token& token,
                                   AccessMask desired, bool map_generic,
                                   const GenericMapping& mapping) {
  constexpr AccessMask kGeneric =
      rights::kGenericRead | rights::kGenericWrite | rights::kGenericExecute | rights::kGenericAll;
  AccessCheckResult failed;
  failed.maximum_allowed = (desired & rights::kMaximumAllowed) != 0;
  failed.desired = desired & ~rights::kMaximumAllowed;
  if (!sd.owner || !sd.group) {
    // SDK, AccessCheck: the descriptor "must include owner, group, and DACL"; without owner or
    // group the call fails with ERROR_INVALID_SECURITY_DESCR.
    failed.error = win32_error::kInvalidSecurityDescr;
    return failed;
  }
  if (!map_generic && (desired & kGeneric) != 0) {
    // SDK, AccessCheck: DesiredAccess must have been mapped by MapGenericMask, "the mask must
    // not contain generic rights" - else ERROR_GENERIC_NOT_MAPPED.
    failed.error = win32_error::kGenericNotMapped;
    return failed;
  }
  return CheckAccess(sd, token, desired, mapping);
}

AccessCheckResult CheckAccess(const SecurityDescriptor& sd, const Token& token, AccessMask desired,
                              const GenericMapping& mapping) {
  AccessCheckResult result;
  result.maximum_allowed = (desired & rights::kMaximumAllowed) != 0;
  result.desired = MapGeneric(desired, mapping) & ~rights::kMaximumAllowed;
  // With MAXIMUM_ALLOWED every right of the object type is evaluated (GENERIC_ALL mapped), plus
  // whatever else was asked for explicitly (ACCESS_SYSTEM_SECURITY only then).
  const AccessMask universe =
      result.maximum_allowed ? (result.desired | mapping.all) : result.desired;
  Decisions decisions(universe);

  // Privileges come first: what they grant no ACE can take away (MS-DTYP 2.5.3.2 handles
  // SeSecurity and SeTakeOwnership before the DACL; backup/restore are granted by the I/O
  // manager before the DACL is consulted).
  if (token.HasPrivilege(privileges::kBackup)) {
    decisions.Decide(kBackupRights, true,
                     PrivilegeReason(ReasonKind::kGrantedByPrivilege, privileges::kBackup));
  }
  if (token.HasPrivilege(privileges::kRestore)) {
    decisions.Decide(kRestoreRights, true,
                     PrivilegeReason(ReasonKind::kGrantedByPrivilege, privileges::kRestore));
  }
  if (token.HasPrivilege(privileges::kTakeOwnership)) {
    decisions.Decide(rights::kWriteOwner, true,
                     PrivilegeReason(ReasonKind::kGrantedByPrivilege, privileges::kTakeOwnership));
  }
  // ACCESS_SYSTEM_SECURITY is never granted by an ACE: only SeSecurityPrivilege gives it.
  if (token.HasPrivilege(privileges::kSecurity)) {
    decisions.Decide(rights::kAccessSystemSecurity, true,
                     PrivilegeReason(ReasonKind::kGrantedByPrivilege, privileges::kSecurity));
  } else {
    decisions.Decide(rights::kAccessSystemSecurity, false,
                     PrivilegeReason(ReasonKind::kMissingPrivilege, privileges::kSecurity));
  }

  if (!sd.HasDacl() || sd.HasNullDacl()) {
    // No DACL, or a NULL DACL: everyone is granted everything.
    decisions.Decide(universe, true, Reason(ReasonKind::kNullDacl));
  } else {
    const Acl& dacl = *sd.dacl;
    // The owner is implicitly granted READ_CONTROL and WRITE_DAC, unless the DACL has an
    // OWNER RIGHTS ACE: then the owner gets what those ACEs say (MS-DTYP 2.5.3.2).
    bool owner_rights_ace = false;
    for (const auto& ace : dacl.aces) {
      if (!ace.IsInheritOnly() && ace.sid == sids::OwnerRights()) owner_rights_ace = true;
    }
    if (sd.owner && !owner_rights_ace && token.MatchesForAllow(*sd.owner)) {
      decisions.Decide(rights::kReadControl | rights::kWriteDac, true,
                       Reason(ReasonKind::kGrantedAsOwner));
    }
    for (std::size_t i = 0; i < dacl.aces.size() && decisions.undecided() != 0; ++i) {
      const Ace& ace = dacl.aces[i];
      if (ace.IsInheritOnly()) continue;  // applies to children only
      const AceEffect effect = EffectOf(ace);
      if (effect == AceEffect::kIgnore) continue;
      const bool deny = effect == AceEffect::kDeny;
      if (!TrusteeMatches(ace, token, sd, deny)) continue;
      // Stored ACEs have their generic bits mapped when Windows writes the descriptor; a
      // descriptor typed as SDDL may still carry them, so map here to get the same answer.
      const AccessMask mask = MapGeneric(ace.mask, mapping);
      if ((mask & decisions.undecided()) == 0) continue;
      RightReason reason = Reason(deny ? ReasonKind::kDeniedByAce : ReasonKind::kGrantedByAce);
      reason.ace_index = i;
      reason.ace_sddl = FormatAceSddl(ace);
      // Explicitly denied bits always override later grants; earlier grants stand.
      decisions.Decide(mask, !deny, reason);
    }
    decisions.Decide(decisions.undecided(), false,
                     Reason(dacl.aces.empty() ? ReasonKind::kEmptyDacl : ReasonKind::kNotGranted));
  }

  result.granted = decisions.granted();
  if (result.maximum_allowed) {
    result.allowed = HasAll(result.granted, result.desired) && result.granted != 0;
  } else {
    // An empty desired access is denied (AccessCheck grants nothing for nothing asked).
    result.allowed = result.desired != 0 && HasAll(result.granted, result.desired);
  }
  const AccessMask reported =
      result.maximum_allowed ? (result.granted | result.desired) : result.desired;
  for (const auto& [bit, reason] : decisions.reasons()) {
    if ((reported & bit) != 0) result.reasons.push_back(reason);
  }
  return result;
}

std::string AccessCheckResult::Explain(const Token& token, const SecurityDescriptor& sd) const {
  const std::string who = TokenShortName(token);
  const std::string owner = sd.owner ? ShortName(*sd.owner) : "none";

  // Group the reasons by their cause, keeping the order of first appearance.
  using Key = std::tuple<int, std::size_t, std::string>;
  std::vector<std::pair<Key, std::pair<AccessMask, RightReason>>> groups;
  for (const auto& reason : reasons) {
    const bool granted_bit = (granted & reason.right) != 0;
    // Explain the verdict: what granted the rights, or why the missing ones are missing.
    if (allowed != granted_bit) continue;
    const Key key{static_cast<int>(reason.kind), reason.ace_index.value_or(SIZE_MAX),
                  reason.privilege};
    bool merged = false;
    for (auto& [k, entry] : groups) {
      if (k == key) {
        entry.first |= reason.right;
        merged = true;
      }
    }
    if (!merged) groups.push_back({key, {reason.right, reason}});
  }
  if (groups.empty()) {
    if (allowed) return who + " is granted nothing and was asked for nothing";
    return who + " is granted nothing (owner " + owner + ")";
  }

  std::string out;
  for (const auto& [key, entry] : groups) {
    const auto& [mask, reason] = entry;
    const std::string list = JoinRights(mask);
    const bool plural = BitCount(mask) > 1;
    std::string clause;
    switch (reason.kind) {
      case ReasonKind::kGrantedByAce:
        clause = who + " is granted " + list + " by ACE #" + std::to_string(*reason.ace_index) +
                 " " + reason.ace_sddl;
        break;
      case ReasonKind::kGrantedAsOwner:
        clause = who + " is granted " + list + " as the owner";
        break;
      case ReasonKind::kGrantedByPrivilege:
        clause = who + " is granted " + list + " by " + reason.privilege;
        break;
      case ReasonKind::kNullDacl:
        clause = who + " is granted " + list + " (the DACL is NULL: everyone has full access)";
        break;
      case ReasonKind::kDeniedByAce:
        clause = who + " lacks " + list + " (denied by ACE #" + std::to_string(*reason.ace_index) +
                 " " + reason.ace_sddl + ")";
        break;
      case ReasonKind::kNotGranted:
        clause = who + " lacks " + list + " (no ACE grants " + (plural ? "them" : "it") +
                 "; owner " + owner + ")";
        break;
      case ReasonKind::kEmptyDacl:
        clause = who + " lacks " + list + " (the DACL is empty; owner " + owner + ")";
        break;
      case ReasonKind::kMissingPrivilege:
        clause = who + " lacks " + list + " (" + reason.privilege + " is not enabled)";
        break;
    }
    if (!out.empty()) out += "; ";
    out += clause;
  }
  return out;
}

std::string AccessCheckResult::Sentence(const Token& token, std::string_view what,
                                        const SecurityDescriptor& sd) const {
  if (allowed || error != 0) return Explain(token, sd);
  const std::string who = TokenShortName(token);
  const std::string owner = sd.owner ? ShortName(*sd.owner) : "none";
  const std::string lacks = JoinRights(Missing());
  for (const auto& reason : reasons) {
    if (reason.kind == ReasonKind::kDeniedByAce && (granted & reason.right) == 0) {
      return "ACE #" + std::to_string(reason.ace_index.value_or(0)) + " " + reason.ace_sddl +
             " denies " + who + " " + std::string(what) + " (lacks " + lacks + ")";
    }
  }
  bool by_ace = false;
  for (const auto& reason : reasons) {
    if ((granted & reason.right) != 0) continue;
    if (reason.kind == ReasonKind::kEmptyDacl) {
      return "the DACL is empty: no ACE grants " + who + " " + std::string(what) + " (owner " +
             owner + ")";
    }
    if (reason.kind == ReasonKind::kNotGranted) by_ace = true;
  }
  // Only privileges are missing (ACCESS_SYSTEM_SECURITY): no ACE could have granted them.
  if (!by_ace) return Explain(token, sd);
  return "no ACE grants " + who + " " + std::string(what) + " (lacks " + lacks + "; owner " +
         owner + ")";
}

TraverseResult CheckTraverse(const std::vector<const SecurityDescriptor*>& directories,
                             const Token& token) {
  TraverseResult result;
  // "Bypass traverse checking": with SeChangeNotifyPrivilege the directories above an object
  // are not checked at all (Microsoft docs, bypass-traverse-checking).
  if (token.HasPrivilege(privileges::kChangeNotify)) {
    result.allowed = true;
    result.bypassed = true;
    return result;
  }
  for (std::size_t i = 0; i < directories.size(); ++i) {
    if (directories[i] == nullptr) continue;
    AccessCheckResult check = CheckAccess(*directories[i], token, rights::kTraverse);
    if (!check.allowed) {
      result.allowed = false;
      result.blocked_at = i;
      result.blocking_check = std::move(check);
      return result;
    }
  }
  result.allowed = true;
  return result;
}

}  // namespace mkeys::acl
