// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Reparse point buffers (MS-FSCC 2.1.2): what a junction or a symbolic link on an NTFS volume
// points to, as Windows shows it ("C:\Windows"), for findings about links in a key store. The
// buffer is the whole REPARSE_DATA_BUFFER: ReparseTag (u32), ReparseDataLength (u16), Reserved
// (u16), then the tag's data -- what ntfs-3g keeps in the $REPARSE_POINT attribute and shows in
// the `system.ntfs_reparse_data` extended attribute.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "mkeys/core/result.hpp"

namespace mkeys::keystore {

inline constexpr std::uint32_t kReparseTagMountPoint = 0xA0000003;  // a junction (mklink /J)
inline constexpr std::uint32_t kReparseTagSymlink = 0xA000000C;

struct ReparsePoint {
  std::uint32_t tag = 0;
  std::string kind;    // "junction", "symbolic link" or "reparse point 0xXXXXXXXX"
  std::string target;  // the print name, else the substitute name without "\??\" ("" if neither)
};

// Decodes `buffer`. Junctions and symbolic links must be well formed (names inside the data,
// UTF-16LE); other tags are described by their number alone. Errors give the byte offset.
Result<ReparsePoint> ParseReparsePoint(std::span<const std::uint8_t> buffer);

// What a link is and where it points. On an ntfs-3g mount a junction or a Windows symbolic link
// shows as a symlink; its reparse data (system.ntfs_reparse_data) names its kind and its Windows
// target ("junction to C:\Windows"); elsewhere it is a "symbolic link" to readlink's text.
struct LinkDescription {
  std::string kind = "symbolic link";
  std::string target;  // "" when it cannot be read
};
// The symlink `name` in the directory `dir_fd` (never followed).
LinkDescription DescribeLink(int dir_fd, const char* name);
// The symlink at `path` (never followed).
LinkDescription DescribeLinkPath(const std::filesystem::path& path);

}  // namespace mkeys::keystore
