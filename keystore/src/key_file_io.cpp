// SPDX-License-Identifier: GPL-3.0-or-later
#include <fcntl.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

#include "internal/key_file_io.hpp"

namespace mkeys::keystore::internal {

bool OpenKeyFile(const std::filesystem::path& path, int& fd, std::string& problem) {
  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err != ENOENT && err != ELOOP && err != ENOTDIR) {
      problem = fmt::format("cannot open: {}", std::strerror(err));
    }
    return false;
  }
  return true;
}

bool ReadOpenKeyFile(int fd, std::vector<std::uint8_t>& out, std::string& problem) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    problem = fmt::format("cannot stat: {}", std::strerror(errno));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
    return false;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > kMaxKeyFileBytes) {
    problem =
        fmt::format("{} bytes: larger than {} bytes, not a key container", size, kMaxKeyFileBytes);
    return false;
  }
  // One byte more than fstat says, so a file that grew meanwhile is noticed, not cut.
  out.resize(size + 1);
  std::size_t done = 0;
  for (;;) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problem = fmt::format("cannot read: {}", std::strerror(errno));
      return false;
    }
    done += static_cast<std::size_t>(n);
    if (n == 0 || done < out.size()) break;
    if (out.size() > kMaxKeyFileBytes) {
      problem = fmt::format("larger than {} bytes: not a key container", kMaxKeyFileBytes);
      return false;
    }
    out.resize(out.size() * 2);
  }
  out.resize(done);
  return true;
}

}  // namespace mkeys::keystore::internal
