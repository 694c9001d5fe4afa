// SPDX-License-Identifier: GPL-3.0-or-later
// CNG key files: the header, the property records, the BCRYPT public blobs and the file names,
// against files typed from the documented layout (tests/support/cng_fixtures.hpp).
#include <catch2/catch.hpp>

#include "mkeys/keystore/cng_key_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "support/cng_fixtures.hpp"

using namespace mkeys;
using namespace mkeys::keystore;

TEST_CASE("An RSA 2048 CNG key file typed from the layout parses with its name and key",
          "[keystore][cng]") {
  const auto bytes = test::CngRsa2048Fixture();
  REQUIRE(bytes.size() == 481);
  REQUIRE(LooksLikeCngKeyFile(bytes));
  auto f = ParseCngKeyFile(bytes);
  REQUIRE(f);
  CHECK(f->name == "rsa-key");
  CHECK(f->type == kCngTypeRsa);
  CHECK(CngTypeName(f->type) == "RSA");
  REQUIRE(f->public_properties.size() == 2);
  CHECK(f->public_properties[0].name == "Modified");
  CHECK(f->public_properties[0].offset == 58);
  CHECK(f->public_properties[1].offset == 102);
  REQUIRE(f->modified);
  CHECK(*f->modified == 0x01d95f9e3f6ac000ULL);
  REQUIRE(f->public_key);
  CHECK(f->DescribeKey() == "RSA 2048 (e=65537)");
  CHECK(f->private_properties.size() == 28);
  CHECK(f->private_key.size() == 28);
  CHECK(f->private_key_protection == CngProtection::kDpapi);
  CHECK(f->trailing_bytes == 0);
}

TEST_CASE("An ECDSA P-256 CNG key file typed from the layout parses", "[keystore][cng]") {
  const auto bytes = test::CngEcdsaP256Fixture();
  REQUIRE(bytes.size() == 268);
  auto f = ParseCngKeyFile(bytes);
  REQUIRE(f);
  CHECK(f->name == "ec-key");
  CHECK(CngTypeName(f->type) == "ECDSA");
  CHECK(f->DescribeKey() == "ECDSA P-256");
  CHECK(f->private_properties_protection == CngProtection::kDpapi);
}

TEST_CASE("A truncated CNG key file is reported with the offset where it breaks",
          "[keystore][cng]") {
  auto bytes = test::CngRsa2048Fixture();
  bytes.resize(300);  // inside the modulus: the public properties end at 425
  auto f = ParseCngKeyFile(bytes);
  REQUIRE_FALSE(f);
  CHECK(f.error().code() == ErrorCode::kParse);
  // The name ends at 58; the public properties (367 bytes) would end at 425 > 300.
  CHECK(f.error().position() == std::optional<std::size_t>(58));
  CHECK(f.error().ToString().find("public properties length 367") != std::string::npos);
  CHECK(f.error().ToString().find("at offset 58") != std::string::npos);

  auto header = test::CngEcdsaP256Fixture();
  header.resize(30);
  auto h = ParseCngKeyFile(header);
  REQUIRE_FALSE(h);
  CHECK(h.error().position() == std::optional<std::size_t>(30));
}

TEST_CASE("A property record running past its block is reported at the record", "[keystore][cng]") {
  auto bytes = test::CngEcdsaP256Fixture();
  bytes[100] = 0xff;  // the public-key record at 100 claims 0x...ff bytes
  auto f = ParseCngKeyFile(bytes);
  REQUIRE_FALSE(f);
  CHECK(f.error().position() == std::optional<std::size_t>(100));
  auto blob = test::CngEcdsaP256Fixture();
  blob[144] = 0x30;  // cbKey 48 is not P-256's 32: reported inside the blob at 140 + 4
  auto g = ParseCngKeyFile(blob);
  REQUIRE_FALSE(g);
  CHECK(g.error().position() == std::optional<std::size_t>(144));
}

TEST_CASE("A key file of an unknown version is an unknown format and never an mkeys container",
          "[keystore][cng]") {
  auto bytes = test::CngRsa2048Fixture();
  bytes[0] = 7;
  auto f = ParseCngKeyFile(bytes);
  REQUIRE_FALSE(f);
  CHECK(f.error().code() == ErrorCode::kUnsupported);
  CHECK(f.error().message().find("unknown format") != std::string::npos);
  CHECK(f.error().message().find("mkeys") == std::string::npos);
  CHECK_FALSE(LooksLikeCngKeyFile(bytes));
}

TEST_CASE("CNG file names hash the lower-cased UTF-16LE name with its terminator",
          "[keystore][cng]") {
  // Vectors computed independently (Python: md5((name.lower() + '\0').encode('utf-16le')),
  // printed as four little-endian DWORDs).
  CHECK(CngKeyHash("rsa-key") == "3b4832f6b59e366708fde20afe076711");
  CHECK(CngKeyHash("RSA-Key") == "3b4832f6b59e366708fde20afe076711");
  CHECK(CngKeyHash("Shop TLS Key") == "f277c59a23b9c582f6bef940c6577109");
  CHECK(CngKeyFileName("ec-key", "c49c7513-8b86-4d0e-90bf-4805804a9318") ==
        "d99108859e2d83f7aa82dc9ac151f4e6_c49c7513-8b86-4d0e-90bf-4805804a9318");
  // CAPI hashes the ANSI name: not the same file name for the same key name.
  CHECK(ContainerHash("rsa-key") != CngKeyHash("rsa-key"));
}

TEST_CASE("Unique key file names are recognised as such", "[keystore][cng]") {
  const std::string unique =
      "3b4832f6b59e366708fde20afe076711_c49c7513-8b86-4d0e-90bf-4805804a9318";
  CHECK(IsUniqueKeyFileName(unique));
  CHECK(IsUniqueKeyFileName(unique + "_0123456789abcdef0123456789abcdef"));
  CHECK_FALSE(IsUniqueKeyFileName(unique + "_01"));
  CHECK_FALSE(IsUniqueKeyFileName("rsa-key"));
  CHECK_FALSE(IsUniqueKeyFileName(unique.substr(1)));
}

TEST_CASE("A CNG key file built by mkeys parses back to the same key", "[keystore][cng]") {
  CngKeyFileSpec spec;
  spec.name = "Shop TLS Key";
  spec.type = kCngTypeEcdsa;
  spec.modified = 42;
  const auto ec = test::CngEcdsaP256Fixture();
  spec.public_blob.assign(ec.begin() + 140, ec.begin() + 212);
  spec.private_key = test::DpapiStub();
  const auto bytes = BuildCngKeyFile(spec);
  auto f = ParseCngKeyFile(bytes);
  REQUIRE(f);
  CHECK(f->name == "Shop TLS Key");
  CHECK(f->DescribeKey() == "ECDSA P-256");
  CHECK(f->modified == std::optional<std::uint64_t>(42));
  CHECK(f->private_properties_protection == CngProtection::kNone);
}
