// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Output safety for names that come from the disk (a file in MachineKeys can be named anything a
// Linux file system allows: bytes that are not UTF-8, ESC sequences, markup). Every renderer
// passes such text through one of these before writing it.
//
// The escaped form is the same everywhere: a byte that is not part of valid UTF-8, a control
// character (C0, DEL, C1) and U+FFFE/U+FFFF become "\xNN" per byte; everything else is kept.
// Where a name had to be escaped, the formats also carry its raw bytes in hex.

#include <string>
#include <string_view>

namespace mkeys::cli {

// True when `text` needs no escaping (valid UTF-8 without control characters).
bool IsPlainText(std::string_view text);
// `text` with the bytes above replaced by "\xNN" (valid UTF-8, no control characters).
std::string EscapeUnsafe(std::string_view text);
// The same, but keeping '\n' (for multi-line evidence).
std::string EscapeUnsafeKeepNewlines(std::string_view text);
// Lower-case hex of every byte ("fffe41").
std::string HexOf(std::string_view bytes);
// EscapeUnsafe, then the five XML/HTML special characters as entities. Valid in XML 1.0
// attribute values and text, and in HTML text and quoted attributes.
std::string XmlText(std::string_view text);
// The same, keeping '\n'.
std::string XmlTextKeepNewlines(std::string_view text);

}  // namespace mkeys::cli
