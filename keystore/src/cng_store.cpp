// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/cng_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>

#include "mkeys/core/beneath.hpp"
#include "mkeys/core/beneath_links.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/cng_key_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_file_check.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

// `parent/name`, found case-insensitively when the exact name does not exist (NTFS volumes).
fs::path ChildOf(const fs::path& parent, std::string_view name) {
  fs::path exact = parent / std::string(name);
  std::error_code ec;
  if (fs::exists(exact, ec)) return exact;
  DIR* dir = ::opendir(parent.c_str());
  if (dir == nullptr) return exact;
  fs::path found = exact;
  while (dirent* entry = ::readdir(dir)) {
    if (::strcasecmp(entry->d_name, std::string(name).c_str()) == 0) {
      found = parent / entry->d_name;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

// The CNG and DSS stores are not searched for the same hash under another MachineGuid
// (FindForeignGuidFiles looks in RSA/MachineKeys only).
OpenTarget TargetIn(const MachineRoot& root, KeyDirectory dir, std::string file_name,
                    std::string container) {
  OpenTarget t;
  t.kind = InfoOf(dir).kind;
  t.container = std::move(container);
  t.file_name = std::move(file_name);
  t.label = KeyFileLabelIn(dir, t.file_name);
  t.directories = KeyDirectoryChain(root, dir);
  if (dir == KeyDirectory::kRsaMachineKeys) {
    if (auto parts = SplitContainerFileName(t.file_name)) t.hash = parts->hash;
  }
  return t;
}

bool IsRegularFile(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The store `path` (relative to the root, '/' separated) lies in, and the file name.
std::optional<std::pair<KeyDirectory, std::string>> StoreOfPath(std::string_view path) {
  std::string lower;
  for (char c : path) lower += c == '\\' ? '/' : text::AsciiLower(c);
  const auto slash = lower.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string dir = lower.substr(0, slash);
  for (const auto& info : KeyDirectories()) {
    std::string under = "crypto/";
    for (char c : info.under_crypto) under += text::AsciiLower(c);
    std::string label;
    for (char c : info.label) label += text::AsciiLower(c);
    if (dir.ends_with(under) || dir == label) {
      return std::make_pair(info.dir, std::string(path.substr(slash + 1)));
    }
  }
  return std::nullopt;
}

void SummariseContents(const MachineRoot& root, const KeyDirectoryInfo& info,
                       std::span<const std::uint8_t> bytes, StoredKey& k) {
  if (info.kind == StoreKind::kCngKeys || LooksLikeCngKeyFile(bytes)) {
    auto f = ParseCngKeyFile(bytes);
    if (!f) {
      k.corrupt = true;
      k.problem = f.error().ToString();
      return;
    }
    k.format = "cng";
    k.name = f->name;
    k.algorithm = f->DescribeKey();
    if (info.kind == StoreKind::kCapiMachineKeys) {
      k.problem = "a CNG key file in the CAPI store (CryptAcquireContext cannot open it)";
    }
    if (!IsUniqueKeyFileName(k.file_name)) {
      k.problem = "the name is not <32 hex digits>_<MachineGuid>";
    } else if (!text::EqualsIgnoreAsciiCase(CngKeyHash(f->name), k.file_name.substr(0, 32))) {
      k.name_hash_mismatch = true;
    }
    return;
  }
  const KeyFileVerdict v = CheckKeyFileContents(root, k.file_name, bytes);
  if (v.file) {
    k.format = std::string(ContainerFormatName(v.file->format));
    k.name.assign(v.file->name);
    k.algorithm = v.file->DescribeKeys();
  }
  k.name_hash_mismatch = v.name_hash_mismatch;
  if (v.corrupt) {
    k.corrupt = true;
    k.problem = v.problem;
  }
}

}  // namespace

const std::vector<KeyDirectoryInfo>& KeyDirectories() {
  static const std::vector<KeyDirectoryInfo> dirs = {
      {KeyDirectory::kRsaMachineKeys, "RSA/MachineKeys", "MachineKeys",
       "Microsoft Enhanced RSA and AES Cryptographic Provider", StoreKind::kCapiMachineKeys},
      {KeyDirectory::kDssMachineKeys, "DSS/MachineKeys", "DSS/MachineKeys",
       "Microsoft Enhanced DSS and Diffie-Hellman Cryptographic Provider",
       StoreKind::kCapiMachineKeys},
      {KeyDirectory::kCngKeys, "Keys", "Crypto/Keys", kSoftwareKspName, StoreKind::kCngKeys},
      {KeyDirectory::kCngSystemKeys, "SystemKeys", "Crypto/SystemKeys", kSoftwareKspName,
       StoreKind::kCngKeys},
  };
  return dirs;
}

const KeyDirectoryInfo& InfoOf(KeyDirectory dir) {
  return KeyDirectories()[static_cast<std::size_t>(dir)];
}

std::vector<fs::path> KeyDirectoryChain(const MachineRoot& root, KeyDirectory dir) {
  if (dir == KeyDirectory::kRsaMachineKeys) return root.store_directories();
  const auto& rsa = root.store_directories();
  std::vector<fs::path> chain(rsa.begin(), rsa.begin() + 3);  // ProgramData, Microsoft, Crypto
  for (const auto& part : fs::path(std::string(InfoOf(dir).under_crypto))) {
    chain.push_back(ChildOf(chain.back(), part.string()));
  }
  return chain;
}

std::string KeyFileLabelIn(KeyDirectory dir, std::string_view file_name) {
  return fmt::format("{}/{}", InfoOf(dir).label, file_name);
}

Result<OpenTarget> ResolveCngKey(const MachineRoot& root, std::string_view name, KeyDirectory dir) {
  if (name.empty() || name.size() > 512) {
    return Error(ErrorCode::kInvalidArgument, "a CNG key name has 1 to 512 characters");
  }
  if (InfoOf(dir).kind != StoreKind::kCngKeys) {
    return Error(ErrorCode::kInvalidArgument, "not a CNG key directory");
  }
  std::string file = IsUniqueKeyFileName(name) ? text::ToLowerAscii(name)
                                               : CngKeyFileName(name, root.machine_guid());
  return TargetIn(root, dir, std::move(file), std::string(name));
}

Result<OpenTarget> ResolveCapiKey(const MachineRoot& root, std::string_view name,
                                  KeyDirectory dir) {
  if (InfoOf(dir).kind != StoreKind::kCapiMachineKeys) {
    return Error(ErrorCode::kInvalidArgument, "not a CAPI key directory");
  }
  if (IsUniqueKeyFileName(name)) {
    return TargetIn(root, dir, text::ToLowerAscii(name), std::string(name));
  }
  MKEYS_TRY(ValidateContainerName(name));
  return TargetIn(root, dir, ContainerFileName(name, root.machine_guid()), std::string(name));
}

Result<OpenTarget> ResolveKeyFileAnywhere(const MachineRoot& root, std::string_view file) {
  std::string relative(file);
  const std::string root_text = root.root().string() + "/";
  if (relative.starts_with(root_text)) relative = relative.substr(root_text.size());
  if (auto store = StoreOfPath(relative)) {
    if (store->second.empty()) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a key file name", file));
    }
    return TargetIn(root, store->first, store->second, "");
  }
  const std::string name = fs::path(relative).filename().string();
  if (name.empty() || name == "." || name == "..") {
    return Error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a key file name", file));
  }
  for (const auto& info : KeyDirectories()) {
    if (info.dir == KeyDirectory::kRsaMachineKeys) continue;
    if (IsRegularFile(KeyDirectoryChain(root, info.dir).back() / name) &&
        !IsRegularFile(root.machine_keys_dir() / name)) {
      return TargetIn(root, info.dir, name, "");
    }
  }
  return TargetIn(root, KeyDirectory::kRsaMachineKeys, name, "");
}

Result<std::vector<StoredKey>> ListKeyDirectory(const MachineRoot& root, KeyDirectory dir) {
  const KeyDirectoryInfo& info = InfoOf(dir);
  const fs::path path = KeyDirectoryChain(root, dir).back();
  std::vector<StoredKey> out;
  // Through the root's volume: a directory or a disk image alike.
  auto listed = root.volume().List(path);
  if (!listed) {
    if (listed.error().code() == ErrorCode::kNotFound) return out;
    return Error(listed.error().code(),
                 "cannot list the key directory: " + listed.error().message())
        .On(root.Relative(path));
  }
  std::vector<std::string> names;
  for (const auto& entry : *listed) {
    if (entry.name.starts_with(".") || !entry.is_regular) continue;
    names.push_back(entry.name);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    StoredKey k;
    k.dir = dir;
    k.file_name = n;
    k.label = KeyFileLabelIn(dir, n);
    k.provider = std::string(info.provider);
    if (auto sd = root.security().Read(path / n)) k.owner = sd->owner;
    constexpr std::uint64_t kMaxKeyFileBytes = 1u << 20;  // a key file is a few KiB
    auto bytes = root.volume().ReadFile(path / n, kMaxKeyFileBytes);
    if (!bytes) {
      k.corrupt = true;
      k.problem = bytes.error().message();
    } else {
      SummariseContents(root, info, *bytes, k);
    }
    out.push_back(std::move(k));
  }
  return out;
}

Result<fs::path> EnsureKeyDirectory(MachineRoot& root, KeyDirectory dir) {
  const auto chain = KeyDirectoryChain(root, dir);
  // Nothing is created or written through a symlink: every folder is opened beneath the root
  // (a link anywhere on the chain is refused, naming it), missing ones are made with mkdirat in
  // their opened parent, and a store holding a link is not written into at all (MK031).
  MKEYS_ASSIGN_OR_RETURN(const files::RootDir root_dir, files::RootDir::Open(root.root().string()));
  MKEYS_ASSIGN_OR_RETURN(const auto raw, root.security().ReadRaw(root.machine_keys_dir()));
  for (std::size_t i = 3; i < chain.size(); ++i) {
    const std::string rel = root.Relative(chain[i]);
    auto existing = root_dir.OpenBeneath(rel, O_RDONLY | O_DIRECTORY);
    if (existing) continue;
    if (existing.error().code() != ErrorCode::kNotFound) return existing.error();
    MKEYS_ASSIGN_OR_RETURN(
        const files::UniqueFd parent,
        root_dir.OpenBeneath(root.Relative(chain[i - 1]), O_RDONLY | O_DIRECTORY));
    const std::string name = chain[i].filename().string();
    if (::mkdirat(parent.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      return files::IoError(errno, chain[i], "cannot create the key directory");
    }
    MKEYS_TRY(root_dir.OpenBeneath(rel, O_RDONLY | O_DIRECTORY));  // made, and not a link
    MKEYS_TRY(root.writable_security().WriteRaw(chain[i], raw));
  }
  MKEYS_TRY(files::OpenDirWithoutLinks(root_dir, root.Relative(chain.back())));
  return chain.back();
}

}  // namespace mkeys::keystore
