// SPDX-License-Identifier: GPL-3.0-or-later
// The certificate store's values (Blob records, CRYPT_KEY_PROV_INFO) and the way from a
// certificate to its key file, including keys that have no file on disk.
#include <catch2/catch.hpp>

#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/cng_key_file.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_file_check.hpp"
#include "mkeys/keystore/open_path.hpp"
#include "support/cng_fixtures.hpp"
#include "support/process.hpp"

using namespace mkeys;
using namespace mkeys::keystore;

namespace {
constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";

MachineRoot NewMachine(const test::TempDir& dir) {
  MachineInitOptions options;
  options.machine_guid = kGuid;
  auto machine = MachineRoot::Init(dir.path() / "m", options);
  REQUIRE(machine);
  return std::move(machine).value();
}

Certificate WithKey(std::string container, std::string provider, std::uint32_t type) {
  Certificate c;
  c.thumbprint = "00";
  c.key = KeyProvInfo{std::move(container), std::move(provider), type, kCryptMachineKeyset, 0};
  return c;
}
}  // namespace

TEST_CASE("CRYPT_KEY_PROV_INFO typed from the layout decodes", "[keystore][cert]") {
  const auto value = test::FromHex(
      "1c000000"               // @0  container name at 28
      "26000000"               // @4  provider name at 38
      "00000000"               // @8  provider type 0: CNG
      "20000000"               // @12 CRYPT_MACHINE_KEYSET
      "00000000"               // @16 no parameters
      "00000000"               // @20
      "00000000"               // @24 key spec 0
      "530068006f007000 0000"  // @28 "Shop" + terminator
      "4100 0000");            // @38 "A" + terminator
  auto info = ParseKeyProvInfo(value);
  REQUIRE(info);
  CHECK(info->container == "Shop");
  CHECK(info->provider == "A");
  CHECK(info->cng());
  auto again = ParseKeyProvInfo(EncodeKeyProvInfo(*info));
  REQUIRE(again);
  CHECK(again->container == "Shop");
  CHECK(again->flags == kCryptMachineKeyset);

  auto bad = value;
  bad[0] = 0xf0;  // the container name's offset points past the value
  auto e = ParseKeyProvInfo(bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().position() == std::optional<std::size_t>(0));
}

TEST_CASE("A certificate Blob's property records decode with offsets", "[keystore][cert]") {
  const auto blob = test::FromHex(
      "03000000 01000000 02000000 abcd"      // @0  SHA-1 (2 bytes for the test)
      "20000000 01000000 03000000 300100");  // @14 the certificate
  auto props = ParseCertBlob(blob);
  REQUIRE(props);
  REQUIRE(props->size() == 2);
  CHECK((*props)[1].id == kCertPropCertificate);
  CHECK((*props)[1].offset == 14);
  auto cut = blob;
  cut.resize(cut.size() - 1);
  auto e = ParseCertBlob(cut);
  REQUIRE_FALSE(e);
  CHECK(e.error().position() == std::optional<std::size_t>(22));  // the second length field
}

TEST_CASE("A certificate's key resolves to Crypto/Keys or MachineKeys or has no file on disk",
          "[keystore][cert]") {
  test::TempDir dir;
  auto m = NewMachine(dir);
  auto cng = LocateCertificateKey(m, WithKey("Shop TLS Key", std::string(kSoftwareKspName), 0));
  REQUIRE(cng);
  REQUIRE(cng->on_disk);
  CHECK(cng->target->label == "Crypto/Keys/f277c59a23b9c582f6bef940c6577109_" + std::string(kGuid));
  CHECK(cng->target->kind == StoreKind::kCngKeys);

  auto tpm = LocateCertificateKey(m, WithKey("k", std::string(kPlatformKspName), 0));
  REQUIRE(tpm);
  CHECK_FALSE(tpm->on_disk);
  CHECK(tpm->reason.find("TPM") != std::string::npos);
  CHECK(tpm->reason.find("no key file on disk") != std::string::npos);
  auto card = LocateCertificateKey(m, WithKey("k", std::string(kSmartCardKspName), 0));
  REQUIRE(card);
  CHECK_FALSE(card->on_disk);
  CHECK(card->reason.find("smart-card") != std::string::npos);

  // A unique name (as real certificates carry) is the file name: not hashed again.
  const std::string unique = "52ab417621a9d74c73e3e0f1bc374e0a_" + std::string(kGuid);
  auto capi = LocateCertificateKey(
      m, WithKey(unique, "Microsoft Enhanced RSA and AES Cryptographic Provider", 24));
  REQUIRE(capi);
  CHECK(capi->target->file_name == unique);
  CHECK(capi->target->label == "MachineKeys/" + unique);
  auto direct = ResolveCapiContainer(m, unique);
  REQUIRE(direct);
  CHECK(direct->file_name == unique);
}

TEST_CASE("A CNG key file in MachineKeys is not a corrupt container", "[keystore][cng]") {
  test::TempDir dir;
  auto m = NewMachine(dir);
  const std::string name = CngKeyFileName("ec-key", kGuid);
  const auto v = CheckKeyFileContents(m, name, test::CngEcdsaP256Fixture());
  CHECK_FALSE(v.corrupt);
  REQUIRE(v.cng);
  CHECK(v.name() == "ec-key");
  CHECK_FALSE(v.name_hash_mismatch);
  auto cut = test::CngEcdsaP256Fixture();
  cut.resize(100);
  const auto w = CheckKeyFileContents(m, name, cut);
  CHECK(w.corrupt);
  CHECK(w.problem.find("at offset") != std::string::npos);
  CHECK(w.problem.find("mkeys") == std::string::npos);
}
