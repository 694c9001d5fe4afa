// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Key container files: Windows CAPI files (header, name, RSA1 public keys, DPAPI private blobs
// kept as they are) and mkeys' own files (same layout, private keys sealed with AES-256-GCM
// under the machine master key). Format: docs/formats.md and docs/container-format.md.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"
#include "mkeys/keystore/keys.hpp"

namespace mkeys::keystore {

inline constexpr std::uint32_t kCapiContainerVersion = 2;
// mkeys' files: the version word is "MKC1" so no CAPI reader mistakes them for DPAPI files.
inline constexpr std::uint32_t kMkeysContainerVersion = 0x31434B4D;  // "MKC1"
inline constexpr std::size_t kContainerHeaderSize = 40;

// The DPAPI provider GUID df9d8cd0-1501-11d1-8c7a-00c04fc297eb as it starts a DPAPI blob
// (after its 4-byte version).
inline constexpr std::array<std::uint8_t, 16> kDpapiProviderGuid = {
    0xd0, 0x8c, 0x9d, 0xdf, 0x01, 0x15, 0xd1, 0x11, 0x8c, 0x7a, 0x00, 0xc0, 0x4f, 0xc2, 0x97, 0xeb};

enum class ContainerFormat : std::uint8_t { kCapi, kMkeys };
std::string_view ContainerFormatName(ContainerFormat format);  // "capi", "mkeys"

struct ContainerFileView;

// One key slot of a container as stored.
struct KeyPairRecord {
  std::vector<std::uint8_t> public_blob;   // RSA1 / ECS1 / ECK1 / SYM1
  std::vector<std::uint8_t> private_blob;  // CAPI: DPAPI blob; mkeys: SealedPrivateKey
  std::vector<std::uint8_t> export_flag;   // CAPI: DPAPI blob; mkeys: empty
  PublicKeyInfo info;                      // parsed from public_blob (empty blob: no info)
};

struct ContainerFile {
  ContainerFormat format = ContainerFormat::kMkeys;
  std::uint32_t version = kMkeysContainerVersion;
  std::uint32_t flags = 0;
  std::string name;                // the container name, as stored (no NUL)
  std::vector<std::uint8_t> hash;  // CAPI: usually 20 zero bytes
  std::optional<KeyPairRecord> signature;
  std::optional<KeyPairRecord> exchange;

  // Parses a container file. Every length is checked against the size of `bytes`; errors are
  // kParse / kCorrupt with the offset ("signature public key length 4096 at offset 12 runs past
  // the end of the 300-byte file").
  static Result<ContainerFile> Parse(std::span<const std::uint8_t> bytes);
  // The fields of a parsed view, copied (no second parse).
  static ContainerFile FromView(const ContainerFileView& view);
  std::vector<std::uint8_t> Serialize() const;

  // "exchange RSA 2048 (e=65537), signature EC P-256".
  std::string DescribeKeys() const;
};

// A container file's fields as views into the bytes it was parsed from (valid while they are):
// ContainerFile::Parse's checks and errors without copying a byte, for scans that look at
// every file of a store.
struct KeyPairView {
  std::span<const std::uint8_t> public_blob;
  std::span<const std::uint8_t> private_blob;
  std::span<const std::uint8_t> export_flag;
  PublicKeyInfo info;  // parsed from public_blob (empty blob: no info)
};
struct ContainerFileView {
  ContainerFormat format = ContainerFormat::kMkeys;
  std::uint32_t version = kMkeysContainerVersion;
  std::uint32_t flags = 0;
  std::string_view name;  // as stored (no NUL)
  std::span<const std::uint8_t> hash;
  std::optional<KeyPairView> signature;
  std::optional<KeyPairView> exchange;

  // Accepts exactly what ContainerFile::Parse accepts, with the same errors and offsets.
  static Result<ContainerFileView> Parse(std::span<const std::uint8_t> bytes);
  // As ContainerFile::DescribeKeys.
  std::string DescribeKeys() const;
};

// mkeys' private parts: "MKP1" | kind (1 = PKCS#8, 2 = raw symmetric key) | 12-byte nonce |
// AES-256-GCM ciphertext | 16-byte tag; associated data = the first 8 bytes + the container's
// unique name (its file name).
enum class SealedKind : std::uint32_t { kPkcs8 = 1, kSymmetric = 2 };
Result<std::vector<std::uint8_t>> SealPrivatePart(const SecretBytes& master_key,
                                                  std::string_view unique_name, SealedKind kind,
                                                  const SecretBytes& plaintext);
struct UnsealedPart {
  SealedKind kind;
  SecretBytes plaintext;
};
// Fails with kCrypto when the tag does not verify (wrong key, wrong name, tampered bytes).
Result<UnsealedPart> UnsealPrivatePart(const SecretBytes& master_key, std::string_view unique_name,
                                       std::span<const std::uint8_t> sealed);

// Builds a byte-realistic Windows CAPI container file for tests and benchmarks: version 2,
// the name, 20-byte zero hash, RSA1 public blobs of the given keys, and opaque DPAPI-like
// private/export-flag blobs (DPAPI version 1 + provider GUID + random body). Either key may be
// null; EC keys are rejected (CAPI containers hold RSA only).
Result<std::vector<std::uint8_t>> MakeCapiContainerFile(std::string_view name,
                                                        const PrivateKey* signature_key,
                                                        const PrivateKey* exchange_key);
// The same without OpenSSL key generation (fast, for a million files): a synthetic RSA1 blob of
// `bits` with a random odd modulus.
std::vector<std::uint8_t> MakeSyntheticCapiContainerFile(std::string_view name,
                                                         std::uint32_t exchange_bits,
                                                         std::uint32_t signature_bits = 0);

}  // namespace mkeys::keystore
