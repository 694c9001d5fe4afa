// SPDX-License-Identifier: GPL-3.0-or-later
// The array's secrets as etcd holds them: AES-256-GCM under the array's registry key, with the
// array id and the secret's name as associated data.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/core/openssl.hpp"

namespace mkeys::arrayjoin {
namespace {

std::string SecretAad(std::string_view array_id, std::string_view name) {
  std::string aad = "mkeys-etcd-secret-v1";
  aad += '\0';
  aad += array_id;
  aad += '\0';
  aad += name;
  return aad;
}

}  // namespace

Result<std::string> SealSecret(const SecretBytes& key, std::string_view array_id,
                               std::string_view name, const SecretBytes& plaintext) {
  const std::string aad = SecretAad(array_id, name);
  std::string out(12 + plaintext.size() + 16, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, 12) != 1) return Error(ErrorCode::kCrypto, "no random bytes");
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  const auto pt = plaintext.RevealSecret();
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.RevealSecret().data(), o) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o + 12, &len, pt.data(), static_cast<int>(pt.size())) != 1) {
    return Error(ErrorCode::kCrypto, "cannot seal a secret for etcd").On(std::string(name));
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), o + 12 + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, o + 12 + pt.size()) != 1) {
    return Error(ErrorCode::kCrypto, "cannot seal a secret for etcd").On(std::string(name));
  }
  return out;
}

Result<SecretBytes> OpenSealedSecret(const SecretBytes& key, std::string_view array_id,
                                     std::string_view name, std::string_view sealed) {
  if (sealed.size() < 28 || key.size() != 32) {
    return Error(ErrorCode::kCorrupt, "a sealed secret in etcd is too short").On(std::string(name));
  }
  const std::string aad = SecretAad(array_id, name);
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  const std::size_t n = sealed.size() - 28;
  SecretBytes out(n);
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto bad = [&] {
    return Error(ErrorCode::kCrypto,
                 "a sealed secret in etcd does not open with this manager's registry key "
                 "(message authentication failed: another array's key, or the value was changed)")
        .On(std::string(name));
  };
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.RevealSecret().data(), s) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.MutableSecret().data(), &len, s + 12, static_cast<int>(n)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16,
                          const_cast<unsigned char*>(s + 12 + n)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.MutableSecret().data() + len, &len) != 1) {
    return bad();
  }
  return out;
}

}  // namespace mkeys::arrayjoin
