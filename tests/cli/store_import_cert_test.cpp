// SPDX-License-Identifier: GPL-3.0-or-later
// `store import` keeps the certificate (issue 14): the certificate of the imported key goes into
// LocalMachine\My of the model machine with key-provider info naming the new container, so
// `cert list` and `diagnose --cert` find the key behind it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/cert_fixtures.hpp"
#include "support/process.hpp"

using namespace mkeys;
using test::Mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";

nlohmann::json CertList(const std::string& root) {
  auto r = Mkeys({"--json", "cert", "list", root});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out)["certificates"];
}

}  // namespace

TEST_CASE("store import keeps the certificate so cert list shows it with its container",
          "[cli][cert][store]") {
  test::TempDir dir;
  const std::string root = (dir.path() / "m").string();
  REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0);
  const fs::path pem = dir.path() / "web.pem";
  REQUIRE(test::WriteSelfSignedPem(pem, "web.example.com"));
  REQUIRE(CertList(root).empty());

  auto imported = Mkeys({"--json", "store", "import", root, "WebTlsKey", pem.string()});
  INFO(imported.out << imported.err);
  REQUIRE(imported.exit_code == 0);
  const auto doc = nlohmann::json::parse(imported.out);
  const std::string thumb = doc["certificate"];
  CHECK(thumb.size() == 40u);

  const auto certs = CertList(root);
  REQUIRE(certs.size() == 1u);
  const auto& c = certs[0];
  CHECK(c["thumbprint"] == thumb);
  CHECK(c["subject"] == "CN=web.example.com");
  CHECK(c["key_name"] == "WebTlsKey");
  CHECK(c["provider"] == "Microsoft Enhanced RSA and AES Cryptographic Provider");
  CHECK(c["key_file"] == "MachineKeys/" + doc["file"].get<std::string>());
  CHECK(c["problem"] == "");
  // The certificate leads to the key: SYSTEM (its creator) opens it, NETWORK SERVICE not yet.
  auto sys = Mkeys({"diagnose", root, "--cert", thumb, "--as", "SYSTEM"});
  INFO(sys.out << sys.err);
  CHECK(sys.exit_code == 0);
  CHECK(Mkeys({"diagnose", root, "--cert", thumb, "--as", "NETWORK SERVICE"}).exit_code == 1);

  // The text output says where the certificate went.
  const fs::path pem2 = dir.path() / "sign.pem";
  REQUIRE(test::WriteSelfSignedPem(pem2, "sign.example.com", true));
  auto text = Mkeys({"store", "import", root, "SigningKey", pem2.string(), "--slot", "signature"});
  INFO(text.out << text.err);
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("added to LocalMachine\\My") != std::string::npos);
  const auto two = CertList(root);
  CHECK(two.size() == 2u);
  for (const auto& cert : two) {
    if (cert["subject"] == "CN=sign.example.com") CHECK(cert["key_name"] == "SigningKey");
  }
}

TEST_CASE("store import of a key without its certificate adds no certificate",
          "[cli][cert][store]") {
  test::TempDir dir;
  const std::string root = (dir.path() / "m").string();
  REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0);
  const fs::path pem = dir.path() / "both.pem";
  REQUIRE(test::WriteSelfSignedPem(pem, "bare.example.com"));
  // The key alone: the PEM up to its certificate.
  std::ifstream in(pem);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const auto at = text.find("-----BEGIN CERTIFICATE-----");
  REQUIRE(at != std::string::npos);
  const fs::path key_only = dir.path() / "key.pem";
  std::ofstream(key_only) << text.substr(0, at);

  auto imported = Mkeys({"--json", "store", "import", root, "BareKey", key_only.string()});
  INFO(imported.out << imported.err);
  REQUIRE(imported.exit_code == 0);
  CHECK(nlohmann::json::parse(imported.out)["certificate"] == "");
  CHECK(CertList(root).empty());
  auto list = Mkeys({"store", "list", root});
  CHECK(list.out.find("BareKey") != std::string::npos);
}
