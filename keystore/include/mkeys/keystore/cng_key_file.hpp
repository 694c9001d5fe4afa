// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// CNG key files, as the Microsoft Software Key Storage Provider keeps them in
// ProgramData/Microsoft/Crypto/Keys (machine keys) and Crypto/SystemKeys (docs/formats.md, "CNG
// key files"): a 44-byte header, the key name in UTF-16LE, public property records (among them
// "Modified" and the BCRYPT public key blob), then the DPAPI-protected private properties and
// private key. File names: MD5 over the lower-cased UTF-16LE name with its terminator, printed
// as four little-endian DWORDs, then "_<MachineGuid>".
//
// The parser takes untrusted bytes: every error is kParse (kUnsupported for an unknown version:
// "unknown format") with the offset of the problem; it never reads out of bounds
// (fuzz/cng_key_file_fuzz.cpp).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys::keystore {

inline constexpr std::uint32_t kCngKeyFileVersion = 1;
inline constexpr std::uint32_t kCngTypeRsa = 0x30001;
inline constexpr std::uint32_t kCngTypeEcdsa = 0x30004;
inline constexpr std::size_t kCngHeaderSize = 44;          // 7 x u32 + 16 zero bytes
inline constexpr std::size_t kCngPropertyHeaderSize = 20;  // 5 x u32
// BCRYPT public blob magics (bcrypt.h) besides RSA1/ECS1/ECK1 (keys.hpp).
inline constexpr std::uint32_t kMagicEcs3 = 0x33534345;  // ECDSA P-384 public
inline constexpr std::uint32_t kMagicEcs5 = 0x35534345;  // ECDSA P-521 public

// The algorithm a header's type word names: "RSA", "ECDSA", "unknown type 0x..." .
std::string CngTypeName(std::uint32_t type);

// One property record: {u32 record length, u32 type, u32 unknown, u32 name length, u32 value
// length, UTF-16LE name, value}.
struct CngProperty {
  std::size_t offset = 0;  // of the record, from the start of the file
  std::uint32_t type = 0;
  std::uint32_t unknown = 0;
  std::string name;  // UTF-8
  std::span<const std::uint8_t> value;
};

// What the BCRYPT public key blob says.
struct CngPublicKey {
  std::uint32_t magic = 0;            // RSA1, ECS1, ECS3, ECS5, ECK1
  std::string algorithm;              // "RSA", "ECDSA P-256", "ECDH P-256", ...
  std::uint32_t bits = 0;             // RSA modulus bits; EC curve size
  std::uint32_t public_exponent = 0;  // RSA, when it fits 32 bits
  std::string Describe() const;       // "RSA 2048 (e=65537)", "ECDSA P-256"
};

// How a private part is protected.
// kOpaque: none of these (kept as is; mkeys cannot decrypt a DPAPI blob either).
enum class CngProtection : std::uint8_t { kNone, kDpapi, kMkeysSealed, kOpaque };
std::string_view CngProtectionName(CngProtection p);  // "empty", "DPAPI", "mkeys-sealed", "opaque"

// A parsed file; views point into the bytes given to the parser.
struct CngKeyFileView {
  std::uint32_t version = kCngKeyFileVersion;
  std::uint32_t type = 0;
  std::string name;  // the key name, UTF-8
  std::vector<CngProperty> public_properties;
  std::optional<std::uint64_t> modified;   // the "Modified" FILETIME
  std::optional<CngPublicKey> public_key;  // the property holding a BCRYPT public blob
  std::span<const std::uint8_t> private_properties;
  std::span<const std::uint8_t> private_key;
  CngProtection private_properties_protection = CngProtection::kNone;
  CngProtection private_key_protection = CngProtection::kNone;
  std::size_t trailing_bytes = 0;  // after the private key (kept, not an error)

  // "RSA 2048 (e=65537)" from the public blob, else the header's type ("ECDSA").
  std::string DescribeKey() const;
};

// Whether `bytes` start like a CNG key file (version 1, the zero word, an RSA/ECDSA type word,
// 16 zero bytes): cheap, used to tell CNG files from CAPI containers.
bool LooksLikeCngKeyFile(std::span<const std::uint8_t> bytes);

// Parses a CNG key file, checking every length against the file. kUnsupported "unknown format"
// for a version other than 1.
Result<CngKeyFileView> ParseCngKeyFile(std::span<const std::uint8_t> bytes);

// Parses a BCRYPT public blob (BCRYPT_RSAKEY_BLOB, BCRYPT_ECCKEY_BLOB). Errors carry the offset
// within the blob.
Result<CngPublicKey> ParseBcryptPublicBlob(std::span<const std::uint8_t> blob);

// The 32 lower-case hex digits of a CNG key name (UTF-8; lower-cased ASCII A-Z, then UTF-16LE
// with its terminator, MD5, four LE DWORDs).
std::string CngKeyHash(std::string_view key_name);
// "<CngKeyHash>_<machine_guid>".
std::string CngKeyFileName(std::string_view key_name, std::string_view machine_guid);

// Whether `name` is already a unique key file name: <32 hex>_<GUID>, optionally followed by
// "_<32 hex>" (AppContainer keys). Certificates name their keys this way; such names are used
// as file names, never hashed again.
bool IsUniqueKeyFileName(std::string_view name);

// ---- writing (model machines, tests) -----------------------------------------------------

struct CngKeyFileSpec {
  std::string name;  // UTF-8
  std::uint32_t type = kCngTypeRsa;
  std::uint64_t modified = 0;             // FILETIME
  std::vector<std::uint8_t> public_blob;  // BCRYPT blob
  std::vector<std::uint8_t> private_properties;
  std::vector<std::uint8_t> private_key;
};
// The file in the documented layout: header, name, the "Modified" and public-blob property
// records, the private parts.
std::vector<std::uint8_t> BuildCngKeyFile(const CngKeyFileSpec& spec);
// One property record.
std::vector<std::uint8_t> BuildCngProperty(std::uint32_t type, std::string_view name,
                                           std::span<const std::uint8_t> value);

}  // namespace mkeys::keystore
