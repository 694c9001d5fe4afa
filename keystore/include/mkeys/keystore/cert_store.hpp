// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The LocalMachine certificate stores in the SOFTWARE hive (docs/formats.md, "Certificate
// store"): HKLM\SOFTWARE\Microsoft\SystemCertificates\<store>\Certificates\<SHA-1> value Blob,
// a list of property records {u32 property id, u32 reserved (1), u32 length, data}: 32 the
// certificate (DER), 3 its SHA-1, 2 CERT_KEY_PROV_INFO (where its private key is). From a
// certificate to its key file: CAPI providers (RSA/DSS MachineKeys), the Microsoft Software Key
// Storage Provider (Crypto/Keys); keys in a TPM or on a smart card have no key file on disk.
// Decoders take untrusted bytes and give the offset of every problem (fuzz/cert_blob_fuzz.cpp).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/ace.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/keystore/keys.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/open_path.hpp"

namespace mkeys::keystore {

inline constexpr std::uint32_t kCertPropKeyProvInfo = 2;    // CERT_KEY_PROV_INFO_PROP_ID
inline constexpr std::uint32_t kCertPropSha1 = 3;           // CERT_SHA1_HASH_PROP_ID
inline constexpr std::uint32_t kCertPropCertificate = 32;   // CERT_CERT_PROP_ID
inline constexpr std::uint32_t kCryptMachineKeyset = 0x20;  // CRYPT_MACHINE_KEYSET
inline constexpr std::string_view kCertStoreKey = "Microsoft\\SystemCertificates";

struct CertProperty {
  std::uint32_t id = 0;
  std::size_t offset = 0;  // of the record in the blob
  std::span<const std::uint8_t> value;
};
// The property records of a Blob value.
Result<std::vector<CertProperty>> ParseCertBlob(std::span<const std::uint8_t> blob);
std::vector<std::uint8_t> EncodeCertBlob(
    const std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>>& properties);

// CRYPT_KEY_PROV_INFO as stored: seven u32 (offset of the container name, offset of the
// provider name, provider type, flags, parameter count, offset of the parameters, key spec),
// offsets from the start of the value; the strings UTF-16LE with a terminator.
struct KeyProvInfo {
  std::string container;  // CAPI container or CNG key name (or a unique file name)
  std::string provider;
  std::uint32_t provider_type = 0;  // 0: a CNG key storage provider
  std::uint32_t flags = kCryptMachineKeyset;
  std::uint32_t key_spec = 0;  // AT_KEYEXCHANGE 1, AT_SIGNATURE 2, 0 / 0xFFFFFFFF CNG
  bool cng() const { return provider_type == 0; }
};
Result<KeyProvInfo> ParseKeyProvInfo(std::span<const std::uint8_t> value);
std::vector<std::uint8_t> EncodeKeyProvInfo(const KeyProvInfo& info);

struct Certificate {
  std::string store = "MY";
  std::string thumbprint;  // SHA-1 of the DER, upper-case hex (the registry key name)
  std::string subject;     // "CN=shop.example.com"
  std::string not_after;   // "2027-01-31T12:00:00Z"
  std::vector<std::uint8_t> der;
  std::optional<KeyProvInfo> key;
  std::string problem;  // why the Blob or the certificate did not decode ("" when fine)
};

// The certificates of LocalMachine\<store> in the root's SOFTWARE hive (none when the root has
// no SOFTWARE hive or no such store). A malformed entry is listed with its `problem`.
Result<std::vector<Certificate>> ReadMachineCertificates(const MachineRoot& root,
                                                         std::string_view store = "MY");
// The certificate whose thumbprint is `thumbprint` (hex, any case, spaces ignored), or whose
// subject contains `subject_text` (ASCII case-insensitive; kInvalidArgument when several do).
Result<Certificate> FindCertificate(const MachineRoot& root, std::string_view thumbprint,
                                    std::string_view subject_text);

// Where a certificate's private key lives.
struct CertKeyLocation {
  bool on_disk = false;
  std::string provider;
  std::string reason;  // when not on disk: "TPM-backed key (...): no key file on disk"
  std::optional<OpenTarget> target;  // when on disk: what the open walks
};
Result<CertKeyLocation> LocateCertificateKey(const MachineRoot& root, const Certificate& cert);

// The identities an ACE of `sd` lets read (FILE_READ_DATA, GENERIC_READ or GENERIC_ALL allowed
// and not denied by an earlier ACE for the same SID): display names.
std::vector<std::string> ReadersOf(const acl::SecurityDescriptor& sd);

// Writes `der` (with `key` as its CERT_KEY_PROV_INFO) into LocalMachine\<store> of the SOFTWARE
// hive `software_hive` (created when missing, with the machine's MachineGuid). Returns the
// thumbprint.
Result<std::string> AddMachineCertificate(const std::filesystem::path& software_hive,
                                          std::string_view machine_guid,
                                          std::span<const std::uint8_t> der,
                                          const std::optional<KeyProvInfo>& key,
                                          std::string_view store = "MY");

// Removes from LocalMachine\<store> of the model machine in `root_dir` every certificate whose
// CERT_KEY_PROV_INFO names `container` (when the key is removed: an array member leaving).
// Returns how many were removed (0 when there is no SOFTWARE hive).
Result<std::size_t> RemoveMachineCertificatesOfKey(const std::filesystem::path& root_dir,
                                                   std::string_view container,
                                                   std::string_view store = "MY");

}  // namespace mkeys::keystore

// ---- importing into a model machine (`mkeys cert import`) ----------------------------------

namespace mkeys::keystore {

enum class CertKeyProvider : std::uint8_t { kCapi, kCng };

struct CertImportOptions {
  CertKeyProvider provider = CertKeyProvider::kCng;
  std::vector<acl::Ace> grants;  // extra ACEs on the key file, after SYSTEM and Administrators
  std::string key_name;          // default: a new GUID, as a PFX import names its keys
};
struct CertImportResult {
  std::string thumbprint;
  std::string subject;
  std::string key_name;
  std::string key_label;  // "Crypto/Keys/<file>", "MachineKeys/<file>"
  std::string provider;
};
// Imports the certificate and key of FILE.pfx|.p12|.pem into a model machine as Windows would:
// the key as a CAPI container in RSA/MachineKeys (--provider capi) or as a CNG key file in
// Crypto/Keys (--provider cng; the CNG header layout, the private key in mkeys' sealed format
// under the machine master key), created by SYSTEM; the certificate into LocalMachine\My of the
// SOFTWARE hive with its CERT_KEY_PROV_INFO.
Result<CertImportResult> ImportCertificate(MachineRoot& root, const std::filesystem::path& file,
                                           const SecretBytes& password,
                                           const CertImportOptions& options);

// What `store import` keeps: the certificate of FILE's private key (the one whose public key is
// the key's; CA certificates beside it are left out) written into LocalMachine\My of a model
// machine with a CERT_KEY_PROV_INFO naming CAPI container `container` in `slot` (AT_KEYEXCHANGE
// or AT_SIGNATURE). Returns the thumbprint, or nullopt when the file holds no certificate for
// its key. Call after the container was created from the same file.
Result<std::optional<std::string>> AddContainerCertificate(MachineRoot& root,
                                                           const std::filesystem::path& file,
                                                           const SecretBytes& password,
                                                           std::string_view container,
                                                           KeySlot slot);

// The BCRYPT public blob of `key`: BCRYPT_RSAKEY_BLOB (RSA1) or BCRYPT_ECCKEY_BLOB (ECS1).
std::vector<std::uint8_t> BcryptPublicBlob(const PrivateKey& key);

}  // namespace mkeys::keystore
