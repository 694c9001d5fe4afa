// SPDX-License-Identifier: GPL-3.0-or-later
// A certificate's CNG key on an NTFS image (issue 14): a bare NTFS volume made with mkntfs on a
// file holds the real SOFTWARE hive of tests/data/hives, into which hivexregedit (hivex's own
// tool, not mkeys' hive writer) merges a MachineGuid and a LocalMachine\My certificate whose
// CERT_KEY_PROV_INFO names a CNG key; the key file, typed from the documented CNG layout, lies
// in ProgramData/Microsoft/Crypto/Keys with a descriptor that grants SYSTEM and Administrators
// only. Then `mkeys diagnose IMAGE --cert` as an app pool fails with NTE_BAD_KEYSET, `cert grant`
// on the image fixes it, and `restore` of the grant's journal puts every descriptor back.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "mkeys/acl/sddl.hpp"
#include "support/cert_fixtures.hpp"
#include "support/ntfs.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr const char* kGuid = "5f2a7c11-0b9e-4d3a-8e61-2c4b9d7a0e15";
constexpr const char* kPool = "IIS APPPOOL\\Shop";
constexpr const char* kKeyName = "te-Shop-8c3f6a9e-4b1d-4f0a-9a77-1e2d3c4b5a69";
constexpr const char* kKeysRel = "ProgramData/Microsoft/Crypto/Keys";

std::string Why() {
  if (::geteuid() != 0) return "needs root to build the image (mkntfs, an ntfs-3g mount)";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is not available";
  for (const char* tool : {"/usr/sbin/mkntfs", "/usr/bin/ntfs-3g", "/usr/bin/hivexregedit"}) {
    if (::access(tool, X_OK) != 0) return std::string(tool) + " is not installed";
  }
  return {};
}

std::string Sh(const std::string& script) {
  auto r = test::Run({"sh", "-c", "set -e; " + script});
  INFO(script << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string Q(const fs::path& p) {
  return "'" + p.string() + "'";
}

void Put32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void Append(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

Bytes Utf16(const std::string& ascii) {
  Bytes out;
  for (char c : ascii) {
    out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
  }
  return out;
}

Bytes Digest(const EVP_MD* md, const Bytes& data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr) == 1);
  out.resize(n);
  return out;
}

std::string HexOf(const Bytes& b, bool upper) {
  std::string s;
  for (auto c : b) s += upper ? fmt::format("{:02X}", c) : fmt::format("{:02x}", c);
  return s;
}

// The CNG key file name (docs/formats.md): MD5 over the lower-cased name in UTF-16LE with its
// terminator, printed as four little-endian DWORDs, then _<MachineGuid>.
std::string CngFileName(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Bytes text = Utf16(lower);
  text.insert(text.end(), {0, 0});
  const Bytes md5 = Digest(EVP_md5(), text);
  std::string out;
  for (int dword = 0; dword < 4; ++dword) {
    for (int i = 3; i >= 0; --i) out += fmt::format("{:02x}", md5[dword * 4 + i]);
  }
  return out + "_" + kGuid;
}

// One CNG property record: {struct length, type 1, 0, name length, value length, name, value}.
Bytes Property(const std::string& name, const Bytes& value) {
  const Bytes n = Utf16(name);
  Bytes out;
  Put32(out, static_cast<std::uint32_t>(20 + n.size() + value.size()));
  Put32(out, 1);
  Put32(out, 0);
  Put32(out, static_cast<std::uint32_t>(n.size()));
  Put32(out, static_cast<std::uint32_t>(value.size()));
  Append(out, n);
  Append(out, value);
  return out;
}

// A DPAPI blob's start (version 1, provider df9d8cd0-1501-11d1-8c7a-00c04fc297eb) and a body.
Bytes DpapiStub() {
  Bytes out = {1,    0,    0,    0,    0xd0, 0x8c, 0x9d, 0xdf, 0x01, 0x15,
               0xd1, 0x11, 0x8c, 0x7a, 0x00, 0xc0, 0x4f, 0xc2, 0x97, 0xeb};
  out.resize(out.size() + 8, 0);
  return out;
}

Bytes BigEndian(const EVP_PKEY* key, const char* param) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key, param, &bn) == 1);
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.data());
  BN_free(bn);
  return out;
}

// The key file of an RSA key as the Software Key Storage Provider lays it out: the header
// (version 1, 0, name length, type 0x30001, public and private property lengths, private key
// length), 16 zero bytes, the name, the public properties ("Modified", "Public Key" with the
// BCRYPT_RSAKEY_BLOB), then the DPAPI-protected private properties and private key.
Bytes CngRsaKeyFile(const std::string& name, const EVP_PKEY* key) {
  const Bytes e = BigEndian(key, OSSL_PKEY_PARAM_RSA_E), n = BigEndian(key, OSSL_PKEY_PARAM_RSA_N);
  Bytes blob = {'R', 'S', 'A', '1'};
  Put32(blob, static_cast<std::uint32_t>(n.size() * 8));
  Put32(blob, static_cast<std::uint32_t>(e.size()));
  Put32(blob, static_cast<std::uint32_t>(n.size()));
  Put32(blob, 0);
  Put32(blob, 0);
  Append(blob, e);
  Append(blob, n);
  Bytes pub = Property("Modified", {0x00, 0xc0, 0x6a, 0x3f, 0x9e, 0x5f, 0xd9, 0x01});
  Append(pub, Property("Public Key", blob));
  const Bytes stub = DpapiStub(), utf16 = Utf16(name);
  Bytes file;
  Put32(file, 1);
  Put32(file, 0);
  Put32(file, static_cast<std::uint32_t>(utf16.size()));
  Put32(file, 0x30001);
  Put32(file, static_cast<std::uint32_t>(pub.size()));
  Put32(file, static_cast<std::uint32_t>(stub.size()));
  Put32(file, static_cast<std::uint32_t>(stub.size()));
  file.resize(file.size() + 16, 0);
  Append(file, utf16);
  Append(file, pub);
  Append(file, stub);
  Append(file, stub);
  return file;
}

// CRYPT_KEY_PROV_INFO as the certificate store keeps it: seven u32 (container offset, provider
// offset, provider type 0 for a CNG provider, flags CRYPT_MACHINE_KEYSET, 0 parameters, 0, key
// spec 0), then the two NUL-terminated UTF-16LE strings.
Bytes KeyProvInfo(const std::string& container, const std::string& provider) {
  Bytes c = Utf16(container), p = Utf16(provider);
  c.insert(c.end(), {0, 0});
  p.insert(p.end(), {0, 0});
  Bytes out;
  Put32(out, 28);
  Put32(out, static_cast<std::uint32_t>(28 + c.size()));
  for (std::uint32_t v : {0u, 0x20u, 0u, 0u, 0u}) Put32(out, v);
  Append(out, c);
  Append(out, p);
  return out;
}

// The certificate store's Blob: property records {id, 1, length, value}.
Bytes CertBlob(const Bytes& der, const Bytes& sha1, const Bytes& prov_info) {
  Bytes out;
  for (const auto& [id, value] :
       std::vector<std::pair<std::uint32_t, Bytes>>{{2, prov_info}, {3, sha1}, {32, der}}) {
    Put32(out, id);
    Put32(out, 1);
    Put32(out, static_cast<std::uint32_t>(value.size()));
    Append(out, value);
  }
  return out;
}

std::string RegHex(const Bytes& b) {
  std::string s;
  for (std::size_t i = 0; i < b.size(); ++i) {
    s += fmt::format("{}{:02x}", i == 0 ? "" : ",", b[i]);
    if (i % 24 == 23 && i + 1 < b.size()) s += ",\\\n  ";
  }
  return s;
}

void WriteFile(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void SetSddl(const fs::path& path, std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(test::NtfsMount::SetDescriptor(path, sd->Encode()));
}

// Mounts the volume image at dir/mnt with ntfs-3g, runs `body`, unmounts.
template <typename Body>
void WithMount(const fs::path& image, const fs::path& dir, Body body) {
  const fs::path mnt = dir / "mnt";
  fs::create_directories(mnt);
  Sh("ntfs-3g " + Q(image) + " " + Q(mnt) + " -o permissions");
  struct Guard {
    fs::path mnt;
    bool mounted = true;
    ~Guard() {
      if (mounted) (void)test::Run({"umount", "-l", mnt.string()});
    }
  } guard{mnt};
  body(mnt);
  Sh("umount " + Q(mnt));
  guard.mounted = false;
}

using Descriptors = std::map<std::string, Bytes>;
Descriptors ReadDescriptors(const fs::path& mnt) {
  Descriptors out;
  for (const auto& e : fs::recursive_directory_iterator(mnt / "ProgramData")) {
    out[e.path().lexically_relative(mnt).generic_string()] =
        test::NtfsMount::GetDescriptor(e.path());
  }
  return out;
}

struct CertImage {
  test::TempDir dir;
  fs::path image = dir.path() / "volume.img";
  std::string thumbprint;
  std::string key_file;  // the file name in Crypto/Keys
  Descriptors before;
  Bytes software;  // the hive as hivexregedit left it
};

// The SOFTWARE hive: the real one of tests/data/hives with the machine's GUID and the
// certificate merged in by hivexregedit.
fs::path BuildSoftwareHive(CertImage& ci, const Bytes& der, const Bytes& sha1) {
  const fs::path hive = ci.dir.path() / "SOFTWARE";
  const fs::path src = test::TestDataDir() / "hives" / "USER-SOFTWARE-partial.xz";
  REQUIRE(fs::exists(src));
  Sh("xz -dc " + Q(src) + " > " + Q(hive));
  const Bytes blob = CertBlob(der, sha1,
                              KeyProvInfo(kKeyName,
                                          "Microsoft Software Key Storage "
                                          "Provider"));
  const std::string cert_key = "\\Microsoft\\SystemCertificates\\MY\\Certificates";
  const std::string reg = fmt::format(
      "Windows Registry Editor Version 5.00\n\n"
      "[\\Microsoft\\Cryptography]\n\"MachineGuid\"=\"{}\"\n\n"
      "[{}]\n\n[{}\\{}]\n\"Blob\"=hex:{}\n",
      kGuid, cert_key, cert_key, ci.thumbprint, RegHex(blob));
  const fs::path reg_file = ci.dir.path() / "cert.reg";
  std::ofstream(reg_file) << reg;
  auto merged = test::Run({"hivexregedit", "--merge", hive.string(), reg_file.string()});
  INFO(merged.out << merged.err);
  REQUIRE(merged.exit_code == 0);
  // hivex's shell reads the value back.
  auto shown =
      test::Run({"hivexsh", hive.string()}, "cd " + cert_key + "\\" + ci.thumbprint + "\nlsval\n");
  INFO(shown.err);
  REQUIRE(shown.out.find("\"Blob\"=hex(3):02,00,00,00,01,00,00,00") != std::string::npos);
  return hive;
}

void BuildImage(CertImage& ci) {
  // The certificate and its RSA 2048 key, made by OpenSSL.
  const fs::path pem = ci.dir.path() / "shop.pem";
  REQUIRE(test::WriteSelfSignedPem(pem, "shop.example.com"));
  std::FILE* f = std::fopen(pem.c_str(), "rb");
  REQUIRE(f != nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(key != nullptr);
  REQUIRE(cert != nullptr);
  unsigned char* der_ptr = nullptr;
  const int der_len = i2d_X509(cert, &der_ptr);
  REQUIRE(der_len > 0);
  const Bytes der(der_ptr, der_ptr + der_len);
  OPENSSL_free(der_ptr);
  X509_free(cert);
  const Bytes sha1 = Digest(EVP_sha1(), der);
  ci.thumbprint = HexOf(sha1, true);
  const Bytes key_file = CngRsaKeyFile(kKeyName, key);
  EVP_PKEY_free(key);
  ci.key_file = CngFileName(kKeyName);

  const fs::path hive = BuildSoftwareHive(ci, der, sha1);
  ci.software = ReadBytes(hive);
  Sh("truncate -s 32M " + Q(ci.image) + " && mkntfs -F -Q -q -L CertTest " + Q(ci.image) +
     " 2>/dev/null");
  WithMount(ci.image, ci.dir.path(), [&](const fs::path& mnt) {
    const std::vector<std::pair<std::string, std::string>> dirs = {
        {"ProgramData",
         "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
         "(A;CI;DCLCRPCR;;;BU)"},
        {"ProgramData/Microsoft", ""},
        {"ProgramData/Microsoft/Crypto", ""},
        {kKeysRel, "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"},
        {"ProgramData/Microsoft/Crypto/RSA", ""},
        {"ProgramData/Microsoft/Crypto/RSA/MachineKeys",
         "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"},
    };
    const std::string inherited =
        "O:SYG:SYD:AI(A;OICIIOID;GA;;;CO)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)"
        "(A;OICIID;0x1200a9;;;BU)(A;CIID;DCLCRPCR;;;BU)";
    for (const auto& [rel, sddl] : dirs) {
      fs::create_directories(mnt / rel);
      SetSddl(mnt / rel, sddl.empty() ? inherited : sddl);
    }
    const fs::path file = mnt / kKeysRel / ci.key_file;
    WriteFile(file, key_file);
    SetSddl(file, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)");
    fs::create_directories(mnt / "Windows/System32/config");
    fs::copy_file(hive, mnt / "Windows/System32/config/SOFTWARE");
    ci.before = ReadDescriptors(mnt);
  });
}

}  // namespace

TEST_CASE(
    "diagnose --cert on an NTFS image whose hivex-built SOFTWARE hive holds a CNG certificate "
    "fails "
    "for an app pool until cert grant and restore undoes it",
    "[integration][image][cert]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  CertImage ci;
  BuildImage(ci);
  const std::string img = ci.image.string();
  const std::string label = "Crypto/Keys/" + ci.key_file;

  // The certificate is listed from the image's SOFTWARE hive with its key file.
  auto list = test::Mkeys({"cert", "list", img});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find(ci.thumbprint) != std::string::npos);
  CHECK(list.out.find("CN=shop.example.com") != std::string::npos);
  CHECK(list.out.find(label) != std::string::npos);
  CHECK(list.out.find("Microsoft Software Key Storage Provider") != std::string::npos);

  auto before = test::Mkeys({"diagnose", img, "--cert", ci.thumbprint, "--as", kPool});
  INFO(before.out << before.err);
  CHECK(before.exit_code == 1);
  CHECK(before.out.find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);
  CHECK(before.out.find(label) != std::string::npos);
  CHECK(before.out.find("no ACE grants IIS APPPOOL\\Shop read") != std::string::npos);
  CHECK(before.out.find("mkeys cert grant") != std::string::npos);

  // The audit finds the pool's unreadable key (MK043), not a missing one (MK040).
  auto audit = test::Mkeys(
      {"audit", img, "--service", std::string(kPool) + "=shop.example.com", "--format", "json"});
  INFO(audit.out << audit.err);
  CHECK(audit.exit_code == 1);
  std::set<std::string> rules;
  const auto audit_doc = nlohmann::json::parse(audit.out);
  for (const auto& r : audit_doc["results"]) {
    rules.insert(r["rule"].get<std::string>());
  }
  CHECK(rules.count("MK043") == 1u);
  CHECK(rules.count("MK040") == 0u);

  const fs::path journal = ci.dir.path() / "grant.journal";
  auto grant = test::Mkeys({"cert", "grant", img, "--cert", ci.thumbprint, "--to", kPool,
                            "--rights", "R", "--journal", journal.string()});
  INFO(grant.out << grant.err);
  REQUIRE(grant.exit_code == 0);
  CHECK(fs::exists(journal));
  auto after = test::Mkeys({"diagnose", img, "--cert", ci.thumbprint, "--as", kPool});
  INFO(after.out << after.err);
  CHECK(after.exit_code == 0);
  // Through a mount: only the key file's descriptor changed, and it now lets the pool read.
  const std::string key_rel = std::string(kKeysRel) + "/" + ci.key_file;
  WithMount(ci.image, ci.dir.path(), [&](const fs::path& mnt) {
    const auto now = ReadDescriptors(mnt);
    for (const auto& [path, bytes] : ci.before) {
      INFO(path);
      CHECK((now.at(path) != bytes) == (path == key_rel));
    }
    auto sd = acl::SecurityDescriptor::Decode(now.at(key_rel));
    REQUIRE(sd);
    const std::string sddl = acl::FormatSddl(*sd);
    INFO(sddl);
    CHECK(sddl.find(";FR;;;S-1-5-82-") != std::string::npos);
    CHECK(ReadBytes(mnt / "Windows/System32/config/SOFTWARE") == ci.software);
  });

  auto restore = test::Mkeys({"restore", journal.string()});
  INFO(restore.out << restore.err);
  REQUIRE(restore.exit_code == 0);
  WithMount(ci.image, ci.dir.path(),
            [&](const fs::path& mnt) { CHECK(ReadDescriptors(mnt) == ci.before); });
  CHECK(test::Mkeys({"diagnose", img, "--cert", ci.thumbprint, "--as", kPool}).exit_code == 1);
}
