// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <sstream>
#include <type_traits>

#include "mkeys/core/hex.hpp"
#include "mkeys/core/secret_bytes.hpp"

using mkeys::SecretBytes;

namespace {
template <typename T, typename = void>
struct IsStreamable : std::false_type {};
template <typename T>
struct IsStreamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
    : std::true_type {};
}  // namespace

TEST_CASE("SecretBytes compares by content and cannot be streamed", "[core][secret]") {
  const auto a = SecretBytes::FromString("correct horse");
  const auto b = SecretBytes::FromString("correct horse");
  const auto c = SecretBytes::FromString("correct house");
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != SecretBytes::FromString("correct"));
  static_assert(!IsStreamable<SecretBytes>::value, "secrets must not be printable");
}

TEST_CASE("SecretBytes is emptied when moved from", "[core][secret]") {
  auto a = SecretBytes::FromString("token-secret");
  SecretBytes b = std::move(a);
  CHECK(b.size() == 12);
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the wipe is the behaviour under test
}

TEST_CASE("SecretBytes::Random gives distinct keys of the asked size", "[core][secret]") {
  const auto k1 = SecretBytes::Random(32);
  const auto k2 = SecretBytes::Random(32);
  CHECK(k1.size() == 32);
  CHECK(k1 != k2);
}

TEST_CASE("Hex decoding rejects bad input and says where", "[core][hex]") {
  auto ok = mkeys::HexDecode("00ffA5");
  REQUIRE(ok);
  CHECK(mkeys::HexEncode(*ok) == "00ffa5");
  auto odd = mkeys::HexDecode("abc");
  REQUIRE_FALSE(odd);
  auto bad = mkeys::HexDecode("00zz");
  REQUIRE_FALSE(bad);
  REQUIRE(bad.error().position());
  CHECK(*bad.error().position() == 2);
}
