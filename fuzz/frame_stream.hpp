// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared by the join protocol targets: split fuzz input into frames the way a peer's reader
// does (6-byte header, then exactly the body length it announces), and re-encode a message.
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "json_splice.hpp"
#include "mkeys/arrayjoin/wire.hpp"

namespace mkeys::fuzz {

// Calls `on_frame` for each frame until the input ends or a frame is refused, as a connection
// would be dropped at the first bad frame.
template <typename F>
void ForEachFrame(std::span<const std::uint8_t> bytes, F&& on_frame) {
  std::size_t offset = 0;
  while (bytes.size() - offset >= arrayjoin::kFrameHeaderSize) {
    auto header = arrayjoin::ParseFrameHeader(bytes.subspan(offset, arrayjoin::kFrameHeaderSize));
    if (!header) return;
    offset += arrayjoin::kFrameHeaderSize;
    if (bytes.size() - offset < header->body_length) return;  // the peer stopped sending
    auto frame =
        arrayjoin::ParseFrameBody(*header, bytes.subspan(offset, header->body_length), offset);
    if (!frame) return;
    offset += header->body_length;
    Check(frame->body.is_object(), "a parsed frame body is not an object");
    on_frame(*frame);
  }
}

// Encodes a frame and decodes the bytes again: our own encoding must always decode.
inline arrayjoin::Frame Reencode(const arrayjoin::Frame& frame) {
  auto bytes = arrayjoin::EncodeFrame(frame);
  Check(bytes.ok(), "a message we built does not encode");
  auto again = arrayjoin::DecodeFrame(*bytes);
  Check(again.ok(), "a frame we encoded does not decode");
  return *again;
}

// A frame of `type` around `body` (any length up to the limit), header as the wire wants it.
inline std::vector<std::uint8_t> FrameBytes(arrayjoin::MessageType type, std::string_view body) {
  std::vector<std::uint8_t> out = {arrayjoin::kProtocolVersion, static_cast<std::uint8_t>(type)};
  const auto len = static_cast<std::uint32_t>(body.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(len >> shift));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// Valid messages to splice the input into (json_splice.hpp): byte 0 picks the message.
class MessageSplicer final {
 public:
  void Add(const arrayjoin::Frame& frame) {
    messages_.emplace_back(frame.type, JsonSplicer(frame.body));
  }

  template <typename F>
  void Run(std::span<const std::uint8_t> data, F&& on_frame) const {
    if (data.empty() || messages_.empty()) return;
    const auto& [type, splicer] = messages_[data[0] % messages_.size()];
    if (auto body = splicer.Apply(data.subspan(1))) {
      ForEachFrame(FrameBytes(type, *body), on_frame);
    }
  }

 private:
  std::vector<std::pair<arrayjoin::MessageType, JsonSplicer>> messages_;
};

}  // namespace mkeys::fuzz
