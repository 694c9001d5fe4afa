// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/beneath_links.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace mkeys::files {
namespace {

std::vector<std::string_view> Components(std::string_view relative) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= relative.size()) {
    const std::size_t end = relative.find('/', start);
    const std::size_t stop = end == std::string_view::npos ? relative.size() : end;
    const auto part = relative.substr(start, stop - start);
    if (!part.empty() && part != ".") parts.push_back(part);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

bool ForcedWalk() {
  const char* env = std::getenv("MKEYS_FORCE_OPENAT_WALK");
  return env != nullptr && *env != '\0' && std::string_view(env) != "0";
}

Error Refused(const RootDir& root, std::string_view component, std::string_view why) {
  return Error(ErrorCode::kIo, fmt::format("{} (refused: mkeys never leaves the machine root {})",
                                           why, root.path()))
      .On(std::string(component));
}

Error FromErrno(int err, std::string_view relative, std::string_view what) {
  const ErrorCode code = err == ENOENT   ? ErrorCode::kNotFound
                         : err == EEXIST ? ErrorCode::kExists
                                         : ErrorCode::kIo;
  return Error(code, fmt::format("{}: {}", what, std::strerror(err))).On(std::string(relative));
}

int Openat2(int dirfd, const std::string& path, int flags, unsigned mode) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

bool StaysBeneath(std::string_view relative) {
  if (!relative.empty() && relative.front() == '/') return false;
  int depth = 0;
  for (const auto part : Components(relative)) {
    depth += part == ".." ? -1 : 1;
    if (depth < 0) return false;
  }
  return true;
}

bool RootDir::UsesOpenat2() {
  if (ForcedWalk()) return false;
  static const bool available = [] {
    const int fd = Openat2(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    return errno != ENOSYS && errno != EPERM;
  }();
  return available;
}

Result<RootDir> RootDir::Open(const std::string& root) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FromErrno(errno, root, "cannot open the machine root");
  return RootDir(UniqueFd(fd), root);
}

std::optional<std::string> RootDir::FirstSymlink(std::string_view relative) const {
  std::string so_far;
  UniqueFd dir(::dup(fd()));
  for (const auto part : Components(relative)) {
    if (part == "..") return std::nullopt;
    so_far += (so_far.empty() ? "" : "/") + std::string(part);
    struct stat st {};
    if (::fstatat(dir.get(), std::string(part).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return std::nullopt;
    if (S_ISLNK(st.st_mode)) return so_far;
    if (!S_ISDIR(st.st_mode)) return std::nullopt;
    const int next = ::openat(dir.get(), std::string(part).c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return std::nullopt;
    dir = UniqueFd(next);
  }
  return std::nullopt;
}

Result<UniqueFd> RootDir::OpenBeneath(std::string_view relative, int flags, unsigned mode) const {
  if (!StaysBeneath(relative)) {
    return Refused(*this, relative, "the path leaves the machine root");
  }
  flags |= O_CLOEXEC | O_NOFOLLOW;
  const auto parts = Components(relative);
  if (parts.empty()) {
    const int fd = ::openat(fd_.get(), ".", (flags & ~(O_CREAT | O_EXCL)) | O_DIRECTORY);
    if (fd < 0) return FromErrno(errno, ".", "cannot open");
    return UniqueFd(fd);
  }
  if (UsesOpenat2()) {
    std::string joined;
    for (const auto part : parts) joined += (joined.empty() ? "" : "/") + std::string(part);
    const int fd = Openat2(fd_.get(), joined, flags, mode);
    if (fd >= 0) return UniqueFd(fd);
    const int err = errno;
    if (err == ELOOP || err == EXDEV) {
      const auto link = FirstSymlink(joined);
      return Refused(*this, link.value_or(joined),
                     err == ELOOP ? "a symbolic link is in the path and is never followed"
                                  : "the path leaves the machine root");
    }
    if (err != ENOSYS && err != EPERM) return FromErrno(err, joined, "cannot open");
  }
  // The walk: every directory opened with O_NOFOLLOW relative to the one before; ".." only
  // back down a path this walk itself came up (StaysBeneath checked it lexically).
  std::vector<UniqueFd> chain;
  chain.emplace_back(::dup(fd_.get()));
  std::string so_far;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string part(parts[i]);
    so_far += (so_far.empty() ? "" : "/") + part;
    if (part == "..") {
      chain.pop_back();
      continue;
    }
    const bool last = i + 1 == parts.size();
    const int fd = last ? ::openat(chain.back().get(), part.c_str(), flags, mode)
                        : ::openat(chain.back().get(), part.c_str(),
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      struct stat st {};
      if ((err == ELOOP || err == ENOTDIR || err == EMLINK) &&
          ::fstatat(chain.back().get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        return Refused(*this, so_far, "a symbolic link is in the path and is never followed");
      }
      return FromErrno(err, so_far, "cannot open");
    }
    if (last) return UniqueFd(fd);
    chain.emplace_back(fd);
  }
  return Error(ErrorCode::kInternal, "unreachable").On(std::string(relative));
}

Result<UniqueFd> OpenDirWithoutLinks(const RootDir& root, std::string_view relative) {
  MKEYS_ASSIGN_OR_RETURN(UniqueFd dir, root.OpenBeneath(relative, O_RDONLY | O_DIRECTORY));
  const int listed = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* stream = listed < 0 ? nullptr : ::fdopendir(listed);
  if (stream == nullptr) {
    const int err = errno;
    if (listed >= 0) ::close(listed);
    return FromErrno(err, relative, "cannot list");
  }
  std::vector<std::string> links;
  while (const dirent* e = ::readdir(stream)) {
    struct stat st {};
    if (::fstatat(dir.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      links.emplace_back(e->d_name);
    }
  }
  ::closedir(stream);
  if (links.empty()) return dir;
  std::sort(links.begin(), links.end());  // the same link named on every run
  const std::string label =
      (relative.empty() ? std::string() : std::string(relative) + "/") + links.front();
  const std::string why = links.size() == 1
                              ? std::string("a symbolic link")
                              : fmt::format("a symbolic link (one of {} there)", links.size());
  return Error(ErrorCode::kIo,
               fmt::format("{} in the key store under {}: never followed, and nothing is written "
                           "into the store until it is replaced (audit: MK031)",
                           why, root.path()))
      .On(label);
}

}  // namespace mkeys::files
