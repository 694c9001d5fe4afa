// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/container_name.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "internal/md5.hpp"
#include "mkeys/core/error.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::keystore {
namespace {

using text::AsciiLower;

// ASCII only. mkeys never calls setlocale, so this is what std::isxdigit does in the "C"
// locale, without the locale lookup per character.
constexpr bool IsHexSlow(unsigned c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// One table lookup per character: a scan checks 68 characters of every file name.
constexpr std::array<bool, 256> kIsHex = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = IsHexSlow(c);
  return t;
}();
constexpr bool IsHex(char c) {
  return kIsHex[static_cast<unsigned char>(c)];
}
constexpr bool IsGuidDash(std::size_t i) {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

// Hex digits in [begin, end) of `s` (bounds checked by the callers).
bool AllHex(std::string_view s, std::size_t begin, std::size_t end) {
  bool ok = true;
  for (std::size_t i = begin; i < end; ++i) ok &= IsHex(s[i]);
  return ok;
}

// 36 characters in the xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx shape (hex digits of either case).
bool IsGuidBody(std::string_view s) {
  return s.size() == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
         AllHex(s, 0, 8) && AllHex(s, 9, 13) && AllHex(s, 14, 18) && AllHex(s, 19, 23) &&
         AllHex(s, 24, 36);
}

constexpr char kHexDigits[] = "0123456789abcdef";

// MD5 of the lower-cased name followed by its NUL, without copying the name: lowered a block
// at a time into a buffer on the stack (a branch-free loop the compiler vectorises).
std::array<std::uint8_t, 16> Md5OfLoweredName(std::string_view name) {
  md5::Md5 md5;
  std::uint8_t chunk[64];
  const auto* src = reinterpret_cast<const std::uint8_t*>(name.data());
  std::size_t left = name.size();
  for (;;) {
    const std::size_t take = left < sizeof chunk ? left : sizeof chunk;
    for (std::size_t i = 0; i < take; ++i) {
      const std::uint8_t c = src[i];
      chunk[i] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(c - 'A') < 26 ? c | 0x20 : c);
    }
    src += take;
    left -= take;
    if (take < sizeof chunk) {
      chunk[take] = 0;  // the NUL the CSP hashes after the name
      md5.Update(chunk, take + 1);
      break;
    }
    md5.Update(chunk, take);
  }
  return md5.Final();
}

}  // namespace

void ContainerHashTo(std::string_view container_name, std::span<char, 32> out) {
  // The CSP lower-cases the name, appends its NUL and hashes the ASCII bytes with MD5; the
  // digest is printed as four little-endian 32-bit words, each as 8 hex digits.
  const auto digest = Md5OfLoweredName(container_name);
  std::size_t o = 0;
  for (std::size_t word = 0; word < 4; ++word) {
    for (std::size_t k = 4; k-- > 0;) {  // most significant byte of the LE word first
      const std::uint8_t b = digest[4 * word + k];
      out[o++] = kHexDigits[b >> 4];
      out[o++] = kHexDigits[b & 0x0f];
    }
  }
}

std::string ContainerHash(std::string_view container_name) {
  std::string out(32, '0');
  ContainerHashTo(container_name, std::span<char, 32>(out.data(), 32));
  return out;
}

bool ContainerHashMatches(std::string_view container_name, std::string_view hash_hex) {
  if (hash_hex.size() != 32) return false;
  char hash[32];
  ContainerHashTo(container_name, hash);
  if (std::memcmp(hash, hash_hex.data(), 32) == 0) return true;  // file names are lower case
  for (std::size_t i = 0; i < 32; ++i) {
    if (hash[i] != AsciiLower(hash_hex[i])) return false;
  }
  return true;
}

Result<void> ValidateContainerName(std::string_view name) {
  if (name.empty()) return Error(ErrorCode::kInvalidArgument, "container name is empty");
  if (name.size() > 260) {
    return Error(ErrorCode::kInvalidArgument, "container name is longer than 260 characters");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c > 0x7e) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("container name has a non-printable or non-ASCII byte 0x{:02x}", c))
          .At(i);
    }
  }
  return Ok();
}

std::string ContainerFileName(std::string_view container_name, std::string_view machine_guid) {
  std::string out(32, '0');
  ContainerHashTo(container_name, std::span<char, 32>(out.data(), 32));
  out.reserve(33 + machine_guid.size());
  out.push_back('_');
  out.append(machine_guid);
  return out;
}

Result<std::string> NormalizeMachineGuid(std::string_view text) {
  std::string_view body = text;
  std::size_t shift = 0;
  if (body.size() == 38 && body.front() == '{' && body.back() == '}') {
    body = body.substr(1, 36);
    shift = 1;
  }
  if (body.size() != 36) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("MachineGuid '{}' must have the form "
                                                          "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                                                          text));
  }
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    const bool dash = IsGuidDash(i);
    if (dash ? c != '-' : !IsHex(c)) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("MachineGuid '{}': expected {} at offset {}", text,
                               dash ? "'-'" : "a hex digit", i + shift))
          .At(i + shift);
    }
    out.push_back(AsciiLower(c));
  }
  return out;
}

std::optional<ContainerFileNameView> SplitContainerFileNameView(std::string_view file_name) {
  if (file_name.size() != 32 + 1 + 36 || file_name[32] != '_') return std::nullopt;
  if (!AllHex(file_name, 0, 32)) return std::nullopt;
  const std::string_view guid = file_name.substr(33);
  if (!IsGuidBody(guid)) return std::nullopt;
  return ContainerFileNameView{file_name.substr(0, 32), guid};
}

std::optional<ContainerFileNameParts> SplitContainerFileName(std::string_view file_name) {
  const auto view = SplitContainerFileNameView(file_name);
  if (!view) return std::nullopt;
  ContainerFileNameParts parts;
  parts.hash.resize(32);
  for (std::size_t i = 0; i < 32; ++i) parts.hash[i] = AsciiLower(view->hash[i]);
  parts.machine_guid.resize(36);
  for (std::size_t i = 0; i < 36; ++i) parts.machine_guid[i] = AsciiLower(view->machine_guid[i]);
  return parts;
}

}  // namespace mkeys::keystore
