// SPDX-License-Identifier: GPL-3.0-or-later
// FindStoreOddities: what in MachineKeys is not a plain, singly linked key file.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <optional>

#include "mkeys/core/beneath.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/reparse_point.hpp"

namespace mkeys::keystore {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kStagingPrefix = ".mkeys-staging-";

std::optional<StoreOddity::Kind> KindOf(std::string_view name, const struct stat& st) {
  if (S_ISLNK(st.st_mode)) return StoreOddity::Kind::kSymlink;
  if (S_ISDIR(st.st_mode)) return StoreOddity::Kind::kDirectory;
  if (!S_ISREG(st.st_mode)) return StoreOddity::Kind::kOther;
  if (name.starts_with(kStagingPrefix)) return StoreOddity::Kind::kStaging;
  if (st.st_nlink > 1) return StoreOddity::Kind::kHardLinked;
  return std::nullopt;
}

// The same classification through a MachineVolume (a disk image: no file descriptors).
Result<std::vector<StoreOddity>> OddVolume(const MachineVolume& volume, const fs::path& dir) {
  MKEYS_ASSIGN_OR_RETURN(const auto entries, volume.List(dir));
  const std::time_t now = std::time(nullptr);
  std::vector<StoreOddity> out;
  for (const auto& entry : entries) {
    auto st = volume.Lstat(dir / entry.name);
    if (!st) continue;
    std::optional<StoreOddity::Kind> kind;
    if (st->is_symlink) {
      kind = StoreOddity::Kind::kSymlink;
    } else if (st->is_directory) {
      kind = StoreOddity::Kind::kDirectory;
    } else if (st->is_special) {
      kind = StoreOddity::Kind::kOther;
    } else if (entry.name.starts_with(kStagingPrefix)) {
      kind = StoreOddity::Kind::kStaging;
    } else if (st->links > 1) {
      kind = StoreOddity::Kind::kHardLinked;
    }
    if (!kind) continue;
    const bool link = *kind == StoreOddity::Kind::kSymlink;
    out.push_back({entry.name, *kind, st->links, static_cast<std::int64_t>(now - st->mtime),
                   link ? st->link_target : std::string(), link ? st->link_kind : std::string()});
  }
  return out;
}

}  // namespace

Result<std::vector<StoreOddity>> FindStoreOddities(const MachineRoot& root) {
  const auto& dir_path = root.machine_keys_dir();
  // A disk image: listed and described through its volume, as a mount of it would show.
  if (root.is_image()) return OddVolume(root.volume(), dir_path);
  MKEYS_ASSIGN_OR_RETURN(const files::RootDir root_dir, files::RootDir::Open(root.root().string()));
  MKEYS_ASSIGN_OR_RETURN(files::UniqueFd dir_fd,
                         root_dir.OpenBeneath(root.Relative(dir_path), O_RDONLY | O_DIRECTORY));
  DIR* dir = ::fdopendir(dir_fd.get());
  if (dir == nullptr) return files::IoError(errno, dir_path, "cannot list MachineKeys");
  (void)dir_fd.Release();
  struct Closer {
    DIR* d;
    ~Closer() { ::closedir(d); }
  } closer{dir};
  const int dfd = ::dirfd(dir);
  const std::time_t now = std::time(nullptr);
  std::vector<StoreOddity> out;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      errno = 0;
      continue;
    }
    if (const auto kind = KindOf(name, st)) {
      StoreOddity odd{std::string(name),
                      *kind,
                      static_cast<std::uint64_t>(st.st_nlink),
                      static_cast<std::int64_t>(now - st.st_mtime),
                      {},
                      {}};
      if (*kind == StoreOddity::Kind::kSymlink) {
        auto link = DescribeLink(dfd, entry->d_name);
        odd.target = std::move(link.target);
        odd.link_kind = std::move(link.kind);
      }
      out.push_back(std::move(odd));
    }
    errno = 0;
  }
  if (errno != 0) return files::IoError(errno, dir_path, "cannot read MachineKeys");
  return out;
}

}  // namespace mkeys::keystore
