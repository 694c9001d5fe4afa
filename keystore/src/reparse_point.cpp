// SPDX-License-Identifier: GPL-3.0-or-later
// Reparse point buffers: MS-FSCC 2.1.2.1 (REPARSE_DATA_BUFFER), 2.1.2.4 (symbolic link:
// SubstituteNameOffset, SubstituteNameLength, PrintNameOffset, PrintNameLength, Flags, then the
// path buffer) and 2.1.2.5 (mount point: the same without Flags). Offsets and lengths are in
// bytes, relative to the path buffer.
#include "mkeys/keystore/reparse_point.hpp"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/format.h>

#include <vector>

#include "mkeys/core/text.hpp"

namespace mkeys::keystore {
namespace {

std::uint32_t Le16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at] | (b[at + 1] << 8));
}

std::uint32_t Le32(std::span<const std::uint8_t> b, std::size_t at) {
  return Le16(b, at) | (Le16(b, at + 2) << 16);
}

Error Bad(std::string what, std::size_t at) {
  return Error(ErrorCode::kCorrupt, "reparse point: " + std::move(what)).At(at);
}

// One name of the path buffer, which starts at `buffer_at` and ends at `end`.
Result<std::string> Name(std::span<const std::uint8_t> b, std::size_t field_at,
                         std::size_t buffer_at, std::size_t end, const char* which) {
  const std::size_t offset = Le16(b, field_at), length = Le16(b, field_at + 2);
  if (offset % 2 != 0 || length % 2 != 0) {
    return Bad(fmt::format("the {} name's offset {} or length {} is odd", which, offset, length),
               field_at);
  }
  if (buffer_at + offset + length > end) {
    return Bad(fmt::format("the {} name ({} bytes at {}) runs past the data's end at {}", which,
                           length, buffer_at + offset, end),
               field_at);
  }
  auto text = text::Utf16LeToUtf8(b.subspan(buffer_at + offset, length));
  if (!text) return Bad(fmt::format("the {} name is not valid UTF-16", which), buffer_at + offset);
  return *text;
}

}  // namespace

Result<ReparsePoint> ParseReparsePoint(std::span<const std::uint8_t> b) {
  if (b.size() < 8) {
    return Bad(fmt::format("{} bytes, shorter than the 8-byte header", b.size()), b.size());
  }
  ReparsePoint out;
  out.tag = Le32(b, 0);
  const std::size_t length = Le16(b, 4);
  if (8 + length > b.size()) {
    return Bad(
        fmt::format("ReparseDataLength {} runs past the buffer's {} bytes", length, b.size()), 4);
  }
  const std::size_t end = 8 + length;
  std::size_t buffer_at = 0;
  if (out.tag == kReparseTagMountPoint) {
    out.kind = "junction";
    buffer_at = 16;
  } else if (out.tag == kReparseTagSymlink) {
    out.kind = "symbolic link";
    buffer_at = 20;
  } else {
    out.kind = fmt::format("reparse point 0x{:08X}", out.tag);
    return out;
  }
  if (end < buffer_at) {
    return Bad(
        fmt::format("a {} needs {} bytes of header, the data ends at {}", out.kind, buffer_at, end),
        4);
  }
  MKEYS_ASSIGN_OR_RETURN(std::string substitute, Name(b, 8, buffer_at, end, "substitute"));
  MKEYS_ASSIGN_OR_RETURN(std::string print, Name(b, 12, buffer_at, end, "print"));
  if (!print.empty()) {
    out.target = std::move(print);
  } else if (substitute.starts_with("\\??\\")) {
    out.target = substitute.substr(4);
  } else {
    out.target = std::move(substitute);
  }
  return out;
}

namespace {

namespace fs = std::filesystem;

// `link_text` is readlink's answer; `xattr_path` names the link for lgetxattr (not followed).
LinkDescription Describe(std::string link_text, const std::string& xattr_path) {
  LinkDescription out;
  out.target = std::move(link_text);
  std::vector<std::uint8_t> data(16384);
  const ssize_t n =
      ::lgetxattr(xattr_path.c_str(), "system.ntfs_reparse_data", data.data(), data.size());
  if (n <= 0) return out;
  auto point =
      ParseReparsePoint(std::span<const std::uint8_t>(data.data(), static_cast<std::size_t>(n)));
  if (!point) return out;
  out.kind = point->kind;
  if (!point->target.empty()) out.target = std::move(point->target);
  return out;
}

std::string ReadLinkAt(int dir_fd, const char* name) {
  std::string target(4096, '\0');
  const ssize_t n = ::readlinkat(dir_fd, name, target.data(), target.size());
  target.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return target;
}

}  // namespace

LinkDescription DescribeLink(int dir_fd, const char* name) {
  // The directory is already open beneath the root: name the link through it.
  return Describe(ReadLinkAt(dir_fd, name),
                  "/proc/self/fd/" + std::to_string(dir_fd) + "/" + std::string(name));
}

LinkDescription DescribeLinkPath(const fs::path& path) {
  return Describe(ReadLinkAt(AT_FDCWD, path.c_str()), path.string());
}

}  // namespace mkeys::keystore
