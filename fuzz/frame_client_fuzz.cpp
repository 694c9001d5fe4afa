// SPDX-License-Identifier: GPL-3.0-or-later
// The join protocol as a member reads it: a stream of frames from a manager it does not trust
// yet (JoinOffer, JoinDone, Error, MemberReply), parsed header first and body second as the
// client does, then decoded strictly; and the join token the user pastes. Whatever decodes
// re-encodes to a frame that decodes to the same message.
// fuzz-links: mkeys::core OpenSSL::Crypto nlohmann_json::nlohmann_json
// fuzz-sources: arrayjoin/src/wire.cpp arrayjoin/src/protocol.cpp arrayjoin/src/join_token.cpp
// fuzz-sources: arrayjoin/src/crypto.cpp
#include <cstdint>
#include <span>
#include <string_view>

#include "frame_stream.hpp"
#include "fuzz_check.hpp"
#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/protocol.hpp"

using mkeys::fuzz::Check;
namespace aj = mkeys::arrayjoin;

namespace {

bool SameItems(const std::vector<aj::OfferItem>& a, const std::vector<aj::OfferItem>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].container != b[i].container || a[i].kind != b[i].kind ||
        a[i].version != b[i].version ||
        a[i].wrapped.ephemeral_public != b[i].wrapped.ephemeral_public ||
        a[i].wrapped.nonce != b[i].wrapped.nonce ||
        a[i].wrapped.ciphertext != b[i].wrapped.ciphertext) {
      return false;
    }
  }
  return true;
}

void DecodeAsClient(const aj::Frame& frame) {
  if (auto offer = aj::DecodeOffer(frame)) {
    auto again = aj::DecodeOffer(mkeys::fuzz::Reencode(aj::EncodeOffer(*offer)));
    Check(again.ok(), "an offer we encoded does not decode");
    Check(again->array == offer->array && again->array_id == offer->array_id &&
              again->version == offer->version && again->member == offer->member &&
              again->member_cert_pem == offer->member_cert_pem &&
              again->ca_cert_pem == offer->ca_cert_pem && SameItems(again->items, offer->items),
          "an offer does not round-trip");
  }
  if (auto done = aj::DecodeDone(frame)) {
    auto again = aj::DecodeDone(mkeys::fuzz::Reencode(aj::EncodeDone(*done)));
    Check(again.ok() && again->member == done->member && again->joined_at == done->joined_at,
          "a done message does not round-trip");
  }
  if (auto error = aj::DecodeError(frame)) {
    auto again = aj::DecodeError(mkeys::fuzz::Reencode(aj::EncodeError(*error)));
    Check(again.ok() && again->code == error->code && again->message == error->message &&
              again->hint == error->hint,
          "an error message does not round-trip");
  }
  if (auto reply = aj::DecodeMemberReply(frame)) {
    auto again = aj::DecodeMemberReply(mkeys::fuzz::Reencode(aj::EncodeMemberReply(*reply)));
    Check(again.ok() && again->member == reply->member &&
              again->current_version == reply->current_version &&
              SameItems(again->items, reply->items) && again->endpoints == reply->endpoints,
          "a member reply does not round-trip");
  }
}

mkeys::fuzz::MessageSplicer MakeSplicer() {
  aj::OfferItem item;
  item.container = "TMG-array-key";
  item.kind = std::string(aj::kItemRsa);
  item.version = 3;
  item.wrapped.ciphertext.assign(32, 0xab);
  aj::JoinOffer offer{"tmg-array",
                      "0123456789abcdef",
                      3,
                      "web01.example.org",
                      {item, item},
                      "-----BEGIN CERTIFICATE-----",
                      "-----BEGIN CERTIFICATE-----"};
  mkeys::fuzz::MessageSplicer splicer;
  splicer.Add(aj::EncodeOffer(offer));
  splicer.Add(aj::EncodeDone({"web01.example.org", 1735787045}));
  splicer.Add(aj::EncodeError({"token-expired", "the token expired", "ask for a new one"}));
  splicer.Add(aj::EncodeMemberReply({true, 4, {item}, {"manager.example.org:4763", "[::1]:4763"}}));
  return splicer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  (void)aj::DecodeFrame(bytes);
  mkeys::fuzz::ForEachFrame(bytes, DecodeAsClient);
  static const auto splicer = MakeSplicer();
  splicer.Run(bytes, DecodeAsClient);
  // A join token (or a token file: surrounding white space is ignored).
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto token = aj::JoinToken::Parse(text)) {
    const auto revealed = token->Reveal();
    const auto chars = revealed.RevealSecret();
    auto again = aj::JoinToken::Parse(
        std::string_view(reinterpret_cast<const char*>(chars.data()), chars.size()));
    Check(again.ok() && again->id() == token->id() && again->pin() == token->pin() &&
              again->secret() == token->secret(),
          "a join token does not round-trip");
  }
  if (auto decoded = aj::Base32Decode(text)) {
    auto again = aj::Base32Decode(aj::Base32Encode(*decoded));
    Check(again.ok() && *again == *decoded, "base32 does not round-trip");
  }
  return 0;
}
