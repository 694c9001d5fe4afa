// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <string>

#include "mkeys/arrayjoin/join_token.hpp"

using namespace mkeys;
using namespace mkeys::arrayjoin;

namespace {
std::string Text(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.RevealSecret().data()), s.size());
}
}  // namespace

TEST_CASE("base32 matches RFC 4648 vectors (lower case, no padding)", "[arrayjoin][token]") {
  auto enc = [](std::string_view s) {
    return Base32Encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  };
  CHECK(enc("") == "");
  CHECK(enc("f") == "my");
  CHECK(enc("fo") == "mzxq");
  CHECK(enc("foo") == "mzxw6");
  CHECK(enc("foob") == "mzxw6yq");
  CHECK(enc("fooba") == "mzxw6ytb");
  CHECK(enc("foobar") == "mzxw6ytboi");
  auto dec = Base32Decode("MZXW6YTBOI");
  REQUIRE(dec);
  CHECK(std::string(dec->begin(), dec->end()) == "foobar");
}

TEST_CASE("base32 decoding rejects bad characters, lengths and padding bits",
          "[arrayjoin][token]") {
  auto bad_char = Base32Decode("mzx1");
  REQUIRE_FALSE(bad_char);
  CHECK(bad_char.error().position() == 3u);
  CHECK_FALSE(Base32Decode("m"));   // impossible length
  CHECK_FALSE(Base32Decode("mz"));  // 'z' leaves non-zero padding bits
  CHECK(Base32Decode("my"));
}

TEST_CASE("a join token round-trips and carries pin, id and a 160-bit secret",
          "[arrayjoin][token]") {
  Digest pin{};
  for (std::size_t i = 0; i < pin.size(); ++i) pin[i] = static_cast<std::uint8_t>(i);
  const JoinToken token = JoinToken::Generate(pin);
  const std::string text = Text(token.Reveal());
  CHECK(text.rfind("MKJ1-", 0) == 0);
  CHECK(text.size() == 5 + 52 + 1 + 16 + 1 + 32);
  auto parsed = JoinToken::Parse("  " + text + "\n");
  REQUIRE(parsed);
  CHECK(parsed->pin() == pin);
  CHECK(parsed->id() == token.id());
  CHECK(parsed->secret() == token.secret());
  CHECK(parsed->Verifier() == token.Verifier());
  // Two tokens never share a secret.
  CHECK_FALSE(JoinToken::Generate(pin).secret() == token.secret());
}

TEST_CASE("malformed join tokens are rejected with the offset and without echoing the secret",
          "[arrayjoin][token]") {
  const JoinToken token = JoinToken::Generate(Digest{});
  std::string text = Text(token.Reveal());
  const std::string secret_part = text.substr(text.find('.') + 1);

  auto no_prefix = JoinToken::Parse("SWMTKN-1-abc");
  REQUIRE_FALSE(no_prefix);
  CHECK(no_prefix.error().position() == 0u);

  auto cut = JoinToken::Parse(text.substr(0, text.size() - 3));
  REQUIRE_FALSE(cut);
  CHECK(cut.error().message().find("was it cut") != std::string::npos);

  std::string bad_secret = text;
  bad_secret[bad_secret.size() - 5] = '!';
  auto r = JoinToken::Parse(bad_secret);
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == bad_secret.size() - 5);
  CHECK(r.error().ToString().find(secret_part.substr(0, 10)) == std::string::npos);

  std::string bad_id = text;
  bad_id[5 + 52 + 1] = 'Z';
  auto rid = JoinToken::Parse(bad_id);
  REQUIRE_FALSE(rid);
  CHECK(rid.error().position() == 5u + 52 + 1);
}
