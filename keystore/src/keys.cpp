// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstring>

#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/openssl.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::keystore {
namespace {

using ossl::BioPtr;

// The OpenSSL error queue as text (never contains key material), and clears it.
std::string OpenSslErrors() {
  std::string out;
  unsigned long err = 0;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

Error CryptoError(std::string_view what) {
  return Error(ErrorCode::kCrypto, fmt::format("{}: {}", what, OpenSslErrors()));
}

Result<KeySpec> SpecOf(EVP_PKEY* pkey) {
  const int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_RSA) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 512 || bits > 16384) {
      return Error(ErrorCode::kUnsupported, fmt::format("RSA key of {} bits", bits));
    }
    return KeySpec{KeyAlgorithm::kRsa, static_cast<std::uint32_t>(bits)};
  }
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      return CryptoError("cannot read the EC group");
    }
    const std::string_view name(group, len);
    if (name != "prime256v1" && name != "P-256") {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("EC curve {} (mkeys supports P-256 only)", name));
    }
    return KeySpec{KeyAlgorithm::kEcP256, 256};
  }
  return Error(ErrorCode::kUnsupported, "key type other than RSA or EC P-256");
}

// The password as a NUL-terminated buffer for OpenSSL; wiped on destruction.
class CPassword {
 public:
  explicit CPassword(const SecretBytes& secret) {
    const auto bytes = secret.RevealSecret();
    buf_.assign(bytes.begin(), bytes.end());
    buf_.push_back('\0');
  }
  ~CPassword() { OPENSSL_cleanse(buf_.data(), buf_.size()); }
  CPassword(const CPassword&) = delete;
  CPassword& operator=(const CPassword&) = delete;
  char* c_str() { return buf_.data(); }
  int size() const { return static_cast<int>(buf_.size() - 1); }

 private:
  std::vector<char> buf_;
};

}  // namespace

Result<KeySpec> KeySpec::Parse(std::string_view text) {
  const std::string t = mkeys::text::ToLowerAscii(text);
  if (t == "rsa:2048" || t == "rsa") return KeySpec{KeyAlgorithm::kRsa, 2048};
  if (t == "rsa:3072") return KeySpec{KeyAlgorithm::kRsa, 3072};
  if (t == "ec:p256" || t == "ec:p-256" || t == "ec") return KeySpec{KeyAlgorithm::kEcP256, 256};
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown key spec '{}' (use rsa:2048, rsa:3072 or ec:p256)", text));
}

std::string KeySpec::ToString() const {
  switch (algorithm) {
    case KeyAlgorithm::kRsa:
      return fmt::format("rsa:{}", bits);
    case KeyAlgorithm::kEcP256:
      return "ec:p256";
    case KeyAlgorithm::kSymmetric:
      return fmt::format("aes:{}", bits);
  }
  return "unknown";
}

std::string_view KeySlotName(KeySlot slot) {
  return slot == KeySlot::kExchange ? "exchange" : "signature";
}

std::string PublicKeyInfo::Describe() const {
  switch (algorithm) {
    case KeyAlgorithm::kRsa:
      return fmt::format("RSA {} (e={})", bits, public_exponent);
    case KeyAlgorithm::kEcP256:
      return "EC P-256";
    case KeyAlgorithm::kSymmetric:
      return fmt::format("symmetric {}", bits);
  }
  return "unknown";
}

Result<PublicKeyInfo> ParsePublicBlob(std::span<const std::uint8_t> blob) {
  if (blob.size() < 8) {
    return Error(ErrorCode::kParse,
                 fmt::format("public key blob of {} bytes is shorter than 8", blob.size()))
        .At(blob.size());
  }
  const std::uint32_t magic = le::Read32(blob, 0);
  PublicKeyInfo info;
  if (magic == kMagicRsa1) {
    if (blob.size() < 20) {
      return Error(ErrorCode::kParse, "RSA1 blob ends inside its 20-byte header").At(blob.size());
    }
    const std::uint32_t len = le::Read32(blob, 4);
    const std::uint32_t bits = le::Read32(blob, 8);
    if (len > blob.size() - 20) {
      return Error(
                 ErrorCode::kParse,
                 fmt::format("RSA1 modulus length {} runs past the {}-byte blob", len, blob.size()))
          .At(4);
    }
    if (bits == 0 || bits % 8 != 0 || bits / 8 > len) {
      return Error(ErrorCode::kParse,
                   fmt::format("RSA1 bit length {} does not fit its {}-byte modulus", bits, len))
          .At(8);
    }
    info.algorithm = KeyAlgorithm::kRsa;
    info.bits = bits;
    info.public_exponent = le::Read32(blob, 16);
    return info;
  }
  if (magic == kMagicEcs1 || magic == kMagicEck1) {
    const std::uint32_t cb = le::Read32(blob, 4);
    if (cb != 32) {
      return Error(ErrorCode::kParse, fmt::format("EC blob coordinate size {} (P-256 has 32)", cb))
          .At(4);
    }
    if (blob.size() < 8 + 2 * 32) {
      return Error(ErrorCode::kParse, "EC blob ends inside its coordinates").At(blob.size());
    }
    info.algorithm = KeyAlgorithm::kEcP256;
    info.bits = 256;
    return info;
  }
  if (magic == kMagicSym1) {
    info.algorithm = KeyAlgorithm::kSymmetric;
    info.bits = le::Read32(blob, 4);
    if (info.bits == 0 || info.bits > 4096 || info.bits % 8 != 0) {
      return Error(ErrorCode::kParse, fmt::format("SYM1 key length {} bits", info.bits)).At(4);
    }
    return info;
  }
  return Error(ErrorCode::kParse, fmt::format("unknown public key magic 0x{:08x}", magic)).At(0);
}

void PrivateKey::Free::operator()(EVP_PKEY* p) const {
  EVP_PKEY_free(p);
}

PrivateKey::PrivateKey(std::unique_ptr<EVP_PKEY, Free> pkey, KeySpec spec)
    : pkey_(std::move(pkey)), spec_(spec) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::Generate(const KeySpec& spec) {
  EVP_PKEY* pkey = nullptr;
  if (spec.algorithm == KeyAlgorithm::kRsa) {
    if (spec.bits != 2048 && spec.bits != 3072) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("RSA {} bits (use 2048 or 3072)", spec.bits));
    }
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(spec.bits));
  } else if (spec.algorithm == KeyAlgorithm::kEcP256) {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else {
    return Error(ErrorCode::kInvalidArgument, "a symmetric key is not a key pair");
  }
  if (pkey == nullptr) return CryptoError("key generation failed");
  return Adopt(pkey);
}

Result<PrivateKey> PrivateKey::Adopt(EVP_PKEY* pkey) {
  std::unique_ptr<EVP_PKEY, Free> owned(pkey);
  if (!owned) return Error(ErrorCode::kInvalidArgument, "no key");
  MKEYS_ASSIGN_OR_RETURN(const KeySpec spec, SpecOf(owned.get()));
  return PrivateKey(std::move(owned), spec);
}

Result<PrivateKey> PrivateKey::FromPkcs8(const SecretBytes& der) {
  const auto bytes = der.RevealSecret();
  const unsigned char* p = bytes.data();
  ossl::P8InfoPtr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(bytes.size())));
  if (!p8) return CryptoError("not a PKCS#8 PrivateKeyInfo");
  if (p != bytes.data() + bytes.size()) {
    return Error(ErrorCode::kParse, "trailing bytes after the PKCS#8 structure")
        .At(static_cast<std::size_t>(p - bytes.data()));
  }
  EVP_PKEY* pkey = EVP_PKCS82PKEY(p8.get());
  if (pkey == nullptr) return CryptoError("cannot load the PKCS#8 key");
  return Adopt(pkey);
}

Result<SecretBytes> PrivateKey::ToPkcs8() const {
  ossl::P8InfoPtr p8(EVP_PKEY2PKCS8(pkey_.get()));
  if (!p8) return CryptoError("cannot encode PKCS#8");
  unsigned char* der = nullptr;
  const int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  if (len <= 0) return CryptoError("cannot encode PKCS#8");
  SecretBytes out(std::span<const std::uint8_t>(der, static_cast<std::size_t>(len)));
  OPENSSL_clear_free(der, static_cast<std::size_t>(len));
  return out;
}

std::vector<std::uint8_t> PrivateKey::PublicBlob(KeySlot slot) const {
  std::vector<std::uint8_t> out;
  if (spec_.algorithm == KeyAlgorithm::kRsa) {
    BIGNUM* n_raw = nullptr;
    BIGNUM* e_raw = nullptr;
    EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, &n_raw);
    EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, &e_raw);
    ossl::BnPtr n(n_raw), e(e_raw);
    const std::uint32_t modulus_bytes = spec_.bits / 8;
    // As Windows writes it: the modulus buffer is 8 bytes longer than the modulus, zero padded.
    const std::uint32_t len = modulus_bytes + 8;
    le::Put32(out, kMagicRsa1);
    le::Put32(out, len);
    le::Put32(out, spec_.bits);
    le::Put32(out, modulus_bytes - 1);
    le::Put32(out, e ? static_cast<std::uint32_t>(BN_get_word(e.get())) : 0);
    const std::size_t at = out.size();
    out.resize(at + len, 0);
    if (n) BN_bn2lebinpad(n.get(), out.data() + at, static_cast<int>(modulus_bytes));
    return out;
  }
  // EC P-256: CNG's BCRYPT_ECCKEY_BLOB — magic, cbKey = 32, X and Y big-endian.
  unsigned char point[65] = {};
  std::size_t len = 0;
  EVP_PKEY_get_octet_string_param(pkey_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
  le::Put32(out, slot == KeySlot::kSignature ? kMagicEcs1 : kMagicEck1);
  le::Put32(out, 32);
  if (len == 65 && point[0] == 0x04) {
    out.insert(out.end(), point + 1, point + 65);
  } else {
    out.resize(out.size() + 64, 0);
  }
  return out;
}

std::vector<std::uint8_t> PrivateKey::PublicKeyDer() const {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(pkey_.get(), &der);
  if (len <= 0) return {};
  std::vector<std::uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::string PrivateKey::Fingerprint() const {
  const auto der = PublicKeyDer();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(der.data(), der.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode(std::span<const std::uint8_t>(digest, len));
}

bool PrivateKey::SamePublicKey(const PrivateKey& other) const {
  return EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
}

Result<ImportedKey> ImportKeyFile(const std::filesystem::path& file, const SecretBytes& password) {
  MKEYS_ASSIGN_OR_RETURN(auto bytes, files::ReadFile(file, 1u << 20));
  const std::string ext = text::ToLowerAscii(file.extension().string());
  CPassword pass(password);
  std::vector<std::vector<std::uint8_t>> certs;
  auto cert_der = [&](X509* x) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(x, &der);
    if (len > 0) certs.emplace_back(der, der + len);
    OPENSSL_free(der);
  };
  if (ext == ".p12" || ext == ".pfx") {
    const unsigned char* p = bytes.data();
    ossl::Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(bytes.size())));
    if (!p12) {
      return Error(ErrorCode::kParse, "not a PKCS#12 file: " + OpenSslErrors()).On(file.string());
    }
    EVP_PKEY* pkey = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    if (PKCS12_parse(p12.get(), pass.c_str(), &pkey, &cert, &ca) != 1) {
      return Error(ErrorCode::kCrypto,
                   "cannot open the PKCS#12 file (wrong password or damaged): " + OpenSslErrors())
          .On(file.string());
    }
    ossl::X509Ptr cert_owned(cert);
    ossl::X509StackPtr ca_owned(ca);
    if (pkey == nullptr)
      return Error(ErrorCode::kNotFound, "the PKCS#12 file holds no private key").On(file.string());
    if (cert) cert_der(cert);
    for (int i = 0; ca && i < sk_X509_num(ca); ++i) cert_der(sk_X509_value(ca, i));
    auto key = PrivateKey::Adopt(pkey);
    if (!key) return Error(key.error().code(), key.error().message()).On(file.string());
    return ImportedKey{std::move(key).value(), std::move(certs)};
  }
  if (ext == ".pem" || ext == ".key") {
    BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, pass.c_str());
    if (pkey == nullptr) {
      return Error(
                 ErrorCode::kParse,
                 "no readable private key in the PEM file (or wrong password): " + OpenSslErrors())
          .On(file.string());
    }
    BioPtr certs_bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    while (X509* x = PEM_read_bio_X509(certs_bio.get(), nullptr, nullptr, nullptr)) {
      ossl::X509Ptr owned(x);
      cert_der(x);
    }
    ERR_clear_error();
    auto key = PrivateKey::Adopt(pkey);
    if (!key) return Error(key.error().code(), key.error().message()).On(file.string());
    return ImportedKey{std::move(key).value(), std::move(certs)};
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown key file type '{}' (use .p12, .pfx or .pem)", ext))
      .On(file.string());
}

Result<void> ExportKeyFile(const std::filesystem::path& file, const PrivateKey& key,
                           const std::vector<std::vector<std::uint8_t>>& certificates_der,
                           const SecretBytes& password) {
  const std::string ext = text::ToLowerAscii(file.extension().string());
  CPassword pass(password);
  std::vector<ossl::X509Ptr> certs;
  for (const auto& der : certificates_der) {
    const unsigned char* p = der.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
    if (x == nullptr) return CryptoError("cannot decode a certificate");
    certs.emplace_back(x);
  }
  BioPtr mem(BIO_new(BIO_s_mem()));
  if (ext == ".p12" || ext == ".pfx") {
    ossl::X509StackPtr ca(sk_X509_new_null());
    for (std::size_t i = 1; i < certs.size(); ++i) {
      X509_up_ref(certs[i].get());
      sk_X509_push(ca.get(), certs[i].get());
    }
    // NID 0: OpenSSL 3's defaults, AES-256-CBC with PBKDF2 and a SHA-256 MAC.
    ossl::Pkcs12Ptr p12(PKCS12_create(pass.c_str(), nullptr, key.get(),
                                      certs.empty() ? nullptr : certs[0].get(), ca.get(), 0, 0, 0,
                                      0, 0));
    if (!p12) return CryptoError("cannot build the PKCS#12 file");
    if (i2d_PKCS12_bio(mem.get(), p12.get()) != 1) return CryptoError("cannot encode PKCS#12");
  } else if (ext == ".pem") {
    const EVP_CIPHER* cipher = password.empty() ? nullptr : EVP_aes_256_cbc();
    if (PEM_write_bio_PKCS8PrivateKey(mem.get(), key.get(), cipher,
                                      password.empty() ? nullptr : pass.c_str(),
                                      password.empty() ? 0 : pass.size(), nullptr, nullptr) != 1) {
      return CryptoError("cannot encode the PEM key");
    }
    for (const auto& c : certs) PEM_write_bio_X509(mem.get(), c.get());
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("unknown key file type '{}' (use .p12 or .pem)", ext))
        .On(file.string());
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(mem.get(), &data);
  SecretBytes out(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data),
                                                static_cast<std::size_t>(len)));
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return files::WriteFileAtomic(file, out.RevealSecret(), 0600);
}

}  // namespace mkeys::keystore
