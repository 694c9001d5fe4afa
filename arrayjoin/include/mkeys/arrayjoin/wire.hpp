// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The join protocol's frames. Every message is one frame:
//
//   offset 0  u8   protocol version (1)
//   offset 1  u8   message type (MessageType)
//   offset 2  u32  body length, big-endian, at most kMaxFrameBody
//   offset 6  body: one JSON object (UTF-8), fields per message type (docs/arrayjoin.md)
//
// The parser is strict: unknown versions and types, over-long bodies, bodies that are not one
// JSON object, missing fields, fields of the wrong type or length are rejected with the byte
// offset. A fuzz target drives DecodeFrame.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mkeys/core/result.hpp"

namespace mkeys::arrayjoin {

inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 6;
inline constexpr std::size_t kMaxFrameBody = 256 * 1024;

enum class MessageType : std::uint8_t {
  kJoinHello = 1,      // member -> manager: token id + secret + session-bound proof, member keys
  kJoinOffer = 2,      // manager -> member: wrapped key material, member and CA certificates
  kJoinConfirm = 3,    // member -> manager: installed and verified; proof of unwrapping
  kJoinDone = 4,       // manager -> member: recorded
  kError = 5,          // either way: a refusal with a code, a message and a hint
  kMemberRequest = 6,  // member -> manager over mutual TLS: status, leave, sync
  kMemberReply = 7,    // manager -> member
};

std::string_view MessageTypeName(MessageType type);

struct FrameHeader {
  MessageType type;
  std::uint32_t body_length;
};

struct Frame {
  MessageType type;
  nlohmann::json body;  // always an object
};

// Validates the 6 header bytes: version, type, length bound.
Result<FrameHeader> ParseFrameHeader(std::span<const std::uint8_t> header);
// Parses a body of exactly header.body_length bytes. `base_offset` is added to error positions.
Result<Frame> ParseFrameBody(const FrameHeader& header, std::span<const std::uint8_t> body,
                             std::size_t base_offset = kFrameHeaderSize);
// A whole frame; trailing bytes are an error.
Result<Frame> DecodeFrame(std::span<const std::uint8_t> bytes);
// Encodes; fails only if the body is not an object or is too long.
Result<std::vector<std::uint8_t>> EncodeFrame(const Frame& frame);

// Typed access to body fields: each names the field in its error.
Result<std::string> GetString(const nlohmann::json& body, std::string_view field,
                              std::size_t max_length);
// A name: 1..max_length printable ASCII characters without control characters.
Result<std::string> GetName(const nlohmann::json& body, std::string_view field,
                            std::size_t max_length = 128);
// Lower- or upper-case hex, decoded; exact length in bytes (or at most max_bytes when exact = 0).
Result<std::vector<std::uint8_t>> GetHex(const nlohmann::json& body, std::string_view field,
                                         std::size_t exact_bytes, std::size_t max_bytes = 0);
Result<std::uint64_t> GetUint(const nlohmann::json& body, std::string_view field,
                              std::uint64_t max_value);

// An error frame body.
nlohmann::json ErrorBody(std::string_view code, std::string_view message, std::string_view hint);

}  // namespace mkeys::arrayjoin
