// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Key material through OpenSSL 3 (EVP): RSA 2048/3072 and EC P-256, the CAPI public key blobs,
// PKCS#8 for storage, and .p12/.pem import and export.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

using EVP_PKEY = struct evp_pkey_st;

namespace mkeys::keystore {

enum class KeyAlgorithm : std::uint8_t { kRsa, kEcP256, kSymmetric };

// "rsa:2048", "rsa:3072", "ec:p256" (what `--key` takes).
struct KeySpec {
  KeyAlgorithm algorithm = KeyAlgorithm::kRsa;
  std::uint32_t bits = 2048;
  static Result<KeySpec> Parse(std::string_view text);
  std::string ToString() const;  // "rsa:2048", "ec:p256", "aes:256"
  friend bool operator==(const KeySpec&, const KeySpec&) = default;
};

// CAPI's two key slots of a container (AT_KEYEXCHANGE = 1, AT_SIGNATURE = 2).
enum class KeySlot : std::uint8_t { kExchange = 1, kSignature = 2 };
std::string_view KeySlotName(KeySlot slot);  // "exchange", "signature"

// Public-key blob magics. RSA1 is CAPI's RSAPUBKEY (as stored in container files); ECS1/ECK1 are
// CNG's BCRYPT_ECCKEY_BLOB magics for P-256 ECDSA/ECDH, which mkeys uses for EC keys (CAPI has
// none); SYM1 is mkeys' marker for a symmetric key (docs/container-format.md).
inline constexpr std::uint32_t kMagicRsa1 = 0x31415352;  // "RSA1"
inline constexpr std::uint32_t kMagicEcs1 = 0x31534345;  // "ECS1"
inline constexpr std::uint32_t kMagicEck1 = 0x314B4345;  // "ECK1"
inline constexpr std::uint32_t kMagicSym1 = 0x314D5953;  // "SYM1"

// What a public blob says (parsed without OpenSSL).
struct PublicKeyInfo {
  KeyAlgorithm algorithm = KeyAlgorithm::kRsa;
  std::uint32_t bits = 0;
  std::uint32_t public_exponent = 0;  // RSA only
  std::string Describe() const;       // "RSA 2048 (e=65537)", "EC P-256", "AES 256"
};
// Parses an RSA1 / ECS1 / ECK1 / SYM1 blob, checking every length. Errors carry the offset.
Result<PublicKeyInfo> ParsePublicBlob(std::span<const std::uint8_t> blob);

// An asymmetric private key (and its public half). Move-only.
class PrivateKey final {
 public:
  static Result<PrivateKey> Generate(const KeySpec& spec);
  // PKCS#8 PrivateKeyInfo DER (unencrypted; callers keep it in SecretBytes).
  static Result<PrivateKey> FromPkcs8(const SecretBytes& der);
  // Takes ownership of an EVP_PKEY (RSA or EC P-256 only).
  static Result<PrivateKey> Adopt(EVP_PKEY* pkey);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  KeySpec spec() const { return spec_; }
  Result<SecretBytes> ToPkcs8() const;
  // The blob a container stores in the public-key field of `slot`: RSA1 for RSA, ECS1/ECK1 for
  // EC (signature/exchange).
  std::vector<std::uint8_t> PublicBlob(KeySlot slot) const;
  // SubjectPublicKeyInfo DER, and its SHA-256 as lower-case hex.
  std::vector<std::uint8_t> PublicKeyDer() const;
  std::string Fingerprint() const;
  // True if both hold the same public key.
  bool SamePublicKey(const PrivateKey& other) const;
  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  struct Free {
    void operator()(EVP_PKEY* p) const;
  };
  PrivateKey(std::unique_ptr<EVP_PKEY, Free> pkey, KeySpec spec);
  std::unique_ptr<EVP_PKEY, Free> pkey_;
  KeySpec spec_;
};

// A key (and certificates) read from a .p12/.pfx or .pem file.
struct ImportedKey {
  PrivateKey key;
  std::vector<std::vector<std::uint8_t>> certificates_der;
};
// Reads FILE.p12|.pfx (with `password`, empty if none) or FILE.pem (PKCS#8 / traditional
// private key, unencrypted or with `password`; certificates beside it). The format is chosen by
// extension; errors name the file.
Result<ImportedKey> ImportKeyFile(const std::filesystem::path& file, const SecretBytes& password);
// Writes `key` (and certificates) to FILE.p12|.pem, mode 0600, atomically. A .p12 is protected
// with `password` (AES-256-CBC, PBKDF2); a .pem is PKCS#8, encrypted when `password` is not
// empty.
Result<void> ExportKeyFile(const std::filesystem::path& file, const PrivateKey& key,
                           const std::vector<std::vector<std::uint8_t>>& certificates_der,
                           const SecretBytes& password);

}  // namespace mkeys::keystore
