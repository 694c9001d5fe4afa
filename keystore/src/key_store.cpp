// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/key_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/beneath_links.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/open_path.hpp"

namespace mkeys::keystore {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kStagingPrefix = ".mkeys-staging-";

Error Exists(std::string_view name, std::string_view file_name) {
  return Error(ErrorCode::kExists, fmt::format("{}: container '{}' exists already",
                                               FormatWindowsCode(kNteExists), name))
      .On(MachineRoot::KeyFileLabel(file_name))
      .WithWindowsCode(kNteExists);
}

// Reads the descriptors of the store's directories, outermost first.
Result<std::vector<acl::SecurityDescriptor>> DirectoryDescriptors(const MachineRoot& root,
                                                                  std::size_t count) {
  std::vector<acl::SecurityDescriptor> out;
  const auto& dirs = root.store_directories();
  for (std::size_t i = 0; i < count && i < dirs.size(); ++i) {
    auto sd = root.security().Read(dirs[i]);
    if (!sd) {
      const Error& e = sd.error();
      return Error(
          e.code() == ErrorCode::kNotFound ? ErrorCode::kNotFound : ErrorCode::kCorrupt,
          fmt::format("cannot read the descriptor of {}: {}", root.Relative(dirs[i]), e.message()));
    }
    out.push_back(std::move(sd).value());
  }
  return out;
}

// The traverse check through `count` store directories; an error naming the blocking directory.
Result<void> CheckTraverseTo(const MachineRoot& root, const acl::Token& token, std::size_t count,
                             std::string_view file_name, std::uint32_t windows_code) {
  MKEYS_ASSIGN_OR_RETURN(const auto sds, DirectoryDescriptors(root, count));
  std::vector<const acl::SecurityDescriptor*> ptrs;
  for (const auto& sd : sds) ptrs.push_back(&sd);
  const acl::TraverseResult traverse = acl::CheckTraverse(ptrs, token);
  if (traverse.allowed) return Ok();
  const std::size_t at = traverse.blocked_at.value_or(0);
  const std::string dir = root.Relative(root.store_directories()[at]);
  return Error(ErrorCode::kAccessDenied,
               fmt::format("{}: traverse denied at {}: {} (and the token lacks "
                           "SeChangeNotifyPrivilege)",
                           FormatWindowsCode(windows_code), dir,
                           traverse.blocking_check.Explain(token, sds[at])))
      .On(MachineRoot::KeyFileLabel(file_name))
      .WithWindowsCode(windows_code);
}

std::vector<std::uint8_t> SymmetricBlob(std::size_t bytes) {
  std::vector<std::uint8_t> out;
  le::Put32(out, kMagicSym1);
  le::Put32(out, static_cast<std::uint32_t>(bytes * 8));
  return out;
}

ContainerSummary SummaryOf(std::string file_name, const ContainerFile& file,
                           const acl::SecurityDescriptor& sd) {
  ContainerSummary s;
  s.file_name = std::move(file_name);
  s.name = file.name;
  s.format = file.format;
  s.owner = sd.owner;
  s.keys = file.DescribeKeys();
  if (file.exchange && !file.exchange->public_blob.empty()) s.exchange = file.exchange->info;
  if (file.signature && !file.signature->public_blob.empty()) s.signature = file.signature->info;
  return s;
}

}  // namespace

std::string FormatWindowsCode(std::uint32_t code) {
  const char* name = nullptr;
  switch (code) {
    case kNteBadKeyset:
      name = "NTE_BAD_KEYSET";
      break;
    case kNteExists:
      name = "NTE_EXISTS";
      break;
    case kNteBadKeysetParam:
      name = "NTE_BAD_KEYSET_PARAM";
      break;
    case 0x80090019:
      name = "NTE_KEYSET_NOT_DEF";
      break;
    case 0x80070005:
      name = "E_ACCESSDENIED";
      break;
    default:
      break;
  }
  if (name == nullptr) return fmt::format("0x{:08X}", code);
  return fmt::format("{} (0x{:08X})", name, code);
}

acl::SecurityDescriptor CspContainerDescriptor(const acl::Token& creator,
                                               const std::vector<acl::Ace>& grants) {
  acl::SecurityDescriptor sd;
  sd.control = acl::sd_control::kSelfRelative | acl::sd_control::kDaclProtected;
  sd.owner = creator.user();
  sd.group = acl::sids::LocalSystem();
  acl::Acl dacl;
  dacl.aces.push_back(acl::AllowAce(acl::sids::LocalSystem(), acl::rights::kFileAllAccess));
  if (creator.user() != acl::sids::LocalSystem()) {
    dacl.aces.push_back(acl::AllowAce(creator.user(), acl::rights::kFileAllAccess));
  }
  // KB 238187: a container an administrator creates also grants the Administrators group.
  if (creator.MatchesForAllow(acl::sids::Administrators())) {
    dacl.aces.push_back(acl::AllowAce(acl::sids::Administrators(), acl::rights::kFileAllAccess));
  }
  for (const auto& ace : grants) dacl.aces.push_back(ace);
  sd.SetDacl(std::move(dacl));
  return sd;
}

StagedContainer::StagedContainer(StagedContainer&& other) noexcept
    : name_(std::move(other.name_)),
      file_name_(std::move(other.file_name_)),
      staging_path_(std::move(other.staging_path_)),
      final_path_(std::move(other.final_path_)),
      descriptor_(std::move(other.descriptor_)),
      active_(std::exchange(other.active_, false)) {}

StagedContainer& StagedContainer::operator=(StagedContainer&& other) noexcept {
  if (this != &other) {
    if (active_) ::unlink(staging_path_.c_str());
    name_ = std::move(other.name_);
    file_name_ = std::move(other.file_name_);
    staging_path_ = std::move(other.staging_path_);
    final_path_ = std::move(other.final_path_);
    descriptor_ = std::move(other.descriptor_);
    active_ = std::exchange(other.active_, false);
  }
  return *this;
}

StagedContainer::~StagedContainer() {
  if (active_) ::unlink(staging_path_.c_str());
}

fs::path KeyStore::PathFor(std::string_view name) const {
  return root_.machine_keys_dir() / ContainerFileName(name, root_.machine_guid());
}

Result<StagedContainer> KeyStore::CreateStaged(std::string_view name, const acl::Token& creator,
                                               const CreateOptions& options) {
  MKEYS_TRY(ValidateContainerName(name));
  const std::string file_name = ContainerFileName(name, root_.machine_guid());
  const fs::path final_path = root_.machine_keys_dir() / file_name;
  if (root_.kind() != RootKind::kModel) {
    return Error(ErrorCode::kUnsupported,
                 "creating containers needs a model machine (a Windows volume's private keys are "
                 "DPAPI-protected)")
        .On(root_.root().string());
  }
  // Nothing is written through a symlink: the chain to MachineKeys must stay beneath the root,
  // and a MachineKeys holding a link (a key file, a folder) is not written into at all.
  MKEYS_ASSIGN_OR_RETURN(const files::RootDir root_dir,
                         files::RootDir::Open(root_.root().string()));
  const std::string keys_rel = root_.Relative(root_.machine_keys_dir());
  MKEYS_TRY(files::OpenDirWithoutLinks(root_dir, keys_rel));
  // CryptAcquireContext(CRYPT_NEWKEYSET): traverse to MachineKeys, then FILE_ADD_FILE on it.
  const std::size_t ndirs = root_.store_directories().size();
  MKEYS_TRY(CheckTraverseTo(root_, creator, ndirs, file_name, kNteBadKeyset));
  {
    MKEYS_ASSIGN_OR_RETURN(const auto dir_sd, root_.security().Read(root_.machine_keys_dir()));
    const auto check = acl::CheckAccess(dir_sd, creator, acl::rights::kAddFile);
    if (!check.allowed) {
      return Error(ErrorCode::kAccessDenied, fmt::format("cannot create files in MachineKeys: {}",
                                                         check.Explain(creator, dir_sd)))
          .On(root_.Relative(root_.machine_keys_dir()))
          .WithWindowsCode(0x80070005);
    }
  }
  struct stat st {};
  if (::lstat(final_path.c_str(), &st) == 0) return Exists(name, file_name);

  MKEYS_ASSIGN_OR_RETURN(const SecretBytes master, root_.ReadMasterKey());
  ContainerFile file;
  file.format = ContainerFormat::kMkeys;
  file.version = kMkeysContainerVersion;
  file.name.assign(name);
  auto seal_key = [&](const PrivateKey& key, KeySlot slot) -> Result<KeyPairRecord> {
    KeyPairRecord rec;
    rec.public_blob = key.PublicBlob(slot);
    MKEYS_ASSIGN_OR_RETURN(const SecretBytes pkcs8, key.ToPkcs8());
    MKEYS_ASSIGN_OR_RETURN(rec.private_blob,
                           SealPrivatePart(master, file_name, SealedKind::kPkcs8, pkcs8));
    MKEYS_ASSIGN_OR_RETURN(rec.info, ParsePublicBlob(rec.public_blob));
    return rec;
  };
  if (options.material) {
    const KeyMaterial& m = *options.material;
    if (m.symmetric && m.exchange) {
      return Error(ErrorCode::kInvalidArgument,
                   "a container holds either an exchange key pair or a symmetric key, not both");
    }
    if (m.exchange) {
      MKEYS_ASSIGN_OR_RETURN(file.exchange, seal_key(*m.exchange, KeySlot::kExchange));
    }
    if (m.signature) {
      MKEYS_ASSIGN_OR_RETURN(file.signature, seal_key(*m.signature, KeySlot::kSignature));
    }
    if (m.symmetric) {
      if (m.symmetric->empty() || m.symmetric->size() > 512) {
        return Error(ErrorCode::kInvalidArgument, "symmetric key must be 1..512 bytes");
      }
      KeyPairRecord rec;
      rec.public_blob = SymmetricBlob(m.symmetric->size());
      MKEYS_ASSIGN_OR_RETURN(
          rec.private_blob,
          SealPrivatePart(master, file_name, SealedKind::kSymmetric, *m.symmetric));
      MKEYS_ASSIGN_OR_RETURN(rec.info, ParsePublicBlob(rec.public_blob));
      file.exchange = std::move(rec);
    }
    if (!file.exchange && !file.signature) {
      return Error(ErrorCode::kInvalidArgument, "key material is empty");
    }
  } else {
    MKEYS_ASSIGN_OR_RETURN(const PrivateKey key, PrivateKey::Generate(options.key));
    MKEYS_ASSIGN_OR_RETURN(auto rec, seal_key(key, options.slot));
    (options.slot == KeySlot::kExchange ? file.exchange : file.signature) = std::move(rec);
  }
  const auto bytes = file.Serialize();

  StagedContainer staged;
  staged.name_.assign(name);
  staged.file_name_ = file_name;
  staged.final_path_ = final_path;
  staged.staging_path_ =
      root_.machine_keys_dir() / (std::string(kStagingPrefix) + files::RandomHex(8));
  staged.descriptor_ =
      options.descriptor ? *options.descriptor : CspContainerDescriptor(creator, options.grants);
  MKEYS_ASSIGN_OR_RETURN(
      files::UniqueFd created,
      root_dir.OpenBeneath(keys_rel + "/" + staged.staging_path_.filename().string(),
                           O_WRONLY | O_CREAT | O_EXCL, 0600));
  const int fd = created.Release();
  staged.active_ = true;  // from here on, the destructor removes the staging file
  auto fail = [&](Error e) -> Result<StagedContainer> {
    ::close(fd);
    return e;
  };
  ::fchmod(fd, 0600);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(files::IoError(errno, staged.staging_path_, "cannot write"));
    done += static_cast<std::size_t>(n);
  }
  if (auto w = root_.writable_security().WriteFd(fd, staged.staging_path_, staged.descriptor_);
      !w) {
    return fail(std::move(w).error());
  }
  if (::fsync(fd) != 0) return fail(files::IoError(errno, staged.staging_path_, "cannot fsync"));
  ::close(fd);
  return staged;
}

Result<acl::AccessCheckResult> KeyStore::CheckStaged(const StagedContainer& staged,
                                                     const acl::Token& token,
                                                     acl::AccessMask desired) const {
  // The open path on the staged file, its contents checked against its final name: what the
  // open of the committed container will find.
  OpenTarget target;
  target.container = staged.name_;
  target.file_name = staged.staging_path_.filename().string();
  target.unique_name = staged.file_name_;
  target.label = MachineRoot::KeyFileLabel(target.file_name);
  target.directories = root_.store_directories();
  WalkOptions options;
  options.read_access = desired;
  const OpenPath path = WalkOpenPath(root_, std::move(target), token, options);
  const acl::AccessCheckResult* check = path.AccessFor("read");
  if (check != nullptr && !check->allowed) return *check;
  if (!path.ok()) return path.ToError();
  return *check;
}

Result<ContainerSummary> KeyStore::Commit(StagedContainer&& staged_in) {
  StagedContainer staged = std::move(staged_in);
  if (!staged.active_) return Error(ErrorCode::kInvalidArgument, "staged container already used");
  // Linked and renamed within MachineKeys opened beneath the root (no symlink followed).
  MKEYS_ASSIGN_OR_RETURN(const files::RootDir root_dir,
                         files::RootDir::Open(root_.root().string()));
  MKEYS_ASSIGN_OR_RETURN(
      const files::UniqueFd dir,
      root_dir.OpenBeneath(root_.Relative(root_.machine_keys_dir()), O_RDONLY | O_DIRECTORY));
  const std::string staging_name = staged.staging_path_.filename().string();
  // link() fails with EEXIST if the name exists: of two racing creators exactly one wins.
  if (::linkat(dir.get(), staging_name.c_str(), dir.get(), staged.file_name_.c_str(), 0) != 0) {
    const int err = errno;
    if (err == EEXIST) return Exists(staged.name_, staged.file_name_);
    if (err != EPERM && err != ENOTSUP && err != ENOSYS && err != EMLINK) {
      return files::IoError(err, staged.final_path_, "cannot link into place");
    }
    // File systems without hard links: rename without replacing.
    if (::renameat2(dir.get(), staging_name.c_str(), dir.get(), staged.file_name_.c_str(),
                    RENAME_NOREPLACE) != 0) {
      const int err2 = errno;
      if (err2 == EEXIST) return Exists(staged.name_, staged.file_name_);
      return files::IoError(err2, staged.final_path_, "cannot rename into place");
    }
    staged.active_ = false;
  }
  if (staged.active_) {
    ::unlinkat(dir.get(), staging_name.c_str(), 0);
    staged.active_ = false;
  }
  MKEYS_TRY(files::SyncDirectory(root_.machine_keys_dir()));
  MKEYS_ASSIGN_OR_RETURN(const auto bytes, files::ReadFile(staged.final_path_));
  MKEYS_ASSIGN_OR_RETURN(const auto file, ContainerFile::Parse(bytes));
  return SummaryOf(staged.file_name_, file, staged.descriptor_);
}

void KeyStore::Discard(StagedContainer&& staged_in) {
  StagedContainer staged = std::move(staged_in);  // its destructor removes the file
}

Result<ContainerSummary> KeyStore::Create(std::string_view name, const acl::Token& creator,
                                          const CreateOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(auto staged, CreateStaged(name, creator, options));
  return Commit(std::move(staged));
}

Result<OpenedContainer> KeyStore::Open(std::string_view name, const acl::Token& token,
                                       acl::AccessMask desired) const {
  MKEYS_ASSIGN_OR_RETURN(OpenTarget target, ResolveCapiContainer(root_, name));
  WalkOptions options;
  options.read_access = desired;
  options.unseal_keys = true;
  OpenPath path = WalkOpenPath(root_, std::move(target), token, options);
  if (!path.ok()) return path.ToError();
  OpenedContainer opened;
  opened.file_name = path.target.file_name;
  opened.path = path.objects.back().path;
  opened.descriptor = *path.FileDescriptor();
  opened.file = ContainerFile::FromView(*path.integrity->file);
  opened.exchange = std::move(path.keys.exchange);
  opened.signature = std::move(path.keys.signature);
  opened.symmetric = std::move(path.keys.symmetric);
  return opened;
}

Result<void> KeyStore::Delete(std::string_view name, const acl::Token& token) {
  // CRYPT_DELETEKEYSET: DELETE on the file, or FILE_DELETE_CHILD on MachineKeys. A corrupt
  // file can be deleted: its contents are not checked.
  MKEYS_ASSIGN_OR_RETURN(OpenTarget target, ResolveCapiContainer(root_, name));
  WalkOptions options;
  options.intents = {OpenIntent::kDelete};
  options.check_contents = false;
  const OpenPath walked = WalkOpenPath(root_, std::move(target), token, options);
  if (!walked.ok()) return walked.ToError();
  const fs::path& path = walked.objects.back().path;
  // Removed from MachineKeys opened beneath the root: never through a symlink.
  MKEYS_ASSIGN_OR_RETURN(const files::RootDir root_dir,
                         files::RootDir::Open(root_.root().string()));
  MKEYS_ASSIGN_OR_RETURN(
      const files::UniqueFd dir,
      root_dir.OpenBeneath(root_.Relative(root_.machine_keys_dir()), O_RDONLY | O_DIRECTORY));
  if (::unlinkat(dir.get(), path.filename().c_str(), 0) != 0) {
    return files::IoError(errno, path, "cannot delete");
  }
  return files::SyncDirectory(root_.machine_keys_dir());
}

Result<ContainerSummary> KeyStore::Import(std::string_view name, const acl::Token& creator,
                                          const fs::path& file, const SecretBytes& password,
                                          const CreateOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(auto imported, ImportKeyFile(file, password));
  CreateOptions opts;
  opts.grants = options.grants;
  opts.descriptor = options.descriptor;
  opts.material = KeyMaterial{};
  if (options.slot == KeySlot::kSignature) {
    opts.material->signature = std::move(imported.key);
  } else {
    opts.material->exchange = std::move(imported.key);
  }
  return Create(name, creator, opts);
}

Result<void> KeyStore::Export(std::string_view name, const acl::Token& token, const fs::path& file,
                              const SecretBytes& password) const {
  MKEYS_ASSIGN_OR_RETURN(auto opened, Open(name, token, kOpenAccess));
  if (opened.file.format == ContainerFormat::kCapi) {
    return Error(ErrorCode::kUnsupported,
                 "the private key is a DPAPI blob of the Windows machine; it cannot be exported "
                 "off that machine")
        .On(MachineRoot::KeyFileLabel(opened.file_name));
  }
  const PrivateKey* key = opened.exchange    ? &*opened.exchange
                          : opened.signature ? &*opened.signature
                                             : nullptr;
  if (key == nullptr) {
    return Error(ErrorCode::kUnsupported, "the container holds no key pair to export")
        .On(MachineRoot::KeyFileLabel(opened.file_name));
  }
  return ExportKeyFile(file, *key, {}, password);
}

namespace {

bool SkippedName(std::string_view name) {
  return name.starts_with(kStagingPrefix) || name.starts_with(".tmp-");
}

// A disk image: the volume's listing (regular files only, reparse points left out).
Result<void> ForEachListedKeyFile(const MachineRoot& root,
                                  const std::function<bool(std::string_view file_name)>& visit) {
  auto entries = root.volume().List(root.machine_keys_dir());
  if (!entries) {
    return Error(entries.error().code(), "cannot list MachineKeys: " + entries.error().message())
        .On(root.machine_keys_dir().string());
  }
  for (const auto& e : *entries) {
    if (!e.is_regular || SkippedName(e.name)) continue;
    if (!visit(e.name)) break;
  }
  return Ok();
}

}  // namespace

Result<void> ForEachKeyFile(const MachineRoot& root,
                            const std::function<bool(std::string_view file_name)>& visit) {
  const fs::path& dir_path = root.machine_keys_dir();
  if (root.is_image()) return ForEachListedKeyFile(root, visit);
  // Opened beneath the root: a symlink on the way (Crypto -> elsewhere) is refused, never listed.
  MKEYS_ASSIGN_OR_RETURN(const files::RootDir root_dir, files::RootDir::Open(root.root().string()));
  MKEYS_ASSIGN_OR_RETURN(files::UniqueFd dir_fd,
                         root_dir.OpenBeneath(root.Relative(dir_path), O_RDONLY | O_DIRECTORY));
  DIR* dir = ::fdopendir(dir_fd.get());
  if (dir == nullptr) return files::IoError(errno, dir_path, "cannot list MachineKeys");
  (void)dir_fd.Release();  // closedir closes it
  struct Closer {
    DIR* d;
    ~Closer() { ::closedir(d); }
  } closer{dir};
  const int dfd = ::dirfd(dir);
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name == "." || name == ".." || name.starts_with(kStagingPrefix) ||
        name.starts_with(".tmp-")) {
      continue;
    }
    bool regular = entry->d_type == DT_REG;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st {};
      regular = ::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    }
    if (!regular) continue;
    if (!visit(name)) return Ok();
    errno = 0;
  }
  if (errno != 0) return files::IoError(errno, dir_path, "cannot read MachineKeys");
  return Ok();
}

ContainerSummary InspectKeyFile(const MachineRoot& root, std::string_view file_name,
                                RawDescriptorReader& reader, const KeyFileChecker& checker) {
  ContainerSummary s;
  s.file_name.assign(file_name);
  auto add_problem = [&s](std::string_view text) {
    if (!s.problem.empty()) s.problem += "; ";
    s.problem += text;
  };
  auto raw = reader.Read(file_name);
  if (!raw) {
    s.descriptor_unreadable = true;
    add_problem(raw.error().message());
  } else if (auto sd = root.security().DecodeRaw(*raw); !sd) {
    s.descriptor_unreadable = true;
    add_problem(
        fmt::format("{} is malformed: {}", root.security().attribute(), sd.error().ToString()));
  } else {
    s.owner = sd->owner;
  }
  auto bytes = root.volume().ReadFile(root.machine_keys_dir() / std::string(file_name),
                                      std::uint64_t{16} << 20);
  if (!bytes) {
    s.not_a_container_name = !SplitContainerFileNameView(file_name).has_value();
    s.corrupt = true;
    add_problem(bytes.error().message());
    return s;
  }
  const KeyFileVerdict v = checker.Check(file_name, *bytes);
  s.not_a_container_name = v.not_a_container_name;
  s.foreign_machine_guid = v.foreign_machine_guid;
  s.name_hash_mismatch = v.name_hash_mismatch;
  if (v.file) {
    s.name.assign(v.file->name);
    s.format = v.file->format;
    s.keys = v.file->DescribeKeys();
    if (v.file->exchange && !v.file->exchange->public_blob.empty()) {
      s.exchange = v.file->exchange->info;
    }
    if (v.file->signature && !v.file->signature->public_blob.empty()) {
      s.signature = v.file->signature->info;
    }
  } else if (v.cng) {
    s.cng = true;
    s.name = v.cng->name;
    s.keys = v.cng->DescribeKey();
    add_problem(
        "a CNG key file in the CAPI store (CryptAcquireContext cannot open it; CNG keys "
        "live in Crypto/Keys)");
  }
  if (v.corrupt) {
    s.corrupt = true;
    add_problem(v.problem);
  }
  return s;
}

ContainerSummary InspectKeyFile(const MachineRoot& root, std::string_view file_name,
                                RawDescriptorReader& reader) {
  return InspectKeyFile(root, file_name, reader, KeyFileChecker(root));
}

ContainerSummary InspectKeyFile(const MachineRoot& root, std::string_view file_name) {
  RawDescriptorReader reader(root.machine_keys_dir(), root.security());
  return InspectKeyFile(root, file_name, reader, KeyFileChecker(root));
}

std::vector<std::string> FindForeignGuidFiles(const MachineRoot& root, std::string_view hash) {
  std::vector<std::string> out;
  const std::string prefix = std::string(hash) + "_";
  (void)ForEachKeyFile(root, [&](std::string_view name) {
    if (name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix) {
      const auto parts = SplitContainerFileNameView(name);
      if (parts && !text::EqualsIgnoreAsciiCase(parts->machine_guid, root.machine_guid())) {
        out.emplace_back(name);
      }
    }
    return true;
  });
  return out;
}

}  // namespace mkeys::keystore
