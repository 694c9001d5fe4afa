// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/join_token.hpp"

#include <openssl/rand.h>

#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin {
namespace {

constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

int Base32Value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

std::size_t Base32Length(std::size_t bytes) {
  return (bytes * 8 + 4) / 5;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

std::string Base32Encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(Base32Length(bytes.size()));
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) {
    out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  }
  return out;
}

Result<std::vector<std::uint8_t>> Base32Decode(std::string_view text) {
  const std::size_t rem = text.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) {
    return Error(ErrorCode::kParse,
                 "base32 text has an impossible length " + std::to_string(text.size()))
        .At(text.size());
  }
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int v = Base32Value(text[i]);
    if (v < 0) {
      return Error(ErrorCode::kParse, "not a base32 character").At(i);
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<std::uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0 && buffer != 0) {
    return Error(ErrorCode::kParse, "base32 text has non-zero padding bits")
        .At(text.empty() ? 0 : text.size() - 1);
  }
  return out;
}

JoinToken JoinToken::Generate(const Digest& pin) {
  std::uint8_t id[kTokenIdBytes];
  RAND_bytes(id, sizeof id);
  return JoinToken(pin, HexEncode(id), SecretBytes::Random(kTokenSecretBytes));
}

Result<JoinToken> JoinToken::Parse(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size() && IsSpace(text[start])) ++start;
  std::size_t end = text.size();
  while (end > start && IsSpace(text[end - 1])) --end;
  const std::string_view t = text.substr(start, end - start);
  const std::size_t pin_len = Base32Length(32);
  const std::size_t id_len = kTokenIdBytes * 2;
  const std::size_t secret_len = Base32Length(kTokenSecretBytes);
  const std::size_t want = kTokenPrefix.size() + pin_len + 1 + id_len + 1 + secret_len;
  if (t.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return Error(ErrorCode::kParse,
                 "not an mkeys join token: it must start with \"MKJ1-\" (copy the whole line "
                 "'mkeys array token' printed)")
        .At(start);
  }
  if (t.size() != want) {
    return Error(ErrorCode::kParse, "join token has " + std::to_string(t.size()) +
                                        " characters, expected " + std::to_string(want) +
                                        " (was it cut when copied?)")
        .At(start + std::min(t.size(), want));
  }
  std::size_t pos = kTokenPrefix.size();
  auto pin_bytes = Base32Decode(t.substr(pos, pin_len));
  if (!pin_bytes || pin_bytes->size() != 32) {
    const std::size_t at = pin_bytes ? 0 : pin_bytes.error().position().value_or(0);
    return Error(ErrorCode::kParse, "join token: the manager key pin is not valid base32")
        .At(start + pos + at);
  }
  pos += pin_len;
  if (t[pos] != '-') {
    return Error(ErrorCode::kParse, "join token: expected '-' after the pin").At(start + pos);
  }
  ++pos;
  const std::string_view id = t.substr(pos, id_len);
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Error(ErrorCode::kParse, "join token: the token id must be lower-case hex")
          .At(start + pos + i);
    }
  }
  pos += id_len;
  if (t[pos] != '.') {
    return Error(ErrorCode::kParse, "join token: expected '.' after the token id").At(start + pos);
  }
  ++pos;
  auto secret = Base32Decode(t.substr(pos, secret_len));
  if (!secret || secret->size() != kTokenSecretBytes) {
    // The offset only, never the text: it is the secret.
    const std::size_t at = secret ? 0 : secret.error().position().value_or(0);
    return Error(ErrorCode::kParse, "join token: the secret part is not valid base32")
        .At(start + pos + at);
  }
  Digest pin{};
  std::copy(pin_bytes->begin(), pin_bytes->end(), pin.begin());
  SecretBytes secret_bytes(*secret);
  std::fill(secret->begin(), secret->end(), std::uint8_t{0});
  return JoinToken(pin, std::string(id), std::move(secret_bytes));
}

SecretBytes JoinToken::Reveal() const {
  std::string text(kTokenPrefix);
  text += Base32Encode(pin_);
  text += '-';
  text += id_;
  text += '.';
  text += Base32Encode(secret_.RevealSecret());
  SecretBytes out = SecretBytes::FromString(text);
  std::fill(text.begin(), text.end(), '\0');
  return out;
}

Digest JoinToken::VerifierOf(const SecretBytes& secret) {
  std::vector<std::uint8_t> input;
  constexpr std::string_view kLabel = "mkeys-join-token-v1";
  input.insert(input.end(), kLabel.begin(), kLabel.end());
  input.push_back(0);
  input.insert(input.end(), secret.RevealSecret().begin(), secret.RevealSecret().end());
  const Digest d = Sha256(input);
  std::fill(input.begin(), input.end(), std::uint8_t{0});
  return d;
}

}  // namespace mkeys::arrayjoin
