// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A junction's reparse buffer, as Windows' `mklink /J` writes it (MS-FSCC 2.1.2.5: tag
// IO_REPARSE_TAG_MOUNT_POINT 0xA0000003, data length, then the substitute name "\??\C:\..." and
// the print name "C:\...", each UTF-16LE with a terminator), as the hex that
// `setfattr -n system.ntfs_reparse_data -v 0x…` takes on an ntfs-3g mount.

#include <cstdint>
#include <string>
#include <vector>

namespace mkeys::test {

inline std::string JunctionReparseHex(const std::string& dos_target /* "C:\\Windows" */) {
  auto utf16 = [](const std::string& s) {
    std::vector<std::uint8_t> b;
    for (char c : s) {
      b.push_back(static_cast<std::uint8_t>(c));
      b.push_back(0);
    }
    return b;
  };
  const auto sub = utf16("\\??\\" + dos_target), print = utf16(dos_target);
  std::vector<std::uint8_t> data;
  auto put16 = [&data](std::size_t v) {
    data.push_back(static_cast<std::uint8_t>(v));
    data.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  put16(0);               // SubstituteNameOffset
  put16(sub.size());      // SubstituteNameLength (bytes, no terminator)
  put16(sub.size() + 2);  // PrintNameOffset: after the substitute name and its terminator
  put16(print.size());    // PrintNameLength
  data.insert(data.end(), sub.begin(), sub.end());
  put16(0);
  data.insert(data.end(), print.begin(), print.end());
  put16(0);
  std::vector<std::uint8_t> rp = {0x03, 0x00, 0x00, 0xA0};  // ReparseTag, little-endian
  rp.push_back(static_cast<std::uint8_t>(data.size()));     // ReparseDataLength
  rp.push_back(static_cast<std::uint8_t>(data.size() >> 8));
  rp.push_back(0);  // Reserved
  rp.push_back(0);
  rp.insert(rp.end(), data.begin(), data.end());
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (std::uint8_t v : rp) {
    hex += digits[v >> 4];
    hex += digits[v & 15];
  }
  return hex;
}

}  // namespace mkeys::test
