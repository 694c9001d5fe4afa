// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Join tokens: one copy-pasteable string that tells a member which manager to trust and proves
// it may join.
//
//   MKJ1-<pin>-<id>.<secret>
//   MKJ1      version prefix
//   <pin>     SHA-256 of the manager's public key (DER SubjectPublicKeyInfo), base32 (RFC 4648,
//             lower case, no padding): 52 characters
//   <id>      token id, 16 lower-case hex digits (public: listed, revoked by it)
//   <secret>  160 random bits, base32: 32 characters
//
// The manager keeps only SHA-256("mkeys-join-token-v1" || 0x00 || secret). See docs/arrayjoin.md.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

namespace mkeys::arrayjoin {

inline constexpr std::string_view kTokenPrefix = "MKJ1-";
inline constexpr std::size_t kTokenSecretBytes = 20;
inline constexpr std::size_t kTokenIdBytes = 8;

// RFC 4648 base32, lower-case alphabet, no padding. Decode rejects other characters, leftover
// bits that are not zero, and impossible lengths, naming the offset.
std::string Base32Encode(std::span<const std::uint8_t> bytes);
Result<std::vector<std::uint8_t>> Base32Decode(std::string_view text);

class JoinToken final {
 public:
  // A new token for the manager whose key has this pin.
  static JoinToken Generate(const Digest& pin);
  // Parses a token (surrounding white space, e.g. the newline of a token file, is ignored).
  // Errors carry the character offset and never contain the secret.
  static Result<JoinToken> Parse(std::string_view text);

  const Digest& pin() const { return pin_; }
  const std::string& id() const { return id_; }
  const SecretBytes& secret() const { return secret_; }
  // The token as the user copies it. It contains the secret: print it once, log it never.
  SecretBytes Reveal() const;
  // What the manager stores.
  Digest Verifier() const { return VerifierOf(secret_); }
  static Digest VerifierOf(const SecretBytes& secret);

 private:
  JoinToken(Digest pin, std::string id, SecretBytes secret)
      : pin_(pin), id_(std::move(id)), secret_(std::move(secret)) {}
  Digest pin_;
  std::string id_;
  SecretBytes secret_;
};

}  // namespace mkeys::arrayjoin
