// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Text helpers shared by every library: ASCII case folding (Windows compares container names,
// account names and SDDL tokens case-insensitively in ASCII) and UTF-8 <-> UTF-16LE.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mkeys::text {

constexpr char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
constexpr char AsciiUpper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}

std::string ToLowerAscii(std::string_view s);
std::string ToUpperAscii(std::string_view s);
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b);

// Appends one code point as UTF-16LE (a surrogate pair above U+FFFF).
void AppendUtf16Le(std::vector<std::uint8_t>& out, std::uint32_t code_point);
// UTF-8 to UTF-16LE. Invalid UTF-8 sequences become U+FFFD; nothing is dropped silently.
std::vector<std::uint8_t> Utf8ToUtf16Le(std::string_view utf8);
// UTF-16LE to UTF-8; nullopt for an odd length or an unpaired surrogate.
std::optional<std::string> Utf16LeToUtf8(std::span<const std::uint8_t> utf16);
// The code points of a UTF-8 string (invalid sequences become U+FFFD).
std::vector<std::uint32_t> DecodeUtf8(std::string_view utf8);
// Appends a code point as UTF-8.
void AppendUtf8(std::string& out, std::uint32_t code_point);

}  // namespace mkeys::text
