// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/core/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mkeys/core/hex.hpp"

namespace mkeys::files {

Error IoError(int err, const std::filesystem::path& path, std::string_view what) {
  const ErrorCode code = err == ENOENT   ? ErrorCode::kNotFound
                         : err == EEXIST ? ErrorCode::kExists
                                         : ErrorCode::kIo;
  return Error(code, fmt::format("{}: {}", what, std::strerror(err))).On(path.string());
}

Result<std::vector<std::uint8_t>> ReadFile(const std::filesystem::path& path,
                                           std::size_t max_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return IoError(errno, path, "cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError(err, path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::kIo, "not a regular file").On(path.string());
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return Error(ErrorCode::kCorrupt,
                 fmt::format("file of {} bytes exceeds the {}-byte limit", st.st_size, max_size))
        .On(path.string());
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return IoError(err, path, "cannot read");
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  ::close(fd);
  return out;
}

Result<std::vector<std::uint8_t>> ReadXattrFd(int fd, const std::string& name,
                                              const std::string& shown_path) {
  constexpr std::size_t kMax = 64u << 10;
  ssize_t size = ::fgetxattr(fd, name.c_str(), nullptr, 0);
  std::size_t want = size > 0 ? static_cast<std::size_t>(size) : 256;
  for (;;) {
    if (size < 0 && errno == ENODATA) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("no security descriptor: extended attribute {} is missing", name))
          .On(shown_path);
    }
    std::vector<std::uint8_t> buf(want);
    size = ::fgetxattr(fd, name.c_str(), buf.data(), buf.size());
    if (size >= 0) {
      buf.resize(static_cast<std::size_t>(size));
      return buf;
    }
    if ((errno != ERANGE && errno != EIO) || want >= kMax) {
      if (errno == ENODATA) continue;
      return IoError(errno, shown_path, fmt::format("cannot read {}", name));
    }
    want = std::min(kMax, want * 4);
  }
}

Result<void> SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError(errno, dir, "cannot open directory");
  // Some FUSE file systems (ntfs-3g) do not implement fsync on directories; that is not fatal.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != ENOSYS) {
    const int err = errno;
    ::close(fd);
    return IoError(err, dir, "cannot fsync directory");
  }
  ::close(fd);
  return Ok();
}

std::string RandomHex(std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    // The CSPRNG failing is not recoverable; fall back to the pid so names stay distinct.
    const auto pid = static_cast<std::uint32_t>(::getpid());
    for (std::size_t i = 0; i < buf.size(); ++i)
      buf[i] = static_cast<std::uint8_t>(pid >> (8 * (i % 4)));
  }
  return HexEncode(buf);
}

Result<void> WriteFileAtomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                             unsigned mode) {
  const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const auto tmp = dir / (".tmp-" + path.filename().string() + "-" + RandomHex(6));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return IoError(errno, tmp, "cannot create");
  auto fail = [&](int err, std::string_view what) -> Result<void> {
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError(err, path, what);
  };
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno, "cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail(errno, "cannot fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError(err, path, "cannot rename into place");
  }
  return SyncDirectory(dir);
}

}  // namespace mkeys::files
