// SPDX-License-Identifier: GPL-3.0-or-later
// Certificates and CNG keys through the binary: `cert import|list|grant`, `diagnose --cert`,
// `restore` of a grant's journal, `store list` over Crypto/Keys, and the certificate rules.
#include <sys/xattr.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cert_fixtures.hpp"
#include "support/cng_fixtures.hpp"
#include "support/process.hpp"

using namespace mkeys;
using test::Mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kPool = "IIS APPPOOL\\Shop";

// CNG file names of the fixtures' keys (MD5 over the UTF-16LE name and terminator, computed
// independently; tests/keystore/cng_key_file_test.cpp checks the same vectors).
std::string CngFile(const std::string& name) {
  const std::string hash = name == "rsa-key"  ? "3b4832f6b59e366708fde20afe076711"
                           : name == "ec-key" ? "d99108859e2d83f7aa82dc9ac151f4e6"
                                              : "9eab60d7f404fec084c8e5f4bcdc0277";  // cut-key
  return hash + "_" + kGuid;
}

struct Machine {
  test::TempDir dir;
  std::string root = (dir.path() / "m").string();
  fs::path crypto = dir.path() / "m/ProgramData/Microsoft/Crypto";

  Machine() { REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0); }

  // Imports a new self-signed certificate; returns its thumbprint and key file (relative).
  std::pair<std::string, std::string> Import(const std::string& cn, const std::string& provider,
                                             bool ec = false) {
    const fs::path pem = dir.path() / (cn + ".pem");
    REQUIRE(test::WriteSelfSignedPem(pem, cn, ec));
    auto r = Mkeys({"--json", "cert", "import", root, pem.string(), "--provider", provider});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    return {doc["thumbprint"].get<std::string>(), doc["key_file"].get<std::string>()};
  }
};

std::string Attr(const fs::path& p) {
  char buf[8192];
  const ssize_t n = ::lgetxattr(p.c_str(), "user.NTACL", buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
}

void WriteBytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE(
    "diagnose --cert of a CNG key fails for an app pool until cert grant and restore undoes it",
    "[cli][cert]") {
  Machine m;
  const auto [thumb, key_file] = m.Import("shop.example.com", "cng");
  CHECK(key_file.rfind("Crypto/Keys/", 0) == 0);
  const fs::path key_path = m.crypto / "Keys" / key_file.substr(std::string("Crypto/Keys/").size());
  REQUIRE(fs::exists(key_path));
  // The file has the CNG header layout.
  std::ifstream in(key_path, std::ios::binary);
  std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  REQUIRE(bytes.size() > 44);
  CHECK(bytes[0] == 1);      // version 1
  CHECK(bytes[12] == 0x01);  // type 0x30001: RSA
  CHECK(bytes[14] == 0x03);

  auto before = Mkeys({"diagnose", m.root, "--cert", thumb, "--as", kPool});
  INFO(before.out << before.err);
  CHECK(before.exit_code == 1);
  CHECK(before.out.find("NTE_BAD_KEYSET") != std::string::npos);
  CHECK(before.out.find("File:      " + key_file) != std::string::npos);
  CHECK(before.out.find("no ACE grants IIS APPPOOL\\Shop read") != std::string::npos);
  CHECK(before.out.find("mkeys cert grant") != std::string::npos);

  const std::string attr_before = Attr(key_path);
  const std::string journal = (m.dir.path() / "grant.journal").string();
  auto grant = Mkeys({"cert", "grant", m.root, "--cert", thumb, "--to", kPool, "--rights", "R",
                      "--journal", journal});
  INFO(grant.out << grant.err);
  REQUIRE(grant.exit_code == 0);
  CHECK(Attr(key_path) != attr_before);
  auto after = Mkeys({"diagnose", m.root, "--cert", thumb, "--as", kPool});
  INFO(after.out << after.err);
  CHECK(after.exit_code == 0);

  auto restore = Mkeys({"restore", journal});
  INFO(restore.out << restore.err);
  REQUIRE(restore.exit_code == 0);
  CHECK(Attr(key_path) == attr_before);
  CHECK(Mkeys({"diagnose", m.root, "--cert", thumb, "--as", kPool}).exit_code == 1);
}

TEST_CASE("cert list shows a CAPI key and a CNG key and a certificate whose key is missing",
          "[cli][cert]") {
  Machine m;
  const auto [capi, capi_file] = m.Import("capi.example.com", "capi");
  const auto [cng, cng_file] = m.Import("cng.example.com", "cng", true);
  const auto [gone, gone_file] = m.Import("gone.example.com", "cng");
  REQUIRE(fs::remove(m.crypto / "Keys" / gone_file.substr(std::string("Crypto/Keys/").size())));
  CHECK(capi_file.rfind("MachineKeys/", 0) == 0);

  auto list = Mkeys({"cert", "list", m.root});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  CHECK((list.out + list.err).find("3 certificate(s) in LocalMachine\\My") != std::string::npos);
  const auto doc = nlohmann::json::parse(Mkeys({"--json", "cert", "list", m.root}).out);
  REQUIRE(doc["certificates"].size() == 3u);
  int seen = 0;
  for (const auto& c : doc["certificates"]) {
    const std::string t = c["thumbprint"];
    if (t == capi) {
      ++seen;
      CHECK(c["provider"] == "Microsoft Enhanced RSA and AES Cryptographic Provider");
      CHECK(c["key_file"] == capi_file);
      CHECK(c["subject"] == "CN=capi.example.com");
      CHECK(c["problem"] == "");
      CHECK(c["readers"].dump().find("SYSTEM") != std::string::npos);
    } else if (t == cng) {
      ++seen;
      CHECK(c["provider"] == "Microsoft Software Key Storage Provider");
      CHECK(c["key_file"] == cng_file);
      CHECK(c["problem"] == "");
    } else if (t == gone) {
      ++seen;
      CHECK(c["key_file"] == gone_file);
      CHECK(c["problem"].get<std::string>().find("key file missing") != std::string::npos);
    }
  }
  CHECK(seen == 3);

  // The audit reports the missing key (MK040) and, after the certificate's key is orphaned,
  // the orphaned key file (MK041).
  auto audit = Mkeys({"--json", "audit", m.root});
  INFO(audit.out << audit.err);
  CHECK(audit.out.find("MK040") != std::string::npos);
  CHECK(audit.out.find(gone) != std::string::npos);
  const fs::path orphan =
      m.crypto / "Keys" / (std::string("3b4832f6b59e366708fde20afe076711_") + kGuid);
  fs::copy_file(m.crypto / "Keys" / cng_file.substr(std::string("Crypto/Keys/").size()), orphan);
  auto audit2 = Mkeys({"audit", m.root});
  INFO(audit2.out << audit2.err);
  CHECK(audit2.out.find("MK041") != std::string::npos);
}

TEST_CASE("store list names CNG key files typed from the layout with provider and algorithm",
          "[cli][cert][cng]") {
  Machine m;
  m.Import("seed.example.com", "cng");  // creates Crypto/Keys with its descriptor
  const fs::path keys = m.crypto / "Keys";
  WriteBytes(keys / CngFile("rsa-key"), test::CngRsa2048Fixture());
  WriteBytes(keys / CngFile("ec-key"), test::CngEcdsaP256Fixture());
  auto truncated = test::CngRsa2048Fixture();
  truncated.resize(300);
  WriteBytes(keys / CngFile("cut-key"), truncated);
  // A CNG file copied into the CAPI store.
  WriteBytes(m.crypto / "RSA/MachineKeys" / CngFile("ec-key"), test::CngEcdsaP256Fixture());

  auto list = Mkeys({"store", "list", m.root});
  INFO(list.out << list.err);
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find("rsa-key") != std::string::npos);
  CHECK(list.out.find("RSA 2048 (e=65537)") != std::string::npos);
  CHECK(list.out.find("ECDSA P-256") != std::string::npos);
  CHECK(list.out.find("Microsoft Software Key Storage Provider") != std::string::npos);
  CHECK(list.out.find("public properties length 367") != std::string::npos);
  CHECK(list.out.find("at offset 58") != std::string::npos);
  CHECK(list.out.find("a CNG key file in the CAPI store") != std::string::npos);
  // Only the truncated file is corrupt.
  std::size_t corrupt = 0;
  for (std::size_t at = list.out.find("corrupt"); at != std::string::npos;
       at = list.out.find("corrupt", at + 1)) {
    ++corrupt;
  }
  CHECK(corrupt == 1);

  // The audit does not call the CNG file in MachineKeys a corrupt container (MK010).
  auto audit = Mkeys({"audit", m.root});
  INFO(audit.out);
  CHECK(audit.out.find("MK010") == std::string::npos);
}

TEST_CASE("diagnose --file and store open reach a CNG key in Crypto/Keys", "[cli][cert][cng]") {
  Machine m;
  const auto [thumb, key_file] = m.Import("open.example.com", "cng");
  const std::string path = "ProgramData/Microsoft/" + key_file;
  auto sys = Mkeys({"diagnose", m.root, "--file", path, "--as", "SYSTEM"});
  INFO(sys.out << sys.err);
  CHECK(sys.exit_code == 0);
  CHECK(sys.out.find("no such file") == std::string::npos);
  auto pool = Mkeys({"diagnose", m.root, "--file", path, "--as", kPool});
  CHECK(pool.exit_code == 1);
  CHECK(pool.out.find("NTE_BAD_KEYSET") != std::string::npos);
}
