// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// File helpers for every library: whole-file reads with a size cap, the one atomic writer.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys::files {

// Reads a whole file (at most `max_size` bytes, else kCorrupt naming the size).
Result<std::vector<std::uint8_t>> ReadFile(const std::filesystem::path& path,
                                           std::size_t max_size = 16u << 20);
// Writes `bytes` to a temporary name beside `path` (O_EXCL, `mode`), fsyncs, renames over `path`
// and fsyncs the directory. Nothing is left behind on failure.
Result<void> WriteFileAtomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                             unsigned mode = 0600);
// The extended attribute `name` of the open file `fd`, sized by a size query first; a buffer that
// turns out short (ERANGE, or EIO as ntfs-3g answers) is retried larger, up to 64 KiB.
// kNotFound when the attribute is missing.
Result<std::vector<std::uint8_t>> ReadXattrFd(int fd, const std::string& name,
                                              const std::string& shown_path);
// Fsyncs a directory (after a rename or link in it).
Result<void> SyncDirectory(const std::filesystem::path& dir);
// A random lower-case hex string of `bytes` random bytes (for temporary names).
std::string RandomHex(std::size_t bytes);
// "strerror(err)" naming `path`.
Error IoError(int err, const std::filesystem::path& path, std::string_view what);

}  // namespace mkeys::files
