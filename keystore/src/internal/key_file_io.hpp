// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Reading a key file once: open (no symlinks), fstat for its size, one read.

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mkeys::keystore::internal {

// A key file larger than this is not a container (the largest real ones are a few KiB).
inline constexpr std::size_t kMaxKeyFileBytes = 1024 * 1024;

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens `path` read-only without following a symlink. True with `fd` when it is there; false
// with an empty `problem` when it is not (missing, a symlink, not a regular file), false with
// `problem` when it cannot be opened.
bool OpenKeyFile(const std::filesystem::path& path, int& fd, std::string& problem);
// Reads the whole open file: one fstat, one read (a short read is its end). False with
// `problem` on an error or a file over kMaxKeyFileBytes.
bool ReadOpenKeyFile(int fd, std::vector<std::uint8_t>& out, std::string& problem);

}  // namespace mkeys::keystore::internal
