// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/core/error.hpp"

#include <fmt/format.h>

namespace mkeys {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid-argument";
    case ErrorCode::kParse:
      return "parse";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kExists:
      return "exists";
    case ErrorCode::kAccessDenied:
      return "access-denied";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kCrypto:
      return "crypto";
    case ErrorCode::kNetwork:
      return "network";
    case ErrorCode::kPeerRefused:
      return "peer-refused";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Error::ToString() const {
  std::string out;
  if (object_) {
    out = fmt::format("{}: ", *object_);
  }
  out += message_;
  if (position_) {
    out += fmt::format(" (at offset {})", *position_);
  }
  return out;
}

ExitCode Error::ToExitCode() const {
  switch (code_) {
    case ErrorCode::kInvalidArgument:
      return kExitUsage;
    case ErrorCode::kAccessDenied:
      return kExitNegative;
    case ErrorCode::kNetwork:
    case ErrorCode::kPeerRefused:
      return kExitPeer;
    default:
      return kExitInput;
  }
}

}  // namespace mkeys
