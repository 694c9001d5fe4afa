// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/arrayjoin/protocol.hpp"

using namespace mkeys;
using namespace mkeys::arrayjoin;

TEST_CASE("wrapped keys open only for the right member key and associated data",
          "[arrayjoin][crypto]") {
  auto member = X25519Key::Generate();
  auto other = X25519Key::Generate();
  REQUIRE(member);
  REQUIRE(other);
  const SecretBytes secret = SecretBytes::Random(32);
  const std::string aad = WrapAad("arr", "node1", "mkeys-array-a-config-v1", 1);
  auto wrapped = WrapSecret(member->public_key(), secret, aad);
  REQUIRE(wrapped);
  auto back = UnwrapSecret(*member, *wrapped, aad);
  REQUIRE(back);
  CHECK(*back == secret);

  auto wrong_key = UnwrapSecret(*other, *wrapped, aad);
  REQUIRE_FALSE(wrong_key);
  CHECK(wrong_key.error().message().find("message authentication failed") != std::string::npos);
  CHECK(wrong_key.error().message().find("hint") != std::string::npos);

  CHECK_FALSE(
      UnwrapSecret(*member, *wrapped, WrapAad("arr", "node2", "mkeys-array-a-config-v1", 1)));
  CHECK_FALSE(
      UnwrapSecret(*member, *wrapped, WrapAad("arr", "node1", "mkeys-array-a-config-v1", 2)));
  auto tampered = *wrapped;
  tampered.ciphertext[0] ^= 1;
  CHECK_FALSE(UnwrapSecret(*member, tampered, aad));
}

TEST_CASE("member certificates chain to the array CA and pins are SPKI hashes",
          "[arrayjoin][crypto]") {
  auto ca_key = GenerateEcP256();
  REQUIRE(ca_key);
  auto ca = MakeCaCertificate(ca_key->get(), "web");
  REQUIRE(ca);
  auto member_key = GenerateEcP256();
  REQUIRE(member_key);
  auto cert = IssueMemberCertificate(ca_key->get(), ca->get(), member_key->get(), "node1", 30);
  REQUIRE(cert);
  CHECK(VerifyIssuedBy(cert->get(), ca->get()));

  auto rogue_key = GenerateEcP256();
  auto rogue_ca = MakeCaCertificate(rogue_key->get(), "web");
  REQUIRE(rogue_ca);
  CHECK_FALSE(VerifyIssuedBy(cert->get(), rogue_ca->get()));

  auto pin = SpkiPin(ca_key->get());
  auto pin_from_cert = SpkiPin(X509_get0_pubkey(ca->get()));
  REQUIRE(pin);
  REQUIRE(pin_from_cert);
  CHECK(*pin == *pin_from_cert);
  CHECK(FormatFingerprint(*pin).size() == 7 + 64);

  auto pem = CertToPem(cert->get());
  REQUIRE(pem);
  auto again = CertFromPem(*pem);
  REQUIRE(again);
  CHECK(VerifyIssuedBy(again->get(), ca->get()));
}

TEST_CASE("the token proof depends on the TLS session's exported keying material",
          "[arrayjoin][crypto]") {
  const SecretBytes secret = SecretBytes::Random(20);
  Ekm a{};
  Ekm b{};
  b[0] = 1;
  std::array<std::uint8_t, 32> wrap{};
  CHECK(JoinProof(secret, a, "n", wrap) == JoinProof(secret, a, "n", wrap));
  CHECK_FALSE(JoinProof(secret, a, "n", wrap) == JoinProof(secret, b, "n", wrap));
  CHECK_FALSE(JoinProof(secret, a, "n", wrap) == JoinProof(secret, a, "m", wrap));
}
