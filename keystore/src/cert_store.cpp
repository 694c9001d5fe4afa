// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/cert_store.hpp"

#include <openssl/asn1.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/openssl.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/hive_values.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"
#include "mkeys/keystore/machine_volume.hpp"
#include "policy/internal/hive_file.hpp"
#include "policy/internal/read_util.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

using Bytes = std::span<const std::uint8_t>;

// A NUL-terminated UTF-16LE string at `offset` of `value` ("" for offset 0).
Result<std::string> StringAt(Bytes value, std::uint32_t offset, std::size_t field) {
  if (offset == 0) return std::string();
  if (offset >= value.size()) {
    return Error(ErrorCode::kParse,
                 fmt::format("string offset {} (field at {}) lies past the {}-byte value", offset,
                             field, value.size()))
        .At(field);
  }
  std::size_t end = offset;
  while (end + 1 < value.size() && (value[end] != 0 || value[end + 1] != 0)) end += 2;
  if (end + 1 >= value.size()) {
    return Error(ErrorCode::kParse, "string has no terminator before the end of the value")
        .At(offset);
  }
  auto text = text::Utf16LeToUtf8(value.subspan(offset, end - offset));
  if (!text) return Error(ErrorCode::kParse, "string is not valid UTF-16LE").At(offset);
  return std::move(*text);
}

std::string UpperHex(Bytes bytes) {
  std::string out;
  for (auto b : bytes) out += fmt::format("{:02X}", b);
  return out;
}

std::string Sha1Hex(Bytes der) {
  std::uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1(der.data(), der.size(), digest);
  return UpperHex(Bytes(digest, sizeof digest));
}

// Subject and not-after of a DER certificate.
Result<void> DescribeDer(Certificate& cert) {
  const unsigned char* p = cert.der.data();
  ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(cert.der.size())));
  if (!x509) return Error(ErrorCode::kParse, "the certificate (property 32) is not DER X.509");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(x509.get()), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  cert.subject.assign(data, static_cast<std::size_t>(len));
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(x509.get()), &tm) == 1) {
    cert.not_after = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900,
                                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return Ok();
}

void DecodeEntry(Bytes blob, Certificate& cert) {
  auto props = ParseCertBlob(blob);
  if (!props) {
    cert.problem = props.error().ToString();
    return;
  }
  for (const auto& p : *props) {
    if (p.id == kCertPropCertificate) cert.der.assign(p.value.begin(), p.value.end());
    if (p.id == kCertPropKeyProvInfo) {
      auto info = ParseKeyProvInfo(p.value);
      if (!info) {
        cert.problem = fmt::format("CERT_KEY_PROV_INFO (record at offset {}): {}", p.offset,
                                   info.error().ToString());
        return;
      }
      cert.key = std::move(*info);
    }
  }
  if (cert.der.empty()) {
    cert.problem = "the Blob has no certificate (property 32)";
    return;
  }
  if (auto described = DescribeDer(cert); !described) cert.problem = described.error().message();
}

constexpr std::uint64_t kMaxHiveBytes = 1ull << 30;

// Windows/System32/config/SOFTWARE inside a disk image, each component matched without regard to
// case as NTFS does; nullopt when the image has none.
Result<std::optional<fs::path>> ImageSoftwareHive(const MachineRoot& root) {
  fs::path current = root.root();
  for (const auto& part : HiveRelativePath(HiveKind::kSoftware)) {
    const auto entries = root.volume().List(current);
    if (!entries) return std::optional<fs::path>();
    std::optional<fs::path> next;
    for (const auto& e : *entries) {
      if (text::EqualsIgnoreAsciiCase(e.name, part.string())) next = current / e.name;
    }
    if (!next) return std::optional<fs::path>();
    current = *next;
  }
  return std::optional<fs::path>(current);
}

bool Contains(std::string_view hay, std::string_view needle) {
  const std::string h = text::ToLowerAscii(hay);
  return h.find(text::ToLowerAscii(needle)) != std::string::npos;
}

}  // namespace

Result<std::vector<CertProperty>> ParseCertBlob(Bytes blob) {
  std::vector<CertProperty> out;
  std::size_t at = 0;
  while (at < blob.size()) {
    if (blob.size() - at < 12) {
      return Error(ErrorCode::kParse,
                   fmt::format("property record header needs 12 bytes; {} left", blob.size() - at))
          .At(at);
    }
    CertProperty p;
    p.offset = at;
    p.id = le::Read32(blob, at);
    const std::uint64_t len = le::Read32(blob, at + 8);
    if (len > blob.size() - at - 12) {
      return Error(ErrorCode::kParse,
                   fmt::format("property {} length {} runs past the {}-byte Blob", p.id, len,
                               blob.size()))
          .At(at + 8);
    }
    p.value = blob.subspan(at + 12, static_cast<std::size_t>(len));
    out.push_back(p);
    at += 12 + static_cast<std::size_t>(len);
  }
  return out;
}

std::vector<std::uint8_t> EncodeCertBlob(
    const std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>>& properties) {
  std::vector<std::uint8_t> out;
  for (const auto& [id, value] : properties) {
    le::Put32(out, id);
    le::Put32(out, 1);
    le::Put32(out, static_cast<std::uint32_t>(value.size()));
    le::Append(out, value);
  }
  return out;
}

Result<KeyProvInfo> ParseKeyProvInfo(Bytes value) {
  if (value.size() < 28) {
    return Error(ErrorCode::kParse,
                 fmt::format("CRYPT_KEY_PROV_INFO needs 28 bytes; the value has {}", value.size()))
        .At(value.size());
  }
  KeyProvInfo info;
  MKEYS_ASSIGN_OR_RETURN(info.container, StringAt(value, le::Read32(value, 0), 0));
  MKEYS_ASSIGN_OR_RETURN(info.provider, StringAt(value, le::Read32(value, 4), 4));
  info.provider_type = le::Read32(value, 8);
  info.flags = le::Read32(value, 12);
  info.key_spec = le::Read32(value, 24);
  return info;
}

std::vector<std::uint8_t> EncodeKeyProvInfo(const KeyProvInfo& info) {
  std::vector<std::uint8_t> container = text::Utf8ToUtf16Le(info.container);
  std::vector<std::uint8_t> provider = text::Utf8ToUtf16Le(info.provider);
  container.insert(container.end(), {0, 0});
  provider.insert(provider.end(), {0, 0});
  std::vector<std::uint8_t> out;
  le::Put32(out, 28);
  le::Put32(out, static_cast<std::uint32_t>(28 + container.size()));
  le::Put32(out, info.provider_type);
  le::Put32(out, info.flags);
  le::Put32(out, 0);  // no provider parameters
  le::Put32(out, 0);
  le::Put32(out, info.key_spec);
  le::Append(out, container);
  le::Append(out, provider);
  return out;
}

Result<std::vector<Certificate>> ReadMachineCertificates(const MachineRoot& root,
                                                         std::string_view store) {
  std::vector<Certificate> out;
  // A disk image: the hive copied whole out of the volume into private memory (read-only).
  PrivateFileCopy image_copy;
  std::optional<fs::path> file;
  if (root.is_image()) {
    MKEYS_ASSIGN_OR_RETURN(file, ImageSoftwareHive(root));
    if (!file) return out;
    MKEYS_ASSIGN_OR_RETURN(image_copy, CopyToPrivateFile(root.volume(), *file, kMaxHiveBytes));
    file = image_copy.path();
  } else {
    file = FindHiveFile(root.root(), HiveKind::kSoftware);
  }
  if (!file) return out;
  MKEYS_ASSIGN_OR_RETURN(
      auto hive, policy::HiveFile::Open(
                     *file, HiveKind::kSoftware,
                     root.is_image() ? policy::HiveMode::kRead : policy::HiveMode::kReadCopy));
  const std::string key = fmt::format("{}\\{}\\Certificates", kCertStoreKey, store);
  const auto node = hive.Find(key);
  if (!node) return out;
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(*node));
  for (const auto& [name, child] : children) {
    Certificate cert;
    cert.store = std::string(store);
    cert.thumbprint = text::ToLowerAscii(name);
    for (char& c : cert.thumbprint) c = static_cast<char>(std::toupper(c));
    MKEYS_ASSIGN_OR_RETURN(const auto blob, hive.Value(child, "Blob"));
    if (!blob) {
      cert.problem = "the key has no Blob value";
    } else {
      DecodeEntry(blob->data, cert);
    }
    out.push_back(std::move(cert));
  }
  return out;
}

Result<Certificate> FindCertificate(const MachineRoot& root, std::string_view thumbprint,
                                    std::string_view subject_text) {
  MKEYS_ASSIGN_OR_RETURN(auto certs, ReadMachineCertificates(root));
  std::string wanted;
  for (char c : thumbprint) {
    if (c != ' ' && c != ':')
      wanted += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  std::vector<Certificate*> found;
  for (auto& c : certs) {
    if (!wanted.empty() ? c.thumbprint == wanted
                        : (!subject_text.empty() && Contains(c.subject, subject_text))) {
      found.push_back(&c);
    }
  }
  const std::string what = wanted.empty() ? fmt::format("subject containing '{}'", subject_text)
                                          : fmt::format("thumbprint {}", wanted);
  if (found.empty()) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("no certificate with {} in LocalMachine\\My ({} certificate(s) in "
                             "the SOFTWARE hive)",
                             what, certs.size()));
  }
  if (found.size() > 1) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("{} certificates match the {}; give --cert THUMBPRINT", found.size(), what));
  }
  return std::move(*found.front());
}

Result<CertKeyLocation> LocateCertificateKey(const MachineRoot& root, const Certificate& cert) {
  CertKeyLocation loc;
  if (!cert.key) {
    loc.reason = "the certificate has no CERT_KEY_PROV_INFO: no private key is associated";
    return loc;
  }
  const KeyProvInfo& k = *cert.key;
  loc.provider = k.provider;
  if (k.cng()) {
    if (text::EqualsIgnoreAsciiCase(k.provider, kPlatformKspName)) {
      loc.reason = fmt::format("TPM-backed key ({}): the key lives in the TPM, no key file on disk",
                               k.provider);
      return loc;
    }
    if (text::EqualsIgnoreAsciiCase(k.provider, kSmartCardKspName)) {
      loc.reason = fmt::format(
          "smart-card key ({}): the key lives on the card, no key file on "
          "disk",
          k.provider);
      return loc;
    }
    if (!k.provider.empty() && !text::EqualsIgnoreAsciiCase(k.provider, kSoftwareKspName)) {
      loc.reason = fmt::format(
          "key storage provider '{}': not a software provider mkeys knows, "
          "no key file on disk it can name",
          k.provider);
      return loc;
    }
    MKEYS_ASSIGN_OR_RETURN(auto target, ResolveCngKey(root, k.container));
    loc.target = std::move(target);
    loc.on_disk = true;
    return loc;
  }
  if (Contains(k.provider, "smart card")) {
    loc.reason = fmt::format("smart-card key ({}): the key lives on the card, no key file on disk",
                             k.provider);
    return loc;
  }
  // PROV_DSS 3, PROV_DSS_DH 13, PROV_DH_SCHANNEL 18: DSS/MachineKeys.
  const bool dss = k.provider_type == 3 || k.provider_type == 13 || k.provider_type == 18;
  MKEYS_ASSIGN_OR_RETURN(auto target, ResolveCapiKey(root, k.container,
                                                     dss ? KeyDirectory::kDssMachineKeys
                                                         : KeyDirectory::kRsaMachineKeys));
  loc.target = std::move(target);
  loc.on_disk = true;
  return loc;
}

std::vector<std::string> ReadersOf(const acl::SecurityDescriptor& sd) {
  std::vector<std::string> out;
  if (!sd.dacl) return {"everyone (NULL DACL)"};
  namespace r = acl::rights;
  const acl::AccessMask read = r::kReadData | r::kGenericRead | r::kGenericAll;
  std::vector<std::string> denied;
  for (const auto& ace : sd.dacl->aces) {
    if (ace.IsInheritOnly()) continue;
    const std::string who = acl::DisplayName(ace.sid);
    if (ace.type == acl::AceType::kAccessDenied && (ace.mask & read) != 0) denied.push_back(who);
    if (ace.type != acl::AceType::kAccessAllowed || (ace.mask & read) == 0) continue;
    if (std::find(denied.begin(), denied.end(), who) != denied.end()) continue;
    if (std::find(out.begin(), out.end(), who) == out.end()) out.push_back(who);
  }
  return out;
}

Result<std::string> AddMachineCertificate(const fs::path& software_hive,
                                          std::string_view machine_guid, Bytes der,
                                          const std::optional<KeyProvInfo>& key,
                                          std::string_view store) {
  std::error_code ec;
  if (!fs::exists(software_hive, ec)) {
    fs::create_directories(software_hive.parent_path(), ec);
    MKEYS_TRY(WriteEmptyHive(software_hive, "ROOT"));
    MKEYS_ASSIGN_OR_RETURN(auto fresh, policy::HiveFile::Open(software_hive, HiveKind::kSoftware,
                                                              policy::HiveMode::kWrite));
    MKEYS_ASSIGN_OR_RETURN(const auto crypto, fresh.EnsurePath("Microsoft\\Cryptography"));
    const auto guid = hive::EncodeRegString(machine_guid);
    MKEYS_TRY(fresh.SetValue(crypto, "MachineGuid", policy::kRegSz, guid));
    MKEYS_TRY(fresh.Commit());
  }
  const std::string thumbprint = Sha1Hex(der);
  std::uint8_t sha1[SHA_DIGEST_LENGTH];
  SHA1(der.data(), der.size(), sha1);
  std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> props;
  if (key) props.emplace_back(kCertPropKeyProvInfo, EncodeKeyProvInfo(*key));
  props.emplace_back(kCertPropSha1, std::vector<std::uint8_t>(sha1, sha1 + sizeof sha1));
  props.emplace_back(kCertPropCertificate, std::vector<std::uint8_t>(der.begin(), der.end()));
  const auto blob = EncodeCertBlob(props);
  MKEYS_ASSIGN_OR_RETURN(auto hive, policy::HiveFile::Open(software_hive, HiveKind::kSoftware,
                                                           policy::HiveMode::kWrite));
  MKEYS_ASSIGN_OR_RETURN(
      const auto node,
      hive.EnsurePath(fmt::format("{}\\{}\\Certificates\\{}", kCertStoreKey, store, thumbprint)));
  MKEYS_TRY(hive.SetValue(node, "Blob", policy::kRegBinary, blob));
  MKEYS_TRY(hive.Commit());
  return thumbprint;
}

Result<std::size_t> RemoveMachineCertificatesOfKey(const fs::path& root_dir,
                                                   std::string_view container,
                                                   std::string_view store) {
  const auto file = FindHiveFile(root_dir, HiveKind::kSoftware);
  if (!file) return std::size_t{0};
  MKEYS_ASSIGN_OR_RETURN(
      auto hive, policy::HiveFile::Open(*file, HiveKind::kSoftware, policy::HiveMode::kWrite));
  const auto node = hive.Find(fmt::format("{}\\{}\\Certificates", kCertStoreKey, store));
  if (!node) return std::size_t{0};
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(*node));
  std::size_t removed = 0;
  for (const auto& [name, child] : children) {
    MKEYS_ASSIGN_OR_RETURN(const auto blob, hive.Value(child, "Blob"));
    if (!blob) continue;
    Certificate cert;
    DecodeEntry(blob->data, cert);
    if (!cert.key || !text::EqualsIgnoreAsciiCase(cert.key->container, container)) continue;
    MKEYS_TRY(hive.DeleteKey(child));
    ++removed;
  }
  if (removed > 0) MKEYS_TRY(hive.Commit());
  return removed;
}

}  // namespace mkeys::keystore
