// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Opening paths beneath a machine root without ever leaving it: no symlink is followed, no ".."
// climbs out, and the caller then reads and writes through the descriptor it got (fgetxattr /
// fsetxattr), never by path again. Linux' openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
// does it in one call; where the kernel lacks it (ENOSYS, e.g. under some container seccomp
// filters) a component-by-component openat(O_NOFOLLOW) walk gives the same answer.
// MKEYS_FORCE_OPENAT_WALK=1 forces the walk (the tests use it).

#include <optional>
#include <string>
#include <string_view>

#include "mkeys/core/result.hpp"

namespace mkeys::files {

// A file descriptor that closes itself.
class UniqueFd final {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// The root directory, opened once; every path below is resolved relative to it.
class RootDir final {
 public:
  static Result<RootDir> Open(const std::string& root);

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // Opens `relative` ("ProgramData/Microsoft/Crypto", "" for the root itself) beneath the root
  // with `flags` (O_RDONLY, O_WRONLY|O_CREAT|O_EXCL, O_DIRECTORY, ...; O_NOFOLLOW and O_CLOEXEC
  // are added) and `mode`. A symlink anywhere on the way, an absolute path or a ".." that
  // leaves the root is refused with kInvalidInput naming the component; it is never followed.
  Result<UniqueFd> OpenBeneath(std::string_view relative, int flags, unsigned mode = 0) const;
  // The first component of `relative` that is a symlink ("ProgramData/Microsoft/Crypto"), or
  // nullopt: for audits that report the link rather than fail on it.
  std::optional<std::string> FirstSymlink(std::string_view relative) const;

  // Whether openat2 is used (false: the fallback walk).
  static bool UsesOpenat2();

 private:
  RootDir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// The lexical check alone: `relative` has no absolute start and no ".." that climbs above its
// start. (OpenBeneath does this too; callers validating user input before any I/O use it.)
bool StaysBeneath(std::string_view relative);

}  // namespace mkeys::files
