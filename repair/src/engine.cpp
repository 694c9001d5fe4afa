// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/engine.hpp"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/acl.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_store.hpp"

namespace mkeys::repair::internal {
namespace {

using acl::AccessMask;
using acl::Ace;
using acl::SecurityDescriptor;
using acl::Sid;
namespace r = acl::rights;

// Everyone's rights on MachineKeys in a default installation (KB 278381).
constexpr AccessMask kEveryoneFolderRights = 0x0012019F;
// What a traverse grant added by MK013's fix holds.
constexpr AccessMask kTraverseGrant = r::kTraverse | r::kSynchronize;
// Bits that let someone read or write a key file's contents.
constexpr AccessMask kKeyDataBits = r::kReadData | r::kWriteData | r::kAppendData;
// Bits a deny ACE on a directory of the chain must not take from a declared service.
constexpr AccessMask kDirectoryBits =
    r::kTraverse | r::kListDirectory | r::kReadAttributes | r::kSynchronize;
constexpr std::size_t kMaxKeyFileBytes = 1 << 20;

bool IsBroadSid(const Sid& sid) {
  static const Sid kBroad[] = {acl::sids::Everyone(), acl::sids::Users(),
                               acl::sids::AuthenticatedUsers(), acl::sids::Anonymous(),
                               acl::sids::Guests()};
  return std::find(std::begin(kBroad), std::end(kBroad), sid) != std::end(kBroad);
}

// Owners every key file may have (MK006), beyond the machine's and the baseline's.
bool IsWellKnownOwner(const Sid& owner) {
  static const Sid kOwners[] = {acl::sids::LocalSystem(), acl::sids::Administrators(),
                                acl::sids::LocalService(), acl::sids::NetworkService(),
                                acl::sids::TrustedInstaller()};
  return std::find(std::begin(kOwners), std::end(kOwners), owner) != std::end(kOwners) ||
         (owner.authority() == 5 && owner.sub_authority_count() >= 1 &&
          (owner.sub_authorities()[0] == 80 || owner.sub_authorities()[0] == 82));
}

bool AppliesToObject(const Ace& ace) {
  return !ace.IsInheritOnly();
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

std::string OwnerName(const SecurityDescriptor& sd) {
  return sd.owner ? acl::DisplayName(*sd.owner) : std::string("(no owner)");
}

bool IsMachineKeys(const DirectoryState& d, const keystore::MachineRoot& root) {
  return d.path == root.machine_keys_dir();
}

}  // namespace

RuleSet AllRules() {
  RuleSet set;
  set.fill(true);
  return set;
}

RuleSet RulesFrom(const std::vector<RuleId>& ids) {
  RuleSet set{};
  if (ids.empty()) {
    for (const auto& rule : Rules()) set[static_cast<std::size_t>(rule.id)] = rule.auto_fix;
    return set;
  }
  for (RuleId id : ids) set[static_cast<std::size_t>(id)] = true;
  return set;
}

std::string ShortName(const acl::Token& token) {
  if (auto name = acl::LookupSid(token.user())) return name->name;
  return token.display_name().empty() ? token.user().ToString() : token.display_name();
}

std::string AccessSentence(const acl::AccessCheckResult& result, std::string_view who,
                           std::string_view what) {
  for (const auto& reason : result.reasons) {
    if (reason.kind == acl::ReasonKind::kDeniedByAce && (result.granted & reason.right) == 0) {
      return fmt::format("ACE #{} {} denies {} {}", reason.ace_index.value_or(0), reason.ace_sddl,
                         who, what);
    }
  }
  for (const auto& reason : result.reasons) {
    if (reason.kind == acl::ReasonKind::kEmptyDacl) {
      return fmt::format("the DACL is empty: no ACE grants {} {}", who, what);
    }
  }
  bool any_ace = false;
  for (const auto& reason : result.reasons) {
    if (reason.kind == acl::ReasonKind::kGrantedByAce) any_ace = true;
  }
  if (!any_ace) return fmt::format("no ACE grants {} {}", who, what);
  std::string missing;
  for (const auto& name : acl::RightNames(result.Missing())) {
    missing += (missing.empty() ? "" : ", ") + name;
  }
  return fmt::format("no ACE grants {} {} (lacks {})", who, what, missing);
}

// --- KeyFileReader -------------------------------------------------------------------------

KeyFileReader::KeyFileReader(const keystore::MachineRoot& root)
    : attribute_(root.security().attribute()),
      reader_(root.machine_keys_dir(), root.security().attribute()) {
  dir_fd_ = ::open(root.machine_keys_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  buffer_.resize(16 * 1024);
  sd_buffer_.resize(4096);
}

KeyFileReader::~KeyFileReader() {
  CloseFile();
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void KeyFileReader::CloseFile() {
  if (file_fd_ >= 0) ::close(file_fd_);
  file_fd_ = -1;
  open_name_.clear();
}

void KeyFileReader::OpenFile(std::string_view file_name) {
  if (!open_name_.empty() && open_name_ == file_name) return;
  CloseFile();
  open_name_.assign(file_name);
  open_errno_ = 0;
  if (dir_fd_ < 0) {
    open_errno_ = EBADF;
    return;
  }
  file_fd_ = ::openat(dir_fd_, open_name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (file_fd_ < 0) open_errno_ = errno;
}

Result<std::span<const std::uint8_t>> KeyFileReader::Descriptor(std::string_view file_name) {
  OpenFile(file_name);
  if (file_fd_ < 0) return reader_.Read(file_name);  // e.g. not readable: by name instead
  for (int attempt = 0; attempt < 4; ++attempt) {
    const ssize_t n =
        ::fgetxattr(file_fd_, attribute_.c_str(), sd_buffer_.data(), sd_buffer_.size());
    if (n >= 0)
      return std::span<const std::uint8_t>(sd_buffer_.data(), static_cast<std::size_t>(n));
    if (errno == ENODATA) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("no security descriptor: extended attribute {} is missing",
                               attribute_))
          .On(keystore::MachineRoot::KeyFileLabel(file_name));
    }
    if (errno != ERANGE) break;
    const ssize_t need = ::fgetxattr(file_fd_, attribute_.c_str(), nullptr, 0);
    if (need < 0) break;
    sd_buffer_.resize(static_cast<std::size_t>(need) + 64);
  }
  return reader_.Read(file_name);
}

Result<std::span<const std::uint8_t>> KeyFileReader::Contents(std::string_view file_name) {
  const auto label = [&] { return keystore::MachineRoot::KeyFileLabel(file_name); };
  OpenFile(file_name);
  if (file_fd_ < 0) {
    const int err = open_errno_;
    CloseFile();
    return Error(ErrorCode::kIo, fmt::format("cannot open: {}", std::strerror(err))).On(label());
  }
  const int fd = file_fd_;
  std::size_t size = 0;
  for (;;) {
    if (size == buffer_.size()) {
      if (buffer_.size() > kMaxKeyFileBytes) {
        CloseFile();
        return Error(ErrorCode::kCorrupt,
                     fmt::format("larger than {} bytes: not a key container", kMaxKeyFileBytes))
            .On(label());
      }
      buffer_.resize(buffer_.size() * 2);
    }
    const ssize_t n = ::read(fd, buffer_.data() + size, buffer_.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      CloseFile();
      return Error(ErrorCode::kIo, fmt::format("cannot read: {}", std::strerror(err))).On(label());
    }
    size += static_cast<std::size_t>(n);
    // A short read of a regular file is its end; saves the read() that would return 0.
    if (n == 0 || size < buffer_.size()) break;
  }
  CloseFile();
  return std::span<const std::uint8_t>(buffer_.data(), size);
}

// --- Engine --------------------------------------------------------------------------------

Result<Engine> Engine::Create(const keystore::MachineRoot& root, const Baseline& baseline) {
  Engine engine;
  engine.root_ = &root;
  engine.baseline_ = baseline;
  for (const auto& decl : baseline.services) {
    auto token = root.TokenFor(decl.identity);
    if (!token) {
      return Error(
          ErrorCode::kInvalidArgument,
          fmt::format("service identity '{}': {}", decl.identity, token.error().message()));
    }
    ServiceCheck check{decl, *token, ShortName(*token), true};
    engine.services_.push_back(std::move(check));
  }
  // The service accounts every machine runs services as: checked for traversal (MK013).
  for (const char* identity : {"NT AUTHORITY\\NETWORK SERVICE", "NT AUTHORITY\\LOCAL SERVICE"}) {
    auto token = root.TokenFor(identity);
    if (!token) continue;
    const bool known =
        std::any_of(engine.services_.begin(), engine.services_.end(),
                    [&](const ServiceCheck& s) { return s.token.user() == token->user(); });
    if (!known) engine.services_.push_back({{identity, ""}, *token, ShortName(*token), false});
  }
  // The machine's own accounts (the built-in Administrator, local users) own containers they
  // create; their SIDs share the machine's account domain.
  if (auto admin = root.TokenFor("administrator")) {
    const Sid& user = admin->user();
    if (user.authority() == 5 && user.sub_authority_count() == 5 &&
        user.sub_authorities()[0] == 21) {
      const auto subs = user.sub_authorities();
      engine.machine_domain_ = Sid::Of(5, {21, subs[1], subs[2], subs[3]});
    }
  }
  for (const auto& owner : baseline.expected_owners) {
    auto name = acl::ResolveName(owner);
    if (!name) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("baseline expected_owners: '{}': {}",
                                                            owner, name.error().message()));
    }
    engine.expected_owners_.push_back(name->sid);
  }
  return engine;
}

bool Engine::AnyServiceFor(std::string_view container_name) const {
  for (const auto& s : services_) {
    if (s.declared && GlobMatch(s.declaration.container_glob, container_name)) return true;
  }
  return false;
}

std::vector<DirectoryState> Engine::ReadDirectories() const {
  std::vector<DirectoryState> dirs;
  for (const auto& path : root_->store_directories()) {
    DirectoryState d;
    d.path = path;
    d.label = root_->Relative(path);
    auto raw = root_->security().ReadRaw(path);
    if (!raw) {
      d.problem = raw.error().message();
    } else {
      d.raw = std::move(*raw);
      auto sd = root_->security().DecodeRaw(d.raw);
      if (sd) {
        d.sd = std::move(*sd);
      } else {
        d.problem = sd.error().ToString();
      }
    }
    dirs.push_back(std::move(d));
  }
  return dirs;
}

namespace {

struct FolderReview {
  std::vector<std::string> everyone_missing;  // MK001
  std::vector<std::string> differs;           // MK002
  std::vector<std::string> protection;        // MK003
};

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
    const bool allow = ace.type == acl::AceType::kAccessAllowed;
    const bool inheritable = (ace.flags & acl::ace_flags::kInheritanceFlags) != 0;
    const AccessMask mapped = acl::MapGeneric(ace.mask);
    if (allow && AppliesToObject(ace) && ace.sid == acl::sids::Everyone()) everyone |= mapped;
    if (allow && AppliesToObject(ace) && ace.sid == acl::sids::Administrators()) admins |= mapped;
    const bool default_sid =
        ace.sid == acl::sids::Everyone() || ace.sid == acl::sids::Administrators();
    if (allow && default_sid) {
      if (inheritable) {
        review.differs.push_back(
            fmt::format("{} is inheritable: key files created here "
                        "inherit it",
                        AceText(*sd.dacl, i)));
      }
    } else if (allow && !inheritable && (mapped & ~kTraverseGrant) == 0) {
      // A traverse grant (MK013's fix) is tolerated.
    } else {
      review.differs.push_back(fmt::format("{} is not in the default DACL", AceText(*sd.dacl, i)));
    }
  }
  if (inherited > 0) {
    review.protection.push_back(fmt::format("{} ACE(s) inherited from the parent", inherited));
  }
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
  if (!acl::HasAll(admins, r::kFileAllAccess)) {
    review.differs.push_back("Administrators' full control (A;;FA;;;BA) is missing");
  }
  return review;
}

}  // namespace

std::vector<Finding> Engine::CheckDirectories(const std::vector<DirectoryState>& dirs) const {
  std::vector<Finding> out;
  bool all_read = true;
  for (const auto& d : dirs) {
    if (!d.sd) {
      out.push_back({RuleId::kDescriptorUnreadable, d.label, d.problem});
      all_read = false;
      continue;
    }
    const auto& sd = *d.sd;
    if (sd.dacl) {
      if (auto i = acl::FirstNonCanonicalAce(*sd.dacl)) {
        out.push_back({RuleId::kNonCanonicalOrder, d.label,
                       fmt::format("{} is out of canonical order", AceText(*sd.dacl, *i))});
      }
      for (const auto& s : services_) {
        if (!s.declared) continue;
        for (std::size_t i = 0; i < sd.dacl->aces.size(); ++i) {
          if (DenyHits(sd.dacl->aces[i], s.token, kDirectoryBits)) {
            out.push_back({RuleId::kDenyHitsService, d.label,
                           fmt::format("{} denies {} traversal or listing", AceText(*sd.dacl, i),
                                       s.short_name)});
          }
        }
      }
    }
    if (IsMachineKeys(d, *root_)) {
      const FolderReview review = ReviewMachineKeys(sd);
      for (const auto& e : review.everyone_missing)
        out.push_back({RuleId::kFolderEveryoneMissing, d.label, e});
      for (const auto& e : review.differs)
        out.push_back({RuleId::kFolderDiffersFromDefault, d.label, e});
      if (!review.protection.empty()) {
        std::string text;
        for (const auto& e : review.protection) text += (text.empty() ? "" : "; ") + e;
        out.push_back({RuleId::kFolderProtectionLost, d.label, text});
      }
    }
  }
  if (all_read) {
    std::vector<const SecurityDescriptor*> chain;
    for (const auto& d : dirs) chain.push_back(&*d.sd);
    for (const auto& s : services_) {
      const auto traverse = acl::CheckTraverse(chain, s.token);
      if (traverse.allowed || !traverse.blocked_at) continue;
      const auto& d = dirs[*traverse.blocked_at];
      out.push_back(
          {RuleId::kTraverseDenied, d.label,
           fmt::format("{} does not hold SeChangeNotifyPrivilege on this machine and {}",
                       s.short_name,
                       AccessSentence(traverse.blocking_check, s.short_name, "traverse"))});
    }
  }
  // MK014: the machine's holders of SeChangeNotifyPrivilege against Windows' defaults.
  const auto& assigned = root_->privileges();
  if (!assigned.empty()) {
    std::vector<Sid> holders;
    for (const auto& a : assigned) {
      if (a.privilege == acl::privileges::kChangeNotify) holders = a.holders;
    }
    std::string missing;
    for (const auto& a : acl::DefaultPrivilegeAssignments()) {
      if (a.privilege != acl::privileges::kChangeNotify) continue;
      for (const auto& sid : a.holders) {
        if (std::find(holders.begin(), holders.end(), sid) == holders.end()) {
          missing += (missing.empty() ? "" : ", ") + acl::DisplayName(sid);
        }
      }
    }
    if (!missing.empty()) {
      out.push_back({RuleId::kChangeNotifyRemoved, "machine policy",
                     fmt::format("SeChangeNotifyPrivilege is not assigned to {}", missing)});
    }
  }
  return out;
}

std::vector<std::vector<RuleId>> Engine::FixDirectories(std::vector<DirectoryState>& dirs,
                                                        const RuleSet& rules) const {
  std::vector<std::vector<RuleId>> changed(dirs.size());
  auto mark = [&](std::size_t i, RuleId id) {
    if (std::find(changed[i].begin(), changed[i].end(), id) == changed[i].end()) {
      changed[i].push_back(id);
    }
  };
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    if (!dirs[i].sd || !dirs[i].sd->dacl) continue;
    SecurityDescriptor& sd = *dirs[i].sd;
    auto& aces = sd.dacl->aces;
    if (IsMachineKeys(dirs[i], *root_)) {
      const FolderReview review = ReviewMachineKeys(sd);
      if (Has(rules, RuleId::kFolderProtectionLost) && !review.protection.empty()) {
        sd.control |= acl::sd_control::kDaclProtected;
        for (auto& ace : aces) ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInherited);
        mark(i, RuleId::kFolderProtectionLost);
      }
      if (Has(rules, RuleId::kFolderDiffersFromDefault) && !review.differs.empty()) {
        std::vector<Ace> kept;
        AccessMask admins = 0;
        for (Ace ace : aces) {
          const bool allow = ace.type == acl::AceType::kAccessAllowed;
          const bool inheritable = (ace.flags & acl::ace_flags::kInheritanceFlags) != 0;
          const AccessMask mapped = acl::MapGeneric(ace.mask);
          if (allow &&
              (ace.sid == acl::sids::Everyone() || ace.sid == acl::sids::Administrators())) {
            if (ace.IsInheritOnly()) continue;
            ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInheritanceFlags);
            if (ace.sid == acl::sids::Everyone() &&
                (mapped & ~kEveryoneFolderRights & ~r::kTraverse) != 0) {
              ace.mask = mapped & (kEveryoneFolderRights | r::kTraverse);
            }
            if (ace.sid == acl::sids::Administrators()) admins |= mapped;
            kept.push_back(ace);
          } else if (allow && !inheritable && (mapped & ~kTraverseGrant) == 0) {
            kept.push_back(ace);
          }
        }
        aces = std::move(kept);
        if (!acl::HasAll(admins, r::kFileAllAccess)) {
          AddGrant(sd, acl::sids::Administrators(), r::kFileAllAccess);
        }
        mark(i, RuleId::kFolderDiffersFromDefault);
      }
      if (Has(rules, RuleId::kFolderEveryoneMissing) &&
          !ReviewMachineKeys(sd).everyone_missing.empty()) {
        bool merged = false;
        for (auto& ace : aces) {
          if (ace.type == acl::AceType::kAccessAllowed && !ace.IsInherited() &&
              !ace.IsInheritOnly() && ace.sid == acl::sids::Everyone()) {
            ace.mask |= kEveryoneFolderRights;
            merged = true;
            break;
          }
        }
        if (!merged) {
          // Windows' order: Everyone first, after any explicit deny ACEs.
          std::size_t pos = 0;
          while (pos < aces.size() && aces[pos].IsDeny() && !aces[pos].IsInherited()) ++pos;
          aces.insert(aces.begin() + static_cast<std::ptrdiff_t>(pos),
                      acl::AllowAce(acl::sids::Everyone(), kEveryoneFolderRights));
        }
        mark(i, RuleId::kFolderEveryoneMissing);
      }
    }
    if (Has(rules, RuleId::kDenyHitsService)) {
      for (const auto& s : services_) {
        if (!s.declared) continue;
        const auto before = aces.size();
        std::erase_if(aces, [&](const Ace& ace) { return DenyHits(ace, s.token, kDirectoryBits); });
        if (aces.size() != before) mark(i, RuleId::kDenyHitsService);
      }
    }
  }
  if (Has(rules, RuleId::kTraverseDenied)) {
    const bool all =
        std::all_of(dirs.begin(), dirs.end(), [](const auto& d) { return d.sd.has_value(); });
    for (const auto& s : services_) {
      if (!all) break;
      for (std::size_t attempt = 0; attempt <= dirs.size(); ++attempt) {
        std::vector<const SecurityDescriptor*> chain;
        for (const auto& d : dirs) chain.push_back(&*d.sd);
        const auto traverse = acl::CheckTraverse(chain, s.token);
        if (traverse.allowed || !traverse.blocked_at) break;
        const std::size_t at = *traverse.blocked_at;
        if (!dirs[at].sd->dacl) break;
        const auto before = acl::FormatSddl(*dirs[at].sd);
        AddGrant(*dirs[at].sd, s.token.user(), kTraverseGrant);
        if (acl::FormatSddl(*dirs[at].sd) == before) break;  // a deny blocks: MK005's business
        mark(at, RuleId::kTraverseDenied);
      }
    }
  }
  if (Has(rules, RuleId::kNonCanonicalOrder)) {
    for (std::size_t i = 0; i < dirs.size(); ++i) {
      if (dirs[i].sd && dirs[i].sd->dacl && acl::FirstNonCanonicalAce(*dirs[i].sd->dacl)) {
        dirs[i].sd->dacl = acl::Canonicalize(*dirs[i].sd->dacl);
        mark(i, RuleId::kNonCanonicalOrder);
      }
    }
  }
  for (auto& c : changed) std::sort(c.begin(), c.end());
  return changed;
}

void Engine::AddKeyFileFindings(std::string_view file_name, std::string& label,
                                const Result<std::span<const std::uint8_t>>& contents,
                                KeyFileResult& result) const {
  // The label names the file in findings; most files have none, so it is made on demand.
  const auto object = [&]() -> const std::string& {
    if (label.empty()) label = keystore::MachineRoot::KeyFileLabel(file_name);
    return label;
  };
  const auto parts = keystore::SplitContainerFileName(file_name);
  if (!parts) {
    result.findings.push_back(
        {RuleId::kNotAContainerName, object(), "the name is not <32 hex digits>_<MachineGuid>"});
  } else if (parts->machine_guid != root_->machine_guid()) {
    result.findings.push_back(
        {RuleId::kForeignMachineGuid, object(),
         fmt::format("the file name carries MachineGuid {}; this machine's MachineGuid is {}",
                     parts->machine_guid, root_->machine_guid())});
  }
  if (!parts) {
    // Not a container by its name: its contents are none of the store's business.
  } else if (!contents) {
    result.findings.push_back({RuleId::kCorruptContainer, object(), contents.error().message()});
  } else if (contents->empty()) {
    result.findings.push_back({RuleId::kCorruptContainer, object(), "zero-length file"});
  } else {
    auto file = keystore::ContainerFile::Parse(*contents);
    if (!file) {
      Error e = file.error();
      result.findings.push_back({RuleId::kCorruptContainer, object(),
                                 e.position()
                                     ? fmt::format("{} (at offset {})", e.message(), *e.position())
                                     : e.message()});
    } else {
      result.container_name = file->name;
      if (parts) {
        const std::string hash = keystore::ContainerHash(file->name);
        if (hash != parts->hash) {
          result.findings.push_back(
              {RuleId::kNameHashMismatch, object(),
               fmt::format("the file holds container \"{}\", whose hash is {}; the file name "
                           "says {}",
                           file->name, hash, parts->hash)});
        }
      }
    }
  }
}

Engine::KeyFileResult Engine::CheckKeyFile(std::string_view file_name,
                                           const Result<std::span<const std::uint8_t>>& contents,
                                           const SecurityDescriptor* sd,
                                           std::string_view sd_problem) const {
  KeyFileResult result;
  std::string label;
  AddKeyFileFindings(file_name, label, contents, result);
  if (label.empty()) label = keystore::MachineRoot::KeyFileLabel(file_name);
  if (sd == nullptr) {
    result.findings.push_back({RuleId::kDescriptorUnreadable, label, std::string(sd_problem)});
  } else {
    CheckKeyFileDescriptor(label, result.container_name, *sd, result.findings);
  }
  return result;
}

Engine::KeyFileResult Engine::CheckKeyFile(std::string_view file_name,
                                           const Result<std::span<const std::uint8_t>>& contents,
                                           DescriptorVerdict* verdict,
                                           std::string_view sd_problem) const {
  KeyFileResult result;
  std::string label;
  AddKeyFileFindings(file_name, label, contents, result);
  if (verdict == nullptr || !verdict->sd) {
    if (label.empty()) label = keystore::MachineRoot::KeyFileLabel(file_name);
    result.findings.push_back({RuleId::kDescriptorUnreadable, label, std::string(sd_problem)});
    return result;
  }
  const std::size_t first = result.findings.size();
  CheckKeyFileDescriptor({}, result.container_name, *verdict, result.findings);
  if (result.findings.size() > first) {
    if (label.empty()) label = keystore::MachineRoot::KeyFileLabel(file_name);
    for (std::size_t i = first; i < result.findings.size(); ++i) result.findings[i].object = label;
  }
  return result;
}

namespace {

// The descriptor-only findings on a key file (MK012, MK011, MK007, MK006), in report order.
void JudgeKeyFileDescriptor(const SecurityDescriptor& sd, const std::vector<Sid>& expected_owners,
                            const std::optional<Sid>& machine_domain,
                            const std::vector<ServiceCheck>& services,
                            std::vector<std::pair<RuleId, std::string>>& out) {
  if (!sd.dacl) {
    out.emplace_back(RuleId::kKeyFileTooOpen,
                     sd.HasDacl() ? "NULL DACL: everyone has full control of the key"
                                  : "no DACL: everyone has full control of the key");
  } else {
    const auto& aces = sd.dacl->aces;
    std::string inherited;
    for (std::size_t i = 0; i < aces.size(); ++i) {
      const Ace& ace = aces[i];
      if (ace.IsInherited()) inherited += (inherited.empty() ? "" : ", ") + AceText(*sd.dacl, i);
      if (ace.IsAllow() && AppliesToObject(ace) && IsBroadSid(ace.sid)) {
        const AccessMask mapped = acl::MapGeneric(ace.mask);
        if ((mapped & kKeyDataBits) != 0) {
          const bool reads = (mapped & r::kReadData) != 0;
          const bool writes = (mapped & (r::kWriteData | r::kAppendData)) != 0;
          out.emplace_back(
              RuleId::kKeyFileTooOpen,
              fmt::format("{} lets {} {} the key", AceText(*sd.dacl, i), acl::DisplayName(ace.sid),
                          reads && writes ? "read and write"
                          : reads         ? "read"
                                          : "write"));
        }
      }
    }
    if (!inherited.empty()) {
      out.emplace_back(RuleId::kInheritedAcesOnKeyFile, "inherited: " + inherited);
    }
    if (auto i = acl::FirstNonCanonicalAce(*sd.dacl)) {
      out.emplace_back(RuleId::kNonCanonicalOrder,
                       fmt::format("{} is out of canonical order", AceText(*sd.dacl, *i)));
    }
  }
  // Owner.
  if (!sd.owner) {
    out.emplace_back(RuleId::kUnexpectedOwner, "the descriptor has no owner");
  } else {
    const Sid& owner = *sd.owner;
    const bool expected =
        IsWellKnownOwner(owner) ||
        std::find(expected_owners.begin(), expected_owners.end(), owner) != expected_owners.end() ||
        (machine_domain && owner.IsInDomain(*machine_domain)) ||
        std::any_of(services.begin(), services.end(),
                    [&](const ServiceCheck& s) { return s.declared && s.token.user() == owner; });
    if (!expected) {
      if (!acl::LookupSid(owner)) {
        out.emplace_back(RuleId::kUnexpectedOwner,
                         fmt::format("owner {} cannot be resolved (a deleted or foreign account)",
                                     owner.ToString()));
      } else {
        out.emplace_back(RuleId::kUnexpectedOwner,
                         fmt::format("owner {} is not SYSTEM, Administrators or a service account",
                                     acl::DisplayName(owner)));
      }
    }
  }
}

ServiceVerdict JudgeService(const SecurityDescriptor& sd, const ServiceCheck& s) {
  ServiceVerdict v;
  if (sd.dacl) {
    for (std::size_t i = 0; i < sd.dacl->aces.size(); ++i) {
      if (DenyHits(sd.dacl->aces[i], s.token, keystore::kOpenAccess)) {
        v.denying_aces.push_back(AceText(*sd.dacl, i));
      }
    }
  }
  const auto check = acl::CheckAccess(sd, s.token, keystore::kOpenAccess);
  v.allowed = check.allowed;
  if (!v.allowed) {
    v.sentence = AccessSentence(check, s.short_name, "read");
    v.owner_name = OwnerName(sd);
  }
  return v;
}

void AppendServiceFindings(std::string_view object, std::string_view container_name,
                           const ServiceCheck& s, const ServiceVerdict& v,
                           std::vector<Finding>& out) {
  for (const auto& ace : v.denying_aces) {
    out.push_back(
        {RuleId::kDenyHitsService, std::string(object),
         fmt::format("{} denies {} read of container \"{}\"", ace, s.short_name, container_name)});
  }
  if (!v.allowed) {
    out.push_back(
        {RuleId::kServiceCannotRead, std::string(object),
         fmt::format("{} (container \"{}\"; owner {})", v.sentence, container_name, v.owner_name)});
  }
}

}  // namespace

void Engine::Judge(DescriptorVerdict& verdict) const {
  verdict.findings.clear();
  verdict.services.assign(services_.size(), std::nullopt);
  verdict.fixes.clear();
  if (verdict.sd) {
    JudgeKeyFileDescriptor(*verdict.sd, expected_owners_, machine_domain_, services_,
                           verdict.findings);
  }
}

const ServiceVerdict& Engine::ServiceFor(DescriptorVerdict& verdict, std::size_t service) const {
  auto& slot = verdict.services[service];
  if (!slot) slot = JudgeService(*verdict.sd, services_[service]);
  return *slot;
}

std::uint64_t Engine::ServicesFor(std::string_view container_name) const {
  if (services_.size() > 64) return ~std::uint64_t{0};
  std::uint64_t mask = 0;
  if (container_name.empty()) return mask;
  for (std::size_t i = 0; i < services_.size(); ++i) {
    const auto& s = services_[i];
    if (s.declared && GlobMatch(s.declaration.container_glob, container_name)) {
      mask |= std::uint64_t{1} << i;
    }
  }
  return mask;
}

void Engine::CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                                    const SecurityDescriptor& sd, std::vector<Finding>& out) const {
  std::vector<std::pair<RuleId, std::string>> findings;
  JudgeKeyFileDescriptor(sd, expected_owners_, machine_domain_, services_, findings);
  for (auto& [rule, evidence] : findings)
    out.push_back({rule, std::string(label), std::move(evidence)});
  // Declared services.
  if (container_name.empty()) return;
  for (const auto& s : services_) {
    if (!s.declared || !GlobMatch(s.declaration.container_glob, container_name)) continue;
    AppendServiceFindings(label, container_name, s, JudgeService(sd, s), out);
  }
}

void Engine::CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                                    DescriptorVerdict& verdict, std::vector<Finding>& out) const {
  for (const auto& [rule, evidence] : verdict.findings)
    out.push_back({rule, std::string(label), evidence});
  if (container_name.empty() || !verdict.sd) return;
  for (std::size_t i = 0; i < services_.size(); ++i) {
    const auto& s = services_[i];
    if (!s.declared || !GlobMatch(s.declaration.container_glob, container_name)) continue;
    AppendServiceFindings(label, container_name, s, ServiceFor(verdict, i), out);
  }
}

DescriptorVerdict& DescriptorCache::Get(std::span<const std::uint8_t> raw) {
  const std::string_view key(reinterpret_cast<const char*>(raw.data()), raw.size());
  if (auto it = map_.find(key); it != map_.end()) return *it->second;
  auto verdict = std::make_unique<DescriptorVerdict>();
  verdict->raw = std::make_shared<const std::vector<std::uint8_t>>(raw.begin(), raw.end());
  auto decoded = store_->DecodeRaw(*verdict->raw);
  if (decoded) {
    verdict->sd = std::move(*decoded);
  } else {
    verdict->error = std::move(decoded).error();
  }
  engine_->Judge(*verdict);
  if (map_.size() >= kMaxEntries) {
    scratch_ = std::move(verdict);
    return *scratch_;
  }
  const std::string_view stored(reinterpret_cast<const char*>(verdict->raw->data()),
                                verdict->raw->size());
  auto& slot = map_[stored];
  slot = std::move(verdict);
  return *slot;
}

std::vector<RuleId> Engine::FixKeyFile(SecurityDescriptor& sd, std::string_view container_name,
                                       const RuleSet& rules) const {
  std::vector<RuleId> changed;
  std::vector<Finding> findings;
  CheckKeyFileDescriptor("", container_name, sd, findings);
  auto found = [&](RuleId id) {
    return Has(rules, id) && std::any_of(findings.begin(), findings.end(),
                                         [&](const Finding& f) { return f.rule == id; });
  };
  if (found(RuleId::kInheritedAcesOnKeyFile) && sd.dacl) {
    for (auto& ace : sd.dacl->aces)
      ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInherited);
    sd.control |= acl::sd_control::kDaclProtected;
    changed.push_back(RuleId::kInheritedAcesOnKeyFile);
  }
  if (found(RuleId::kKeyFileTooOpen)) {
    if (!sd.dacl) {
      acl::Acl dacl;
      dacl.aces = {acl::AllowAce(acl::sids::LocalSystem(), r::kFileAllAccess),
                   acl::AllowAce(acl::sids::Administrators(), r::kFileAllAccess)};
      sd.SetDacl(std::move(dacl));
      sd.control |= acl::sd_control::kDaclProtected;
    } else {
      std::erase_if(sd.dacl->aces, [](const Ace& ace) {
        return ace.IsAllow() && AppliesToObject(ace) && IsBroadSid(ace.sid) &&
               (acl::MapGeneric(ace.mask) & kKeyDataBits) != 0;
      });
    }
    changed.push_back(RuleId::kKeyFileTooOpen);
  }
  if (!container_name.empty()) {
    for (const auto& s : services_) {
      if (!s.declared || !GlobMatch(s.declaration.container_glob, container_name)) continue;
      if (Has(rules, RuleId::kDenyHitsService) && sd.dacl) {
        const auto before = sd.dacl->aces.size();
        std::erase_if(sd.dacl->aces, [&](const Ace& ace) {
          return DenyHits(ace, s.token, keystore::kOpenAccess);
        });
        if (sd.dacl->aces.size() != before) changed.push_back(RuleId::kDenyHitsService);
      }
      if (Has(rules, RuleId::kServiceCannotRead) && sd.dacl &&
          !acl::CheckAccess(sd, s.token, keystore::kOpenAccess).allowed) {
        AddGrant(sd, s.token.user(), r::kFileGenericRead);
        changed.push_back(RuleId::kServiceCannotRead);
      }
    }
  }
  if (found(RuleId::kUnexpectedOwner)) {
    sd.owner = acl::sids::LocalSystem();
    changed.push_back(RuleId::kUnexpectedOwner);
  }
  if (Has(rules, RuleId::kNonCanonicalOrder) && sd.dacl && acl::FirstNonCanonicalAce(*sd.dacl)) {
    sd.dacl = acl::Canonicalize(*sd.dacl);
    changed.push_back(RuleId::kNonCanonicalOrder);
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  return changed;
}

// --- ParallelScan --------------------------------------------------------------------------

std::size_t ThreadCount(std::size_t requested) {
  if (requested > 0) return std::min<std::size_t>(requested, 64);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 2 : hw;
}

Result<std::uint64_t> ParallelScan(const keystore::MachineRoot& root, std::size_t threads,
                                   const std::function<void(std::size_t, std::string_view)>& work,
                                   const std::function<void(std::uint64_t)>& progress) {
  constexpr std::size_t kBatch = 256;
  constexpr std::size_t kMaxQueued = 32;  // batches: bounds memory whatever the store's size
  std::mutex mutex;
  std::condition_variable not_empty, not_full;
  std::deque<std::vector<std::string>> queue;
  bool done = false;
  std::atomic<std::uint64_t> processed{0};

  const std::size_t n = ThreadCount(threads);
  std::vector<std::thread> workers;
  workers.reserve(n);
  for (std::size_t w = 0; w < n; ++w) {
    workers.emplace_back([&, w] {
      for (;;) {
        std::vector<std::string> batch;
        {
          std::unique_lock lock(mutex);
          not_empty.wait(lock, [&] { return done || !queue.empty(); });
          if (queue.empty()) return;
          batch = std::move(queue.front());
          queue.pop_front();
        }
        not_full.notify_one();
        for (const auto& name : batch) work(w, name);
        processed.fetch_add(batch.size(), std::memory_order_relaxed);
      }
    });
  }
  std::vector<std::string> batch;
  batch.reserve(kBatch);
  std::uint64_t count = 0;
  auto push = [&] {
    {
      std::unique_lock lock(mutex);
      not_full.wait(lock, [&] { return queue.size() < kMaxQueued; });
      queue.push_back(std::move(batch));
    }
    not_empty.notify_one();
    batch = {};
    batch.reserve(kBatch);
  };
  auto listed = keystore::ForEachKeyFile(root, [&](std::string_view name) {
    batch.emplace_back(name);
    ++count;
    if (batch.size() == kBatch) push();
    if (progress && count % 4096 == 0) progress(processed.load(std::memory_order_relaxed));
    return true;
  });
  if (!batch.empty()) push();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  not_empty.notify_all();
  for (auto& t : workers) t.join();
  if (progress) progress(processed.load());
  if (!listed) return std::move(listed).error();
  return count;
}

}  // namespace mkeys::repair::internal
