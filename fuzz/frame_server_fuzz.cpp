// SPDX-License-Identifier: GPL-3.0-or-later
// The join protocol as the manager reads it: a stream of frames from an untrusted member
// (JoinHello, JoinConfirm, Error, MemberRequest), parsed header first and body second exactly
// as the server does, then decoded strictly. Whatever decodes re-encodes to a frame that
// decodes to the same message.
// fuzz-links: mkeys::core OpenSSL::Crypto nlohmann_json::nlohmann_json
// fuzz-sources: arrayjoin/src/wire.cpp arrayjoin/src/protocol.cpp arrayjoin/src/join_token.cpp
// fuzz-sources: arrayjoin/src/crypto.cpp
#include <array>
#include <cstdint>
#include <span>

#include "frame_stream.hpp"
#include "fuzz_check.hpp"
#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/protocol.hpp"

using mkeys::fuzz::Check;
namespace aj = mkeys::arrayjoin;

namespace {

void DecodeAsServer(const aj::Frame& frame) {
  if (auto hello = aj::DecodeHello(frame)) {
    auto again = aj::DecodeHello(mkeys::fuzz::Reencode(aj::EncodeHello(*hello)));
    Check(again.ok(), "a hello we encoded does not decode");
    Check(again->token_id == hello->token_id && again->member == hello->member &&
              again->proof == hello->proof && again->wrap_key == hello->wrap_key &&
              again->member_key_der == hello->member_key_der &&
              again->token_secret == hello->token_secret,
          "a hello does not round-trip");
  }
  if (auto confirm = aj::DecodeConfirm(frame)) {
    auto again = aj::DecodeConfirm(mkeys::fuzz::Reencode(aj::EncodeConfirm(*confirm)));
    Check(again.ok() && again->check == confirm->check, "a confirm does not round-trip");
  }
  if (auto error = aj::DecodeError(frame)) {
    auto again = aj::DecodeError(mkeys::fuzz::Reencode(aj::EncodeError(*error)));
    Check(again.ok() && again->code == error->code && again->message == error->message &&
              again->hint == error->hint,
          "an error message does not round-trip");
  }
  if (auto request = aj::DecodeMemberRequest(frame)) {
    auto again = aj::DecodeMemberRequest(mkeys::fuzz::Reencode(aj::EncodeMemberRequest(*request)));
    Check(again.ok() && again->op == request->op && again->have_version == request->have_version &&
              again->wrap_key == request->wrap_key,
          "a member request does not round-trip");
  }
}

mkeys::fuzz::MessageSplicer MakeSplicer() {
  std::array<std::uint8_t, 32> key{};
  key.fill(7);
  aj::JoinHello hello;
  hello.token_id = "0123456789abcdef";
  hello.token_secret = mkeys::SecretBytes(std::vector<std::uint8_t>(aj::kTokenSecretBytes, 1));
  hello.member = "web01.example.org";
  hello.wrap_key = key;
  hello.member_key_der.assign(91, 0x30);
  mkeys::fuzz::MessageSplicer splicer;
  splicer.Add(aj::EncodeHello(hello));
  splicer.Add(aj::EncodeConfirm({}));
  splicer.Add(aj::EncodeError({"proof-mismatch", "the proof does not match", "a new token"}));
  splicer.Add(aj::EncodeMemberRequest({"sync", 3, key}));
  return splicer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  (void)aj::DecodeFrame(bytes);
  mkeys::fuzz::ForEachFrame(bytes, DecodeAsServer);
  static const auto splicer = MakeSplicer();
  splicer.Run(bytes, DecodeAsServer);
  return 0;
}
