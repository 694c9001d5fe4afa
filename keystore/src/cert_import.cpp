// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys cert import`: a certificate and its key into a model machine, where Windows keeps them.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <chrono>

#include <fmt/format.h>

#include "mkeys/core/files.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/openssl.hpp"
#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/cng_key_file.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_policy.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

constexpr std::string_view kCapiRsaAesProvider =
    "Microsoft Enhanced RSA and AES Cryptographic Provider";
constexpr std::uint32_t kProvRsaAes = 24;  // PROV_RSA_AES
constexpr std::uint32_t kAtKeyExchange = 1;
constexpr std::uint32_t kAtSignature = 2;

std::uint64_t FileTimeNow() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  const auto ticks =
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count() / 100;
  return static_cast<std::uint64_t>(ticks) + 116444736000000000ULL;  // 1601 -> 1970 in 100 ns
}

// "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}"-shaped random name, as a PFX import names keys.
std::string NewKeyName() {
  const std::string h = files::RandomHex(16);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

// The certificate among `ders` whose public key is `key`'s.
Result<std::vector<std::uint8_t>> CertificateFor(const PrivateKey& key,
                                                 const std::vector<std::vector<std::uint8_t>>& ders,
                                                 const fs::path& file) {
  const auto spki = key.PublicKeyDer();
  for (const auto& der : ders) {
    const unsigned char* p = der.data();
    ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!x509) continue;
    unsigned char* out = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509.get()), &out);
    const bool same = len > 0 && std::vector<std::uint8_t>(out, out + len) == spki;
    OPENSSL_free(out);
    if (same) return der;
  }
  return Error(ErrorCode::kInvalidArgument,
               "the file holds no certificate for its private key (a PFX export without the "
               "certificate?)")
      .On(file.string());
}

Result<acl::SecurityDescriptor> KeyDescriptor(const MachineRoot& root,
                                              const std::vector<acl::Ace>& grants) {
  MKEYS_ASSIGN_OR_RETURN(const acl::Token system, root.TokenFor("SYSTEM"));
  return CspContainerDescriptor(system, grants);
}

Result<std::string> WriteCngKey(MachineRoot& root, const PrivateKey& key, const std::string& name,
                                const std::vector<acl::Ace>& grants) {
  MKEYS_ASSIGN_OR_RETURN(const fs::path dir, EnsureKeyDirectory(root, KeyDirectory::kCngKeys));
  const std::string file_name = CngKeyFileName(name, root.machine_guid());
  const fs::path path = dir / file_name;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    return Error(ErrorCode::kExists, "a CNG key of that name exists")
        .On(KeyFileLabelIn(KeyDirectory::kCngKeys, file_name));
  }
  MKEYS_ASSIGN_OR_RETURN(const SecretBytes master, root.ReadMasterKey());
  MKEYS_ASSIGN_OR_RETURN(const SecretBytes pkcs8, key.ToPkcs8());
  CngKeyFileSpec spec;
  spec.name = name;
  spec.type = key.spec().algorithm == KeyAlgorithm::kRsa ? kCngTypeRsa : kCngTypeEcdsa;
  spec.modified = FileTimeNow();
  spec.public_blob = BcryptPublicBlob(key);
  MKEYS_ASSIGN_OR_RETURN(spec.private_key,
                         SealPrivatePart(master, file_name, SealedKind::kPkcs8, pkcs8));
  MKEYS_TRY(files::WriteFileAtomic(path, BuildCngKeyFile(spec), 0600));
  MKEYS_ASSIGN_OR_RETURN(const auto sd, KeyDescriptor(root, grants));
  MKEYS_TRY(root.writable_security().Write(path, sd));
  return KeyFileLabelIn(KeyDirectory::kCngKeys, file_name);
}

}  // namespace

Result<std::optional<std::string>> AddContainerCertificate(MachineRoot& root, const fs::path& file,
                                                           const SecretBytes& password,
                                                           std::string_view container,
                                                           KeySlot slot) {
  if (root.kind() != RootKind::kModel) {
    return Error(ErrorCode::kUnsupported,
                 "certificates are written into the SOFTWARE hive of model machines only")
        .On(root.root().string());
  }
  MKEYS_ASSIGN_OR_RETURN(ImportedKey imported, ImportKeyFile(file, password));
  if (imported.certificates_der.empty()) return std::optional<std::string>();
  auto der = CertificateFor(imported.key, imported.certificates_der, file);
  if (!der) return std::optional<std::string>();  // only CA certificates: none is the key's
  KeyProvInfo info;
  info.container = std::string(container);
  info.provider = std::string(kCapiRsaAesProvider);
  info.provider_type = kProvRsaAes;
  info.flags = kCryptMachineKeyset;
  info.key_spec = slot == KeySlot::kSignature ? kAtSignature : kAtKeyExchange;
  const auto hive = FindHiveFile(root.root(), HiveKind::kSoftware)
                        .value_or(root.root() / HiveRelativePath(HiveKind::kSoftware));
  MKEYS_ASSIGN_OR_RETURN(auto thumbprint,
                         AddMachineCertificate(hive, root.machine_guid(), *der, info));
  return std::optional<std::string>(std::move(thumbprint));
}

std::vector<std::uint8_t> BcryptPublicBlob(const PrivateKey& key) {
  if (key.spec().algorithm != KeyAlgorithm::kRsa) return key.PublicBlob(KeySlot::kSignature);
  BIGNUM* n_raw = nullptr;
  BIGNUM* e_raw = nullptr;
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n_raw);
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e_raw);
  ossl::BnPtr n(n_raw), e(e_raw);
  const auto n_len = static_cast<std::uint32_t>(n ? BN_num_bytes(n.get()) : 0);
  const auto e_len = static_cast<std::uint32_t>(e ? BN_num_bytes(e.get()) : 0);
  std::vector<std::uint8_t> out;
  le::Put32(out, kMagicRsa1);
  le::Put32(out, static_cast<std::uint32_t>(n ? BN_num_bits(n.get()) : 0));
  le::Put32(out, e_len);
  le::Put32(out, n_len);
  le::Put32(out, 0);  // no primes in a public blob
  le::Put32(out, 0);
  const std::size_t at = out.size();
  out.resize(at + e_len + n_len);
  if (e) BN_bn2bin(e.get(), out.data() + at);  // big-endian, as BCRYPT blobs are
  if (n) BN_bn2bin(n.get(), out.data() + at + e_len);
  return out;
}

Result<CertImportResult> ImportCertificate(MachineRoot& root, const fs::path& file,
                                           const SecretBytes& password,
                                           const CertImportOptions& options) {
  if (root.kind() != RootKind::kModel) {
    return Error(ErrorCode::kUnsupported,
                 "cert import writes keys in mkeys' own protected format: model machines only")
        .On(root.root().string());
  }
  MKEYS_ASSIGN_OR_RETURN(ImportedKey imported, ImportKeyFile(file, password));
  MKEYS_ASSIGN_OR_RETURN(const auto der,
                         CertificateFor(imported.key, imported.certificates_der, file));
  CertImportResult result;
  result.key_name = options.key_name.empty() ? NewKeyName() : options.key_name;
  KeyProvInfo info;
  info.container = result.key_name;
  info.flags = kCryptMachineKeyset;
  if (options.provider == CertKeyProvider::kCng) {
    MKEYS_ASSIGN_OR_RETURN(result.key_label,
                           WriteCngKey(root, imported.key, result.key_name, options.grants));
    info.provider = std::string(kSoftwareKspName);
    info.provider_type = 0;
    info.key_spec = 0;
  } else {
    MKEYS_ASSIGN_OR_RETURN(const acl::Token system, root.TokenFor("SYSTEM"));
    CreateOptions create;
    create.grants = options.grants;
    KeyMaterial material;
    material.exchange = std::move(imported.key);
    create.material = std::move(material);
    MKEYS_ASSIGN_OR_RETURN(const auto created,
                           KeyStore(root).Create(result.key_name, system, create));
    result.key_label = MachineRoot::KeyFileLabel(created.file_name);
    info.provider = std::string(kCapiRsaAesProvider);
    info.provider_type = kProvRsaAes;
    info.key_spec = kAtKeyExchange;
  }
  result.provider = info.provider;
  const auto hive = FindHiveFile(root.root(), HiveKind::kSoftware)
                        .value_or(root.root() / HiveRelativePath(HiveKind::kSoftware));
  MKEYS_ASSIGN_OR_RETURN(result.thumbprint,
                         AddMachineCertificate(hive, root.machine_guid(), der, info));
  MKEYS_ASSIGN_OR_RETURN(const Certificate cert, FindCertificate(root, result.thumbprint, ""));
  result.subject = cert.subject;
  return result;
}

}  // namespace mkeys::keystore
