// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/keys.hpp"

using namespace mkeys;
using namespace mkeys::keystore;

TEST_CASE("CAPI container files round-trip and report their RSA1 keys", "[keystore][container]") {
  auto key = PrivateKey::Generate({KeyAlgorithm::kRsa, 2048});
  REQUIRE(key);
  auto bytes = MakeCapiContainerFile("iisConfigurationKey", nullptr, &*key);
  REQUIRE(bytes);
  auto file = ContainerFile::Parse(*bytes);
  REQUIRE(file);
  CHECK(file->format == ContainerFormat::kCapi);
  CHECK(file->version == 2u);
  CHECK(file->name == "iisConfigurationKey");
  CHECK(file->hash.size() == 20u);
  REQUIRE(file->exchange);
  CHECK_FALSE(file->signature);
  CHECK(file->exchange->info.bits == 2048u);
  CHECK(file->exchange->info.public_exponent == 65537u);
  // Private parts are DPAPI blobs: version 1 then the provider GUID.
  const auto& priv = file->exchange->private_blob;
  REQUIRE(priv.size() > 20);
  CHECK(std::equal(kDpapiProviderGuid.begin(), kDpapiProviderGuid.end(), priv.begin() + 4));
  CHECK(file->Serialize() == *bytes);
  CHECK(file->DescribeKeys() == "exchange RSA 2048 (e=65537)");
}

TEST_CASE("The RSA1 modulus is the key's modulus, little-endian", "[keystore][container]") {
  auto key = PrivateKey::Generate({KeyAlgorithm::kRsa, 2048});
  REQUIRE(key);
  const auto blob = key->PublicBlob(KeySlot::kExchange);
  REQUIRE(blob.size() == 20u + 256u + 8u);
  CHECK(blob[0] == 'R');
  CHECK(blob[3] == '1');
  // Top byte of the modulus (last of 256 LE bytes) has its high bit set; padding is zero.
  CHECK((blob[20 + 255] & 0x80) != 0);
  for (std::size_t i = 20 + 256; i < blob.size(); ++i) CHECK(blob[i] == 0);
}

TEST_CASE("Container lengths are checked against the file size", "[keystore][container]") {
  const auto bytes = MakeSyntheticCapiContainerFile("Bench", 2048, 1024);
  REQUIRE(ContainerFile::Parse(bytes));
  SECTION("every truncation is rejected, never over-read") {
    for (std::size_t n = 0; n < bytes.size(); n += 7) {
      auto r = ContainerFile::Parse(std::span<const std::uint8_t>(bytes.data(), n));
      CHECK_FALSE(r);
    }
  }
  SECTION("a huge length names its header offset") {
    auto bad = bytes;
    bad[20] = 0xff;
    bad[21] = 0xff;
    bad[22] = 0xff;
    bad[23] = 0x7f;  // exchange public key length
    auto r = ContainerFile::Parse(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().position() == 20u);
    CHECK(r.error().message().find("exchange public key length") != std::string::npos);
  }
  SECTION("a name without its NUL") {
    auto bad = bytes;
    bad[40 + 5] = 'x';  // "Bench\0" -> "Benchx"
    auto r = ContainerFile::Parse(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().position() == 46u);
  }
  SECTION("zero-length file") {
    CHECK_FALSE(ContainerFile::Parse({}));
  }
}

TEST_CASE("mkeys private parts are bound to the master key and the unique name",
          "[keystore][container]") {
  const SecretBytes master = SecretBytes::Random(32);
  const SecretBytes secret = SecretBytes::FromString("pkcs8 bytes");
  auto sealed = SealPrivatePart(master, "aaaa_guid", SealedKind::kPkcs8, secret);
  REQUIRE(sealed);
  auto opened = UnsealPrivatePart(master, "aaaa_guid", *sealed);
  REQUIRE(opened);
  CHECK(opened->plaintext == secret);
  CHECK(opened->kind == SealedKind::kPkcs8);
  CHECK_FALSE(UnsealPrivatePart(master, "bbbb_guid", *sealed));                   // renamed file
  CHECK_FALSE(UnsealPrivatePart(SecretBytes::Random(32), "aaaa_guid", *sealed));  // other machine
  auto tampered = *sealed;
  tampered[tampered.size() / 2] ^= 1;
  CHECK_FALSE(UnsealPrivatePart(master, "aaaa_guid", tampered));
}

TEST_CASE("EC keys store a CNG ECCKEY public blob", "[keystore][keys]") {
  auto key = PrivateKey::Generate({KeyAlgorithm::kEcP256, 256});
  REQUIRE(key);
  auto info = ParsePublicBlob(key->PublicBlob(KeySlot::kSignature));
  REQUIRE(info);
  CHECK(info->algorithm == KeyAlgorithm::kEcP256);
  CHECK(info->Describe() == "EC P-256");
  auto pkcs8 = key->ToPkcs8();
  REQUIRE(pkcs8);
  auto back = PrivateKey::FromPkcs8(*pkcs8);
  REQUIRE(back);
  CHECK(back->SamePublicKey(*key));
  CHECK_FALSE(MakeCapiContainerFile("x", &*key, nullptr));
}

TEST_CASE("Key specs parse as --key takes them", "[keystore][keys]") {
  CHECK(KeySpec::Parse("rsa:3072")->bits == 3072u);
  CHECK(KeySpec::Parse("EC:P256")->algorithm == KeyAlgorithm::kEcP256);
  CHECK_FALSE(KeySpec::Parse("rsa:1024"));
}
