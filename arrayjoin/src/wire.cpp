// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/wire.hpp"

#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin {
namespace {

Error FieldError(std::string_view field, std::string_view what) {
  return Error(ErrorCode::kParse,
               "frame field \"" + std::string(field) + "\" " + std::string(what));
}

}  // namespace

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kJoinHello:
      return "join-hello";
    case MessageType::kJoinOffer:
      return "join-offer";
    case MessageType::kJoinConfirm:
      return "join-confirm";
    case MessageType::kJoinDone:
      return "join-done";
    case MessageType::kError:
      return "error";
    case MessageType::kMemberRequest:
      return "member-request";
    case MessageType::kMemberReply:
      return "member-reply";
  }
  return "unknown";
}

Result<FrameHeader> ParseFrameHeader(std::span<const std::uint8_t> header) {
  if (header.size() < kFrameHeaderSize) {
    return Error(ErrorCode::kParse,
                 "frame header is truncated: " + std::to_string(header.size()) + " of 6 bytes")
        .At(header.size());
  }
  if (header[0] != kProtocolVersion) {
    return Error(ErrorCode::kParse, "unsupported protocol version " + std::to_string(header[0]) +
                                        " (this mkeys speaks version 1; is the peer an mkeys "
                                        "array manager or member?)")
        .At(0);
  }
  if (header[1] < 1 || header[1] > 7) {
    return Error(ErrorCode::kParse, "unknown message type " + std::to_string(header[1])).At(1);
  }
  const std::uint32_t len = (std::uint32_t{header[2]} << 24) | (std::uint32_t{header[3]} << 16) |
                            (std::uint32_t{header[4]} << 8) | std::uint32_t{header[5]};
  if (len > kMaxFrameBody) {
    return Error(ErrorCode::kParse, "frame body of " + std::to_string(len) +
                                        " bytes exceeds the limit of " +
                                        std::to_string(kMaxFrameBody))
        .At(2);
  }
  if (len < 2) {
    return Error(ErrorCode::kParse,
                 "frame body of " + std::to_string(len) + " bytes cannot hold a JSON object")
        .At(2);
  }
  return FrameHeader{static_cast<MessageType>(header[1]), len};
}

Result<Frame> ParseFrameBody(const FrameHeader& header, std::span<const std::uint8_t> body,
                             std::size_t base_offset) {
  if (body.size() != header.body_length) {
    return Error(ErrorCode::kParse, "frame body has " + std::to_string(body.size()) +
                                        " bytes, the header says " +
                                        std::to_string(header.body_length))
        .At(base_offset + std::min<std::size_t>(body.size(), header.body_length));
  }
  // Bound the nesting before handing the bytes to the JSON parser: no message nests deeper
  // than 4, and a fuzzer's "[[[[..." must not exhaust the stack.
  constexpr int kMaxDepth = 8;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = static_cast<char>(body[i]);
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return Error(ErrorCode::kParse,
                     "frame body nests deeper than " + std::to_string(kMaxDepth) + " levels")
            .At(base_offset + i);
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return Error(ErrorCode::kParse, "frame body is not valid JSON").At(base_offset + at);
  } catch (const std::exception&) {
    return Error(ErrorCode::kParse, "frame body is not valid JSON").At(base_offset);
  }
  if (!doc.is_object()) {
    return Error(ErrorCode::kParse, "frame body must be a JSON object").At(base_offset);
  }
  return Frame{header.type, std::move(doc)};
}

Result<Frame> DecodeFrame(std::span<const std::uint8_t> bytes) {
  MKEYS_ASSIGN_OR_RETURN(FrameHeader header, ParseFrameHeader(bytes));
  const std::size_t available = bytes.size() - kFrameHeaderSize;
  if (available < header.body_length) {
    return Error(ErrorCode::kParse, "frame is truncated: body has " + std::to_string(available) +
                                        " of " + std::to_string(header.body_length) + " bytes")
        .At(bytes.size());
  }
  if (available > header.body_length) {
    return Error(ErrorCode::kParse, "trailing bytes after the frame")
        .At(kFrameHeaderSize + header.body_length);
  }
  return ParseFrameBody(header, bytes.subspan(kFrameHeaderSize));
}

Result<std::vector<std::uint8_t>> EncodeFrame(const Frame& frame) {
  if (!frame.body.is_object()) {
    return Error(ErrorCode::kInternal, "frame body must be a JSON object");
  }
  const std::string body = frame.body.dump(-1, ' ', true, nlohmann::json::error_handler_t::strict);
  if (body.size() > kMaxFrameBody) {
    return Error(ErrorCode::kInternal, "frame body too long: " + std::to_string(body.size()));
  }
  std::vector<std::uint8_t> out;
  out.reserve(kFrameHeaderSize + body.size());
  const auto len = static_cast<std::uint32_t>(body.size());
  out.push_back(kProtocolVersion);
  out.push_back(static_cast<std::uint8_t>(frame.type));
  out.push_back(static_cast<std::uint8_t>(len >> 24));
  out.push_back(static_cast<std::uint8_t>(len >> 16));
  out.push_back(static_cast<std::uint8_t>(len >> 8));
  out.push_back(static_cast<std::uint8_t>(len));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<std::string> GetString(const nlohmann::json& body, std::string_view field,
                              std::size_t max_length) {
  const auto it = body.find(std::string(field));
  if (it == body.end()) {
    return FieldError(field, "is missing");
  }
  if (!it->is_string()) {
    return FieldError(field, "must be a string");
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_length) {
    return FieldError(field, "is longer than " + std::to_string(max_length) + " bytes");
  }
  return s;
}

Result<std::string> GetName(const nlohmann::json& body, std::string_view field,
                            std::size_t max_length) {
  MKEYS_ASSIGN_OR_RETURN(std::string s, GetString(body, field, max_length));
  if (s.empty()) {
    return FieldError(field, "is empty");
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f) {
      return FieldError(field,
                        "has a control or non-ASCII character at index " + std::to_string(i));
    }
  }
  return s;
}

Result<std::vector<std::uint8_t>> GetHex(const nlohmann::json& body, std::string_view field,
                                         std::size_t exact_bytes, std::size_t max_bytes) {
  const std::size_t limit = exact_bytes != 0 ? exact_bytes : max_bytes;
  MKEYS_ASSIGN_OR_RETURN(std::string s, GetString(body, field, limit * 2));
  auto bytes = HexDecode(s);
  if (!bytes) {
    return FieldError(field, "is not hex (at character " +
                                 std::to_string(bytes.error().position().value_or(0)) + ")");
  }
  if (exact_bytes != 0 && bytes->size() != exact_bytes) {
    return FieldError(field, "must be " + std::to_string(exact_bytes) + " bytes, not " +
                                 std::to_string(bytes->size()));
  }
  return bytes;
}

Result<std::uint64_t> GetUint(const nlohmann::json& body, std::string_view field,
                              std::uint64_t max_value) {
  const auto it = body.find(std::string(field));
  if (it == body.end()) {
    return FieldError(field, "is missing");
  }
  if (!it->is_number_integer() || (!it->is_number_unsigned() && it->get<std::int64_t>() < 0)) {
    return FieldError(field, "must be a non-negative integer");
  }
  const auto v = it->get<std::uint64_t>();
  if (v > max_value) {
    return FieldError(field, "is larger than " + std::to_string(max_value));
  }
  return v;
}

nlohmann::json ErrorBody(std::string_view code, std::string_view message, std::string_view hint) {
  return {{"code", code}, {"message", message}, {"hint", hint}};
}

}  // namespace mkeys::arrayjoin
