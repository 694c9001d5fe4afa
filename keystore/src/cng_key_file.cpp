// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/cng_key_file.hpp"

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "internal/md5.hpp"
#include "mkeys/core/error.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/keys.hpp"

namespace mkeys::keystore {
namespace {

using Bytes = std::span<const std::uint8_t>;

Error ParseError(std::size_t offset, std::string message) {
  return Error(ErrorCode::kParse, "CNG key file: " + message).At(offset);
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool AllHex(std::string_view s) {
  for (char c : s) {
    if (!IsHex(c)) return false;
  }
  return true;
}
bool IsGuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

// UTF-16LE bytes to UTF-8; nullopt when they are not valid UTF-16.
std::optional<std::string> Utf16Name(Bytes bytes) {
  return text::Utf16LeToUtf8(bytes);
}

bool StartsWithDpapi(Bytes b) {
  return b.size() >= 20 && le::Read32(b, 0) == 1 &&
         std::memcmp(b.data() + 4, kDpapiProviderGuid.data(), kDpapiProviderGuid.size()) == 0;
}

constexpr std::uint32_t kMkeysSealedMagic = 0x31504B4D;  // "MKP1"

// How a private part is protected: a DPAPI blob, one property record wrapping one (some
// Windows versions), or mkeys' sealed format (model machines).
CngProtection ProtectionOf(Bytes b) {
  if (b.empty()) return CngProtection::kNone;
  if (StartsWithDpapi(b)) return CngProtection::kDpapi;
  if (b.size() >= 4 && le::Read32(b, 0) == kMkeysSealedMagic) return CngProtection::kMkeysSealed;
  if (b.size() >= kCngPropertyHeaderSize) {
    const std::uint64_t name_len = le::Read32(b, 12);
    const std::uint64_t value_len = le::Read32(b, 16);
    const std::uint64_t at = kCngPropertyHeaderSize + name_len;
    if (at + value_len <= b.size() && StartsWithDpapi(b.subspan(static_cast<std::size_t>(at)))) {
      return CngProtection::kDpapi;
    }
  }
  return CngProtection::kOpaque;
}

// The property records of the public block [begin, end) of `file`.
Result<std::vector<CngProperty>> ParseProperties(Bytes file, std::size_t begin, std::size_t end) {
  std::vector<CngProperty> out;
  std::size_t at = begin;
  while (at < end) {
    if (end - at < kCngPropertyHeaderSize) {
      return ParseError(at, fmt::format("a property record header needs 20 bytes; the public "
                                        "properties end {} bytes later",
                                        end - at));
    }
    const std::uint32_t record_len = le::Read32(file, at);
    const std::uint64_t name_len = le::Read32(file, at + 12);
    const std::uint64_t value_len = le::Read32(file, at + 16);
    if (record_len < kCngPropertyHeaderSize + name_len + value_len) {
      return ParseError(at, fmt::format("property record length {} is less than its 20-byte "
                                        "header + name {} + value {}",
                                        record_len, name_len, value_len));
    }
    if (record_len > end - at) {
      return ParseError(at, fmt::format("property record length {} runs past the public "
                                        "properties, which end at offset {}",
                                        record_len, end));
    }
    if (name_len % 2 != 0) {
      return ParseError(at + 12, fmt::format("property name length {} is odd (UTF-16)", name_len));
    }
    CngProperty p;
    p.offset = at;
    p.type = le::Read32(file, at + 4);
    p.unknown = le::Read32(file, at + 8);
    const std::size_t name_at = at + kCngPropertyHeaderSize;
    auto name = Utf16Name(file.subspan(name_at, static_cast<std::size_t>(name_len)));
    if (!name) return ParseError(name_at, "property name is not valid UTF-16LE");
    p.name = std::move(*name);
    p.value = file.subspan(name_at + static_cast<std::size_t>(name_len),
                           static_cast<std::size_t>(value_len));
    out.push_back(std::move(p));
    at += record_len;
  }
  return out;
}

// The "Modified" FILETIME and the BCRYPT public blob among the public properties.
Result<void> Interpret(Bytes file, const std::vector<CngProperty>& properties,
                       CngKeyFileView& view) {
  for (const auto& p : properties) {
    const auto value_at = static_cast<std::size_t>(p.value.data() - file.data());
    if (text::EqualsIgnoreAsciiCase(p.name, "Modified")) {
      if (p.value.size() != 8) {
        return ParseError(p.offset + 16, fmt::format("property \"Modified\" holds {} bytes; a "
                                                     "FILETIME has 8",
                                                     p.value.size()));
      }
      view.modified = le::Read64(p.value, 0);
      continue;
    }
    if (p.value.size() < 4) continue;
    const std::uint32_t magic = le::Read32(p.value, 0);
    if (magic == kMagicRsa1 || magic == kMagicEcs1 || magic == kMagicEck1 || magic == kMagicEcs3 ||
        magic == kMagicEcs5) {
      auto key = ParseBcryptPublicBlob(p.value);
      if (!key) {
        return ParseError(value_at + key.error().position().value_or(0),
                          fmt::format("public key blob of property \"{}\" at offset {}: {}", p.name,
                                      p.offset, key.error().message()));
      }
      view.public_key = std::move(*key);
    }
  }
  return Ok();
}

}  // namespace

std::string CngTypeName(std::uint32_t type) {
  if (type == kCngTypeRsa) return "RSA";
  if (type == kCngTypeEcdsa) return "ECDSA";
  return fmt::format("unknown type 0x{:08x}", type);
}

std::string CngPublicKey::Describe() const {
  if (magic == kMagicRsa1) {
    return public_exponent != 0 ? fmt::format("RSA {} (e={})", bits, public_exponent)
                                : fmt::format("RSA {}", bits);
  }
  return algorithm;
}

std::string_view CngProtectionName(CngProtection p) {
  switch (p) {
    case CngProtection::kNone:
      return "empty";
    case CngProtection::kDpapi:
      return "DPAPI";
    case CngProtection::kMkeysSealed:
      return "mkeys-sealed";
    case CngProtection::kOpaque:
      return "opaque";
  }
  return "opaque";
}

std::string CngKeyFileView::DescribeKey() const {
  return public_key ? public_key->Describe() : CngTypeName(type);
}

bool LooksLikeCngKeyFile(Bytes bytes) {
  if (bytes.size() < kCngHeaderSize) return false;
  if (le::Read32(bytes, 0) != kCngKeyFileVersion || le::Read32(bytes, 4) != 0) return false;
  const std::uint32_t type = le::Read32(bytes, 12);
  if ((type & 0xffff0000U) != 0x00030000U) return false;
  for (std::size_t i = 28; i < kCngHeaderSize; ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

Result<CngPublicKey> ParseBcryptPublicBlob(Bytes blob) {
  if (blob.size() < 8) {
    return Error(ErrorCode::kParse, "BCRYPT blob ends inside its header").At(blob.size());
  }
  CngPublicKey key;
  key.magic = le::Read32(blob, 0);
  if (key.magic == kMagicRsa1) {
    if (blob.size() < 24) {
      return Error(ErrorCode::kParse, "BCRYPT_RSAKEY_BLOB ends inside its 24-byte header")
          .At(blob.size());
    }
    key.algorithm = "RSA";
    key.bits = le::Read32(blob, 4);
    const std::uint64_t exp_len = le::Read32(blob, 8);
    const std::uint64_t mod_len = le::Read32(blob, 12);
    if (24 + exp_len + mod_len > blob.size()) {
      return Error(ErrorCode::kParse,
                   fmt::format("BCRYPT_RSAKEY_BLOB exponent {} + modulus {} bytes run past the "
                               "{}-byte blob",
                               exp_len, mod_len, blob.size()))
          .At(8);
    }
    if (mod_len == 0 || key.bits == 0 || (key.bits + 7) / 8 != mod_len) {
      return Error(ErrorCode::kParse, fmt::format("BCRYPT_RSAKEY_BLOB bit length {} does not fit "
                                                  "its {}-byte modulus",
                                                  key.bits, mod_len))
          .At(4);
    }
    if (exp_len >= 1 && exp_len <= 4) {
      for (std::size_t i = 0; i < exp_len; ++i)
        key.public_exponent = key.public_exponent << 8 | blob[24 + i];
    }
    return key;
  }
  struct Curve {
    std::uint32_t magic;
    const char* name;
    std::uint32_t bits;
    std::uint32_t bytes;
  };
  static constexpr std::array<Curve, 4> kCurves = {{{kMagicEcs1, "ECDSA P-256", 256, 32},
                                                    {kMagicEck1, "ECDH P-256", 256, 32},
                                                    {kMagicEcs3, "ECDSA P-384", 384, 48},
                                                    {kMagicEcs5, "ECDSA P-521", 521, 66}}};
  for (const auto& c : kCurves) {
    if (c.magic != key.magic) continue;
    const std::uint32_t cb = le::Read32(blob, 4);
    if (cb != c.bytes) {
      return Error(ErrorCode::kParse, fmt::format("BCRYPT_ECCKEY_BLOB key length {} is not {}'s {}",
                                                  cb, c.name, c.bytes))
          .At(4);
    }
    if (8 + 2 * static_cast<std::uint64_t>(cb) > blob.size()) {
      return Error(ErrorCode::kParse, fmt::format("BCRYPT_ECCKEY_BLOB X and Y ({} bytes each) run "
                                                  "past the {}-byte blob",
                                                  cb, blob.size()))
          .At(8);
    }
    key.algorithm = c.name;
    key.bits = c.bits;
    return key;
  }
  return Error(ErrorCode::kParse, fmt::format("unknown BCRYPT blob magic 0x{:08x}", key.magic))
      .At(0);
}

Result<CngKeyFileView> ParseCngKeyFile(Bytes bytes) {
  if (bytes.size() < 4)
    return ParseError(0, fmt::format("{} bytes: no version word", bytes.size()));
  CngKeyFileView view;
  view.version = le::Read32(bytes, 0);
  if (view.version != kCngKeyFileVersion) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("unknown format: key file version {} (CNG key files have 1)",
                             view.version))
        .At(0);
  }
  if (bytes.size() < kCngHeaderSize) {
    return ParseError(bytes.size(), fmt::format("the file ends inside the 44-byte header ({} "
                                                "bytes)",
                                                bytes.size()));
  }
  if (le::Read32(bytes, 4) != 0) {
    return ParseError(4,
                      fmt::format("header word 2 is 0x{:08x}, expected 0", le::Read32(bytes, 4)));
  }
  for (std::size_t i = 28; i < kCngHeaderSize; ++i) {
    if (bytes[i] != 0) return ParseError(i, "the 16 reserved header bytes are not zero");
  }
  const std::uint64_t name_len = le::Read32(bytes, 8);
  view.type = le::Read32(bytes, 12);
  const std::uint64_t public_len = le::Read32(bytes, 16);
  const std::uint64_t private_props_len = le::Read32(bytes, 20);
  const std::uint64_t private_key_len = le::Read32(bytes, 24);
  if (name_len == 0 || name_len % 2 != 0) {
    return ParseError(8, fmt::format("name length {} is not a non-zero even number", name_len));
  }
  const std::uint64_t size = bytes.size();
  std::uint64_t at = kCngHeaderSize;
  const struct {
    std::uint64_t len;
    const char* what;
    std::size_t field;
  } parts[] = {{name_len, "name", 8},
               {public_len, "public properties", 16},
               {private_props_len, "private properties", 20},
               {private_key_len, "private key", 24}};
  for (const auto& part : parts) {
    if (at + part.len > size) {
      return ParseError(static_cast<std::size_t>(at),
                        fmt::format("{} length {} (header offset {}) runs past the end of the "
                                    "{}-byte file",
                                    part.what, part.len, part.field, size));
    }
    at += part.len;
  }
  view.trailing_bytes = static_cast<std::size_t>(size - at);
  auto name = Utf16Name(bytes.subspan(kCngHeaderSize, static_cast<std::size_t>(name_len)));
  if (!name) return ParseError(kCngHeaderSize, "the key name is not valid UTF-16LE");
  view.name = std::move(*name);
  const std::size_t public_at = kCngHeaderSize + static_cast<std::size_t>(name_len);
  const std::size_t public_end = public_at + static_cast<std::size_t>(public_len);
  MKEYS_ASSIGN_OR_RETURN(view.public_properties, ParseProperties(bytes, public_at, public_end));
  MKEYS_TRY(Interpret(bytes, view.public_properties, view));
  view.private_properties = bytes.subspan(public_end, static_cast<std::size_t>(private_props_len));
  view.private_key = bytes.subspan(public_end + static_cast<std::size_t>(private_props_len),
                                   static_cast<std::size_t>(private_key_len));
  view.private_properties_protection = ProtectionOf(view.private_properties);
  view.private_key_protection = ProtectionOf(view.private_key);
  return view;
}

std::string CngKeyHash(std::string_view key_name) {
  std::string lowered(key_name);
  for (char& c : lowered) c = text::AsciiLower(c);
  std::vector<std::uint8_t> utf16 = text::Utf8ToUtf16Le(lowered);
  utf16.push_back(0);  // the terminator is hashed too
  utf16.push_back(0);
  md5::Md5 md5;
  md5.Update(utf16.data(), utf16.size());
  const auto digest = md5.Final();
  std::string out;
  for (std::size_t word = 0; word < 4; ++word) {
    const std::uint32_t v = le::Read32(digest, 4 * word);
    out += fmt::format("{:08x}", v);
  }
  return out;
}

std::string CngKeyFileName(std::string_view key_name, std::string_view machine_guid) {
  return CngKeyHash(key_name) + "_" + std::string(machine_guid);
}

bool IsUniqueKeyFileName(std::string_view name) {
  if (name.size() < 69 || name[32] != '_' || !AllHex(name.substr(0, 32))) return false;
  if (!IsGuid(name.substr(33, 36))) return false;
  if (name.size() == 69) return true;
  return name.size() == 69 + 33 && name[69] == '_' && AllHex(name.substr(70));
}

std::vector<std::uint8_t> BuildCngProperty(std::uint32_t type, std::string_view name,
                                           std::span<const std::uint8_t> value) {
  const std::vector<std::uint8_t> utf16 = text::Utf8ToUtf16Le(name);
  std::vector<std::uint8_t> out;
  le::Put32(out, static_cast<std::uint32_t>(kCngPropertyHeaderSize + utf16.size() + value.size()));
  le::Put32(out, type);
  le::Put32(out, 0);
  le::Put32(out, static_cast<std::uint32_t>(utf16.size()));
  le::Put32(out, static_cast<std::uint32_t>(value.size()));
  le::Append(out, utf16);
  le::Append(out, value);
  return out;
}

std::vector<std::uint8_t> BuildCngKeyFile(const CngKeyFileSpec& spec) {
  std::vector<std::uint8_t> modified;
  le::Put64(modified, spec.modified);
  std::vector<std::uint8_t> props = BuildCngProperty(1, "Modified", modified);
  le::Append(props, BuildCngProperty(1, "Public Key", spec.public_blob));
  const std::vector<std::uint8_t> name = text::Utf8ToUtf16Le(spec.name);
  std::vector<std::uint8_t> out;
  le::Put32(out, kCngKeyFileVersion);
  le::Put32(out, 0);
  le::Put32(out, static_cast<std::uint32_t>(name.size()));
  le::Put32(out, spec.type);
  le::Put32(out, static_cast<std::uint32_t>(props.size()));
  le::Put32(out, static_cast<std::uint32_t>(spec.private_properties.size()));
  le::Put32(out, static_cast<std::uint32_t>(spec.private_key.size()));
  out.resize(kCngHeaderSize, 0);
  le::Append(out, name);
  le::Append(out, props);
  le::Append(out, spec.private_properties);
  le::Append(out, spec.private_key);
  return out;
}

}  // namespace mkeys::keystore
