// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The join conversation, message by message, on top of wire.hpp's frames. Both sides and the
// fuzz targets use these encoders and strict decoders.
//
//   member                                   manager
//   TLS 1.3 handshake; member checks SHA-256(manager SPKI) == pin from the token
//   JoinHello {token_id, token_secret, proof, member, wrap_key, member_key}  ->
//                        <- JoinOffer {array, array_id, version, member, items[], member_cert,
//                                      ca_cert}                  (or Error {code, message, hint})
//   (member installs under staging names, verifies as the service identity, renames)
//   JoinConfirm {check}                       ->
//                        <- JoinDone {member, joined_at}         (or Error)
//
// proof = HMAC-SHA256(token secret, "mkeys-join-proof-v1" || 0 || EKM || member || 0 || wrap_key)
// check = HMAC-SHA256(config key,   "mkeys-join-confirm-v1" || 0 || EKM)
// EKM   = SSL_export_keying_material(label "EXPORTER-mkeys-join-v1", no context, 32 bytes): a
//         transcript recorded in one TLS session proves nothing in another.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/arrayjoin/wire.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

namespace mkeys::arrayjoin {

inline constexpr std::string_view kEkmLabel = "EXPORTER-mkeys-join-v1";
inline constexpr std::size_t kEkmSize = 32;
using Ekm = std::array<std::uint8_t, kEkmSize>;

// Item kinds in an offer.
inline constexpr std::string_view kItemRsa = "rsa-pkcs8";      // the array RSA key pair
inline constexpr std::string_view kItemConfig = "config-key";  // 256-bit config storage key

Digest JoinProof(const SecretBytes& token_secret, const Ekm& ekm, std::string_view member,
                 std::span<const std::uint8_t, 32> wrap_key);
Digest ConfirmCheck(const SecretBytes& config_key, const Ekm& ekm);

struct JoinHello {
  std::string token_id;
  SecretBytes token_secret;
  Digest proof{};
  std::string member;
  std::array<std::uint8_t, 32> wrap_key{};   // the member's fresh X25519 public key
  std::vector<std::uint8_t> member_key_der;  // the member's EC P-256 SPKI, for its certificate
};

struct OfferItem {
  std::string container;
  std::string kind;  // kItemRsa or kItemConfig
  std::uint32_t version = 0;
  WrappedSecret wrapped;
};

struct JoinOffer {
  std::string array;
  std::string array_id;
  std::uint32_t version = 0;
  std::string member;
  std::vector<OfferItem> items;
  std::string member_cert_pem;
  std::string ca_cert_pem;
};

struct JoinConfirm {
  Digest check{};
};

struct JoinDone {
  std::string member;
  std::int64_t joined_at = 0;
};

struct PeerError {
  std::string code;  // "token-expired", "token-revoked", "token-used-up", "token-unknown",
                     // "token-invalid", "proof-mismatch", "bad-request", "too-many-failures",
                     // "not-a-member", "certificate-revoked", "name-taken", "confirm-mismatch",
                     // "internal"
  std::string message;
  std::string hint;
};

// Per refusal code: may the same request succeed later, and what the user should know.
struct RefusalAdvice {
  bool retryable = false;
  std::string_view text;
};
RefusalAdvice AdviceFor(std::string_view code);

// Requests a joined member makes over mutual TLS (its member certificate).
struct MemberRequest {
  std::string op;  // "status", "leave", "sync"
  std::uint32_t have_version = 0;
  std::array<std::uint8_t, 32> wrap_key{};  // sync only: a fresh X25519 key
};
struct MemberReply {
  bool member = false;
  std::uint32_t current_version = 0;
  std::vector<OfferItem> items;  // sync: versions newer than have_version
  // Where the manager can be reached now (HOST:PORT, at most kMaxEndpoints); members remember
  // them. Optional on the wire.
  std::vector<std::string> endpoints;
};
inline constexpr std::size_t kMaxEndpoints = 8;

Frame EncodeHello(const JoinHello& m);
Frame EncodeOffer(const JoinOffer& m);
Frame EncodeConfirm(const JoinConfirm& m);
Frame EncodeDone(const JoinDone& m);
Frame EncodeError(const PeerError& m);
Frame EncodeMemberRequest(const MemberRequest& m);
Frame EncodeMemberReply(const MemberReply& m);

// Each checks the frame type and every field.
Result<JoinHello> DecodeHello(const Frame& f);
Result<JoinOffer> DecodeOffer(const Frame& f);
Result<JoinConfirm> DecodeConfirm(const Frame& f);
Result<JoinDone> DecodeDone(const Frame& f);
Result<PeerError> DecodeError(const Frame& f);
Result<MemberRequest> DecodeMemberRequest(const Frame& f);
Result<MemberReply> DecodeMemberReply(const Frame& f);

// Array names: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
Result<void> ValidateArrayName(std::string_view name);
// Member names: 1-64 of [A-Za-z0-9._-] (host names).
Result<void> ValidateMemberName(std::string_view name);

}  // namespace mkeys::arrayjoin
