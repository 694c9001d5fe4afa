// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The cryptography of a join, on OpenSSL 3 (EVP): hashes, the manager's key pin, the token
// proof, the array CA and member certificates, and key wrapping to a member's fresh X25519 key
// (X25519 + HKDF-SHA256 + AES-256-GCM).

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/openssl.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

namespace mkeys::arrayjoin {

// Owning pointers: core's set (mkeys/core/openssl.hpp), under the names this library used.
using PkeyPtr = ossl::EvpPkeyPtr;
using X509Ptr = ossl::X509Ptr;

using Digest = std::array<std::uint8_t, 32>;

Digest Sha256(std::span<const std::uint8_t> data);
Digest Sha256(std::string_view data);
Digest HmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message);

// The pin of a public key: SHA-256 of its DER SubjectPublicKeyInfo.
Result<Digest> SpkiPin(EVP_PKEY* key);
// "sha256:" + hex, the form people compare.
std::string FormatFingerprint(const Digest& pin);

// Fresh keys.
Result<PkeyPtr> GenerateEcP256();
Result<PkeyPtr> GenerateRsa(int bits);

// Private keys as unencrypted PKCS#8 DER (kept in SecretBytes) and back.
Result<SecretBytes> PrivateKeyToPkcs8(EVP_PKEY* key);
Result<PkeyPtr> PrivateKeyFromPkcs8(const SecretBytes& der);
// Public keys as DER SubjectPublicKeyInfo and back.
Result<std::vector<std::uint8_t>> PublicKeyToDer(EVP_PKEY* key);
Result<PkeyPtr> PublicKeyFromDer(std::span<const std::uint8_t> der);

// Certificates as PEM and back.
Result<std::string> CertToPem(X509* cert);
Result<X509Ptr> CertFromPem(std::string_view pem);

// A self-signed CA certificate for the array (CN = "mkeys array <name>", 10 years), usable as the
// manager's TLS server certificate too (digitalSignature + keyCertSign).
Result<X509Ptr> MakeCaCertificate(EVP_PKEY* ca_key, std::string_view array_name);
// A member certificate (CN = member name, clientAuth, `days` valid) for `member_key`, signed by
// the CA.
Result<X509Ptr> IssueMemberCertificate(EVP_PKEY* ca_key, X509* ca_cert, EVP_PKEY* member_key,
                                       std::string_view member_name, int days);
// True if `cert` was signed by `ca_cert`'s key and is within its validity period.
bool VerifyIssuedBy(X509* cert, X509* ca_cert);

// A member's fresh X25519 key for one join.
class X25519Key final {
 public:
  static Result<X25519Key> Generate();
  // A key kept as its 32 raw private bytes (a manager's request key, kept in its store).
  static Result<X25519Key> FromPrivate(const SecretBytes& raw);
  Result<SecretBytes> PrivateRaw() const;
  const std::array<std::uint8_t, 32>& public_key() const { return public_key_; }
  EVP_PKEY* get() const { return key_.get(); }

 private:
  X25519Key(PkeyPtr key, std::array<std::uint8_t, 32> public_key)
      : key_(std::move(key)), public_key_(public_key) {}
  PkeyPtr key_;
  std::array<std::uint8_t, 32> public_key_;
};

// One secret wrapped to a member key.
struct WrappedSecret {
  std::array<std::uint8_t, 32> ephemeral_public{};  // the manager's X25519 key for this item
  std::array<std::uint8_t, 12> nonce{};
  std::vector<std::uint8_t> ciphertext;  // AES-256-GCM output followed by the 16-byte tag
};

// Wraps `plaintext` to `member_public`: a fresh ephemeral X25519 key, the shared secret through
// HKDF-SHA256 (salt = ephemeral || member public key, info = "mkeys-array-wrap-v1"), then
// AES-256-GCM with `aad` as associated data.
Result<WrappedSecret> WrapSecret(std::span<const std::uint8_t, 32> member_public,
                                 const SecretBytes& plaintext, std::string_view aad);
// The reverse. A wrong key or any changed byte or AAD fails with kCrypto.
Result<SecretBytes> UnwrapSecret(const X25519Key& member_key, const WrappedSecret& wrapped,
                                 std::string_view aad);

// The associated data of a wrapped item: it names everything the item is for, so a wrapped
// item cannot be moved to another array, member, container or version.
std::string WrapAad(std::string_view array_id, std::string_view member_name,
                    std::string_view container, std::uint32_t version);

}  // namespace mkeys::arrayjoin
