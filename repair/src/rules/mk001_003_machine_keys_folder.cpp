// SPDX-License-Identifier: GPL-3.0-or-later
// MK001, MK002, MK003: MachineKeys' own DACL against the one Windows installs (KB 278381):
// protected; Everyone 0x12019f on the folder only; Administrators full control. One review of the
// DACL serves the three rules.
#include <fmt/format.h>

#include "internal/rule_helpers.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using namespace internal;
using acl::AccessMask;
using acl::Ace;
using acl::SecurityDescriptor;

struct FolderReview {
  std::vector<std::string> everyone_missing;  // MK001
  std::vector<std::string> differs;           // MK002
  std::vector<std::string> protection;        // MK003
};

// The ACEs Windows' default keeps: Everyone and Administrators allows, and traverse-only grants
// (MK013's fix).
bool IsDefaultSidAllow(const Ace& ace) {
  return ace.type == acl::AceType::kAccessAllowed &&
         (ace.sid == acl::sids::Everyone() || ace.sid == acl::sids::Administrators());
}
bool IsTraverseOnlyGrant(const Ace& ace) {
  return ace.type == acl::AceType::kAccessAllowed &&
         (ace.flags & acl::ace_flags::kInheritanceFlags) == 0 &&
         (acl::MapGeneric(ace.mask) & ~kTraverseGrant) == 0;
}

void ReviewEveryone(AccessMask everyone, FolderReview& review) {
  if (!acl::HasAll(everyone, kEveryoneFolderRights)) {
    if (everyone == 0) {
      review.everyone_missing.push_back(
          "no ACE grants Everyone (A;;0x12019f;;;WD) on MachineKeys: only Administrators can "
          "create or list containers");
    } else {
      std::string missing;
      for (const auto& n : acl::RightNames(kEveryoneFolderRights & ~everyone)) {
        missing += (missing.empty() ? "" : ", ") + n;
      }
      review.everyone_missing.push_back(
          fmt::format("Everyone lacks {} on MachineKeys (the default is 0x12019f)", missing));
    }
  }
  if ((everyone & ~kEveryoneFolderRights & ~r::kTraverse) != 0) {
    review.differs.push_back(fmt::format("Everyone has {} (more than the default 0x12019f)",
                                         acl::FormatSddlRights(everyone)));
  }
}

FolderReview ReviewMachineKeys(const SecurityDescriptor& sd) {
  FolderReview review;
  if (!sd.HasDacl() || !sd.dacl) {
    review.differs.push_back(sd.HasDacl() ? "the DACL is NULL: everyone has full control"
                                          : "there is no DACL: everyone has full control");
    return review;
  }
  const auto& aces = sd.dacl->aces;
  if (!sd.DaclProtected()) review.protection.push_back("the DACL is not protected (no P flag)");
  std::size_t inherited = 0;
  AccessMask everyone = 0;
  AccessMask admins = 0;
  for (std::size_t i = 0; i < aces.size(); ++i) {
    const Ace& ace = aces[i];
    if (ace.IsInherited()) ++inherited;
    const AccessMask mapped = acl::MapGeneric(ace.mask);
    if (IsDefaultSidAllow(ace) && AppliesToObject(ace)) {
      (ace.sid == acl::sids::Everyone() ? everyone : admins) |= mapped;
    }
    if (IsDefaultSidAllow(ace)) {
      if ((ace.flags & acl::ace_flags::kInheritanceFlags) != 0) {
        review.differs.push_back(fmt::format("{} is inheritable: key files created here inherit it",
                                             AceText(*sd.dacl, i)));
      }
    } else if (!IsTraverseOnlyGrant(ace)) {
      review.differs.push_back(fmt::format("{} is not in the default DACL", AceText(*sd.dacl, i)));
    }
  }
  if (inherited > 0) {
    review.protection.push_back(fmt::format("{} ACE(s) inherited from the parent", inherited));
  }
  ReviewEveryone(everyone, review);
  if (!acl::HasAll(admins, r::kFileAllAccess)) {
    review.differs.push_back("Administrators' full control (A;;FA;;;BA) is missing");
  }
  return review;
}

// The MachineKeys directory of the chain, when its descriptor was read.
SecurityDescriptor* MachineKeysDacl(const RuleContext& ctx, std::vector<DirectoryState>& dirs,
                                    std::size_t& at) {
  for (at = 0; at < dirs.size(); ++at) {
    if (ctx.IsMachineKeys(dirs[at]) && dirs[at].sd && dirs[at].sd->dacl) return &*dirs[at].sd;
  }
  return nullptr;
}

// --- MK001 ---

void CheckEveryone(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
                   std::size_t i, std::vector<Finding>& out) {
  const DirectoryState& d = dirs[i];
  if (!d.sd || !ctx.IsMachineKeys(d)) return;
  for (auto& e : ReviewMachineKeys(*d.sd).everyone_missing) out.push_back({self, d.label, e});
}

void FixEveryone(RuleId, const RuleContext& ctx, std::vector<DirectoryState>& dirs,
                 std::vector<bool>& changed) {
  std::size_t at = 0;
  SecurityDescriptor* sd = MachineKeysDacl(ctx, dirs, at);
  if (sd == nullptr || ReviewMachineKeys(*sd).everyone_missing.empty()) return;
  auto& aces = sd->dacl->aces;
  changed[at] = true;
  for (auto& ace : aces) {
    if (ace.type == acl::AceType::kAccessAllowed && !ace.IsInherited() && !ace.IsInheritOnly() &&
        ace.sid == acl::sids::Everyone()) {
      ace.mask |= kEveryoneFolderRights;
      return;
    }
  }
  // Windows' order: Everyone first, after any explicit deny ACEs.
  std::size_t pos = 0;
  while (pos < aces.size() && aces[pos].IsDeny() && !aces[pos].IsInherited()) ++pos;
  aces.insert(aces.begin() + static_cast<std::ptrdiff_t>(pos),
              acl::AllowAce(acl::sids::Everyone(), kEveryoneFolderRights));
}

// --- MK002 ---

void CheckDiffers(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
                  std::size_t i, std::vector<Finding>& out) {
  const DirectoryState& d = dirs[i];
  if (!d.sd || !ctx.IsMachineKeys(d)) return;
  for (auto& e : ReviewMachineKeys(*d.sd).differs) out.push_back({self, d.label, e});
}

// Keeps Everyone's and Administrators' allows (not inheritable, Everyone cut to the default)
// and traverse-only grants; drops the rest.
std::vector<Ace> DefaultAces(const std::vector<Ace>& aces, AccessMask& admins) {
  std::vector<Ace> kept;
  for (Ace ace : aces) {
    const AccessMask mapped = acl::MapGeneric(ace.mask);
    if (IsDefaultSidAllow(ace)) {
      if (ace.IsInheritOnly()) continue;
      ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInheritanceFlags);
      if (ace.sid == acl::sids::Everyone() &&
          (mapped & ~kEveryoneFolderRights & ~r::kTraverse) != 0) {
        ace.mask = mapped & (kEveryoneFolderRights | r::kTraverse);
      }
      if (ace.sid == acl::sids::Administrators()) admins |= mapped;
      kept.push_back(ace);
    } else if (IsTraverseOnlyGrant(ace)) {
      kept.push_back(ace);
    }
  }
  return kept;
}

void FixDiffers(RuleId, const RuleContext& ctx, std::vector<DirectoryState>& dirs,
                std::vector<bool>& changed) {
  std::size_t at = 0;
  SecurityDescriptor* sd = MachineKeysDacl(ctx, dirs, at);
  if (sd == nullptr || ReviewMachineKeys(*sd).differs.empty()) return;
  AccessMask admins = 0;
  sd->dacl->aces = DefaultAces(sd->dacl->aces, admins);
  if (!acl::HasAll(admins, r::kFileAllAccess)) {
    AddGrant(*sd, acl::sids::Administrators(), r::kFileAllAccess);
  }
  changed[at] = true;
}

// --- MK003 ---

void CheckProtection(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
                     std::size_t i, std::vector<Finding>& out) {
  const DirectoryState& d = dirs[i];
  if (!d.sd || !ctx.IsMachineKeys(d)) return;
  const FolderReview review = ReviewMachineKeys(*d.sd);
  if (review.protection.empty()) return;
  std::string text;
  for (const auto& e : review.protection) text += (text.empty() ? "" : "; ") + e;
  out.push_back({self, d.label, text});
}

void FixProtection(RuleId, const RuleContext& ctx, std::vector<DirectoryState>& dirs,
                   std::vector<bool>& changed) {
  std::size_t at = 0;
  SecurityDescriptor* sd = MachineKeysDacl(ctx, dirs, at);
  if (sd == nullptr || ReviewMachineKeys(*sd).protection.empty()) return;
  sd->control |= acl::sd_control::kDaclProtected;
  for (auto& ace : sd->dacl->aces) {
    ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInherited);
  }
  changed[at] = true;
}

}  // namespace

const RuleDefinition& FolderEveryoneMissing() {
  static const RuleDefinition rule{
      .info = {.code = "MK001",
               .severity = Severity::kError,
               .title = "MachineKeys: Everyone's special rights are missing, so no one but "
                        "Administrators can create or list containers",
               .description =
                   "Checks that MachineKeys' DACL grants Everyone 0x12019f (list the folder, "
                   "read its attributes, create files) on the folder itself, as Windows "
                   "installs it.",
               .rationale =
                   "Every process that creates a machine key container, whatever account it "
                   "runs as, creates a file in MachineKeys through this grant; without it "
                   "CryptAcquireContext(CRYPT_NEWKEYSET) fails with access denied for services "
                   "and non-administrators, and key generation in IIS, AD FS or TMG breaks.",
               .fix = "add (A;;0x12019f;;;WD) to MachineKeys (Everyone: list, read, create "
                      "files, ... this folder only), as Windows installs it",
               .auto_fix = true},
      .check_directory = &CheckEveryone,
      .fix_directories = &FixEveryone,
      .fix_rank = 30};
  return rule;
}

const RuleDefinition& FolderDiffersFromDefault() {
  static const RuleDefinition rule{
      .info = {.code = "MK002",
               .severity = Severity::kWarning,
               .title =
                   "MachineKeys: the DACL has extra or inheritable ACEs (differs from the Windows "
                   "default)",
               .description =
                   "Checks that MachineKeys' DACL holds only Windows' default ACEs (Everyone "
                   "0x12019f and Administrators full control, neither inheritable) plus "
                   "traverse-only grants; a NULL or missing DACL also counts.",
               .rationale =
                   "An inheritable ACE on MachineKeys is copied into every key file created "
                   "there, so a grant meant for the folder opens private keys; extra ACEs give "
                   "accounts rights over the folder Windows never gives them.",
               .fix = "remove the extra ACEs and the inheritance flags, keep Administrators' "
                      "full control",
               .auto_fix = true},
      .check_directory = &CheckDiffers,
      .fix_directories = &FixDiffers,
      .fix_rank = 20};
  return rule;
}

const RuleDefinition& FolderProtectionLost() {
  static const RuleDefinition rule{
      .info = {.code = "MK003",
               .severity = Severity::kWarning,
               .title = "MachineKeys: the DACL is no longer protected, so it inherits from its "
                        "parent",
               .description =
                   "Checks that MachineKeys' DACL is protected (SE_DACL_PROTECTED) and holds no "
                   "ACE inherited from RSA.",
               .rationale =
                   "Windows protects the folder so that a change higher up (on ProgramData or "
                   "Crypto) does not flow into the key store; an unprotected DACL picks up "
                   "whatever the parents grant, and key files created afterwards inherit it.",
               .fix = "protect the DACL (P) and keep the inherited ACEs as explicit ones",
               .auto_fix = true},
      .check_directory = &CheckProtection,
      .fix_directories = &FixProtection,
      .fix_rank = 10};
  return rule;
}

}  // namespace mkeys::repair::rules
