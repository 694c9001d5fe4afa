// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin {
namespace {

Error CryptoError(std::string what) {
  const unsigned long code = ERR_get_error();
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    what += " (";
    what += buf;
    what += ")";
  }
  ERR_clear_error();
  return Error(ErrorCode::kCrypto, std::move(what));
}

using ossl::BioPtr;
using ossl::CipherCtxPtr;
using ossl::KdfCtxPtr;
using ossl::KdfPtr;
using ossl::PkeyCtxPtr;

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<SecretBytes> X25519Shared(EVP_PKEY* own, EVP_PKEY* peer) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) <= 0 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0 || len != 32) {
    return CryptoError("X25519 key agreement failed");
  }
  SecretBytes shared(len);
  if (EVP_PKEY_derive(ctx.get(), shared.MutableSecret().data(), &len) <= 0) {
    return CryptoError("X25519 key agreement failed");
  }
  return shared;
}

Result<SecretBytes> Hkdf(const SecretBytes& ikm, std::span<const std::uint8_t> salt,
                         std::string_view info) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) {
    return CryptoError("HKDF is not available");
  }
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.RevealSecret().data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(32);
  if (!ctx || EVP_KDF_derive(ctx.get(), out.MutableSecret().data(), out.size(), params) <= 0) {
    return CryptoError("HKDF-SHA256 failed");
  }
  return out;
}

Result<PkeyPtr> X25519FromRaw(std::span<const std::uint8_t, 32> raw) {
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, raw.data(), raw.size()));
  if (!key) {
    return CryptoError("not an X25519 public key");
  }
  return key;
}

constexpr std::string_view kWrapInfo = "mkeys-array-wrap-v1";

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return false;
  }
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

Result<X509Ptr> NewCert(EVP_PKEY* subject_key, std::string_view cn, long days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) {
    return CryptoError("cannot create a certificate");
  }
  std::uint8_t serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
    return CryptoError("no randomness for a serial number");
  }
  serial_bytes[0] &= 0x7f;
  BIGNUM* serial_bn = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(serial_bn, X509_get_serialNumber(cert.get()));
  BN_free(serial_bn);
  if (serial == nullptr) {
    return CryptoError("cannot set a serial number");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn_text(cn);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn_text.c_str()), -1, -1,
                                 0) != 1) {
    return CryptoError("cannot set the certificate subject");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return CryptoError("cannot set the certificate validity or key");
  }
  return cert;
}

}  // namespace

Digest Sha256(std::span<const std::uint8_t> data) {
  Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Digest Sha256(std::string_view data) {
  return Sha256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()),
                                              data.size()));
}

Digest HmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
       out.data(), &len);
  return out;
}

Result<Digest> SpkiPin(EVP_PKEY* key) {
  MKEYS_ASSIGN_OR_RETURN(auto der, PublicKeyToDer(key));
  return Sha256(der);
}

std::string FormatFingerprint(const Digest& pin) {
  return "sha256:" + HexEncode(pin);
}

Result<PkeyPtr> GenerateEcP256() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return CryptoError("EC P-256 key generation failed");
  }
  return key;
}

Result<PkeyPtr> GenerateRsa(int bits) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  if (!key) {
    return CryptoError("RSA key generation failed");
  }
  return key;
}

Result<SecretBytes> PrivateKeyToPkcs8(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return CryptoError("cannot encode the private key as PKCS#8");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  SecretBytes out(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data),
                                                static_cast<std::size_t>(len)));
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return out;
}

Result<PkeyPtr> PrivateKeyFromPkcs8(const SecretBytes& der) {
  const unsigned char* p = der.RevealSecret().data();
  PKCS8_PRIV_KEY_INFO* info = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
  if (info == nullptr) {
    return CryptoError("not a PKCS#8 private key");
  }
  PkeyPtr key(EVP_PKCS82PKEY(info));
  PKCS8_PRIV_KEY_INFO_free(info);
  if (!key || p != der.RevealSecret().data() + der.size()) {
    return CryptoError("not a PKCS#8 private key (trailing or unreadable data)");
  }
  return key;
}

Result<std::vector<std::uint8_t>> PublicKeyToDer(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  const int len = i2d_PUBKEY(key, &out);
  if (len <= 0) {
    return CryptoError("cannot encode the public key");
  }
  std::vector<std::uint8_t> der(out, out + len);
  OPENSSL_free(out);
  return der;
}

Result<PkeyPtr> PublicKeyFromDer(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != der.data() + der.size()) {
    return CryptoError("not a DER SubjectPublicKeyInfo");
  }
  return key;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return CryptoError("cannot encode the certificate");
  }
  return BioToString(bio.get());
}

Result<X509Ptr> CertFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return CryptoError("not a PEM certificate");
  }
  return cert;
}

Result<X509Ptr> MakeCaCertificate(EVP_PKEY* ca_key, std::string_view array_name) {
  MKEYS_ASSIGN_OR_RETURN(X509Ptr cert,
                         NewCert(ca_key, "mkeys array " + std::string(array_name), 3650));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      !AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(cert.get(), cert.get(), NID_key_usage,
                    "critical,digitalSignature,keyCertSign,cRLSign") ||
      !AddExtension(cert.get(), cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) {
    return CryptoError("cannot sign the array CA certificate");
  }
  return cert;
}

Result<X509Ptr> IssueMemberCertificate(EVP_PKEY* ca_key, X509* ca_cert, EVP_PKEY* member_key,
                                       std::string_view member_name, int days) {
  MKEYS_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(member_key, member_name, days));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1 ||
      !AddExtension(cert.get(), ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert.get(), ca_cert, NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(cert.get(), ca_cert, NID_ext_key_usage, "clientAuth") ||
      X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) {
    return CryptoError("cannot sign the member certificate");
  }
  return cert;
}

bool VerifyIssuedBy(X509* cert, X509* ca_cert) {
  EVP_PKEY* ca_key = X509_get0_pubkey(ca_cert);
  if (ca_key == nullptr || X509_verify(cert, ca_key) != 1) {
    ERR_clear_error();
    return false;
  }
  if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca_cert)) != 0) {
    return false;
  }
  time_t now = time(nullptr);
  return X509_cmp_time(X509_get0_notBefore(cert), &now) < 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &now) > 0;
}

Result<X25519Key> X25519Key::Generate() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  std::array<std::uint8_t, 32> pub{};
  std::size_t len = pub.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != 32) {
    return CryptoError("X25519 key generation failed");
  }
  return X25519Key(std::move(key), pub);
}

Result<X25519Key> X25519Key::FromPrivate(const SecretBytes& raw) {
  if (raw.size() != 32) return CryptoError("an X25519 private key is 32 bytes");
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw.RevealSecret().data(),
                                           raw.size()));
  std::array<std::uint8_t, 32> pub{};
  std::size_t len = pub.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != 32) {
    return CryptoError("not an X25519 private key");
  }
  return X25519Key(std::move(key), pub);
}

Result<SecretBytes> X25519Key::PrivateRaw() const {
  SecretBytes out(32);
  std::size_t len = out.size();
  if (EVP_PKEY_get_raw_private_key(key_.get(), out.MutableSecret().data(), &len) != 1 ||
      len != 32) {
    return CryptoError("cannot read an X25519 private key");
  }
  return out;
}

std::string WrapAad(std::string_view array_id, std::string_view member_name,
                    std::string_view container, std::uint32_t version) {
  std::string aad(kWrapInfo);
  // NUL separators: no field can run into the next (names never contain NUL; the wire
  // parser rejects control characters).
  for (std::string_view part : {std::string_view("array"), array_id, std::string_view("member"),
                                member_name, std::string_view("container"), container}) {
    aad.push_back('\0');
    aad.append(part);
  }
  aad.push_back('\0');
  aad.append("version");
  aad.push_back('\0');
  aad.append(std::to_string(version));
  return aad;
}

Result<WrappedSecret> WrapSecret(std::span<const std::uint8_t, 32> member_public,
                                 const SecretBytes& plaintext, std::string_view aad) {
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr peer, X25519FromRaw(member_public));
  MKEYS_ASSIGN_OR_RETURN(X25519Key eph, X25519Key::Generate());
  MKEYS_ASSIGN_OR_RETURN(SecretBytes shared, X25519Shared(eph.get(), peer.get()));
  WrappedSecret out;
  out.ephemeral_public = eph.public_key();
  std::array<std::uint8_t, 64> salt{};
  std::copy(out.ephemeral_public.begin(), out.ephemeral_public.end(), salt.begin());
  std::copy(member_public.begin(), member_public.end(), salt.begin() + 32);
  MKEYS_ASSIGN_OR_RETURN(SecretBytes key, Hkdf(shared, salt, kWrapInfo));
  if (RAND_bytes(out.nonce.data(), static_cast<int>(out.nonce.size())) != 1) {
    return CryptoError("no randomness for a nonce");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  out.ciphertext.resize(plaintext.size() + 16);
  int len = 0;
  int total = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.RevealSecret().data(),
                         out.nonce.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.ciphertext.data(), &len, plaintext.RevealSecret().data(),
                        static_cast<int>(plaintext.size())) != 1) {
    return CryptoError("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out.ciphertext.data() + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16,
                          out.ciphertext.data() + total + len) != 1) {
    return CryptoError("AES-256-GCM encryption failed");
  }
  return out;
}

Result<SecretBytes> UnwrapSecret(const X25519Key& member_key, const WrappedSecret& wrapped,
                                 std::string_view aad) {
  if (wrapped.ciphertext.size() < 16) {
    return Error(ErrorCode::kCrypto, "wrapped key is shorter than its authentication tag");
  }
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr eph, X25519FromRaw(wrapped.ephemeral_public));
  MKEYS_ASSIGN_OR_RETURN(SecretBytes shared, X25519Shared(member_key.get(), eph.get()));
  std::array<std::uint8_t, 64> salt{};
  std::copy(wrapped.ephemeral_public.begin(), wrapped.ephemeral_public.end(), salt.begin());
  std::copy(member_key.public_key().begin(), member_key.public_key().end(), salt.begin() + 32);
  MKEYS_ASSIGN_OR_RETURN(SecretBytes key, Hkdf(shared, salt, kWrapInfo));
  const std::size_t body = wrapped.ciphertext.size() - 16;
  SecretBytes plain(body);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::array<std::uint8_t, 16> tag{};
  std::copy(wrapped.ciphertext.end() - 16, wrapped.ciphertext.end(), tag.begin());
  const bool ok = ctx &&
                  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                                     key.RevealSecret().data(), wrapped.nonce.data()) == 1 &&
                  EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                                    reinterpret_cast<const unsigned char*>(aad.data()),
                                    static_cast<int>(aad.size())) == 1 &&
                  EVP_DecryptUpdate(ctx.get(), plain.MutableSecret().data(), &len,
                                    wrapped.ciphertext.data(), static_cast<int>(body)) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
                  EVP_DecryptFinal_ex(ctx.get(), plain.MutableSecret().data() + len, &len) == 1;
  ERR_clear_error();
  if (!ok) {
    return Error(ErrorCode::kCrypto,
                 "message authentication failed while unwrapping the array key: the wrapped key "
                 "was changed in transit or is meant for another array, member, container or "
                 "key version (hint: make sure the manager and this member name the same array, "
                 "then join again)");
  }
  return plain;
}

}  // namespace mkeys::arrayjoin
