// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one error type of mkeys. Every library returns Result<T>; no exception crosses a
// library boundary. See docs/CONTRIBUTING.md for the conventions.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mkeys {

// What went wrong, coarse enough to pick an exit code and for callers to branch on.
enum class ErrorCode : std::uint8_t {
  kInvalidArgument,  // the caller passed something malformed (a usage error at the CLI)
  kParse,            // input data is malformed (SDDL, bytes, files, frames); `position` says where
  kNotFound,         // a named object does not exist
  kExists,           // an object that must not exist does
  kAccessDenied,     // a (modelled) Windows access check said no
  kCorrupt,          // stored data fails its own integrity checks
  kIo,               // the operating system refused (open, read, xattr, rename, ...)
  kCrypto,           // OpenSSL failed or a MAC did not verify
  kNetwork,          // connecting, TLS or the peer failed
  kPeerRefused,      // the peer answered, and the answer is no (bad token, pin mismatch)
  kUnsupported,      // valid input mkeys does not handle
  kInternal,         // a bug in mkeys
};

std::string_view ErrorCodeName(ErrorCode code);

// Process exit codes, shared by every command (listed in `mkeys --help`).
enum ExitCode : int {
  kExitOk = 0,        // success / nothing found
  kExitNegative = 1,  // the answer is negative: denied, findings present, would fail
  kExitUsage = 2,     // usage error
  kExitInput = 3,     // input or environment error: missing file, corrupt data, I/O
  kExitPeer = 4,      // peer or network error
};

class Error final {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  // Adds where in the input the problem was (a byte or character offset).
  Error&& At(std::size_t position) && {
    position_ = position;
    return std::move(*this);
  }
  // Adds the object the error is about (a path, a container name, a peer address).
  Error&& On(std::string object) && {
    object_ = std::move(object);
    return std::move(*this);
  }
  // Adds the Windows error code the situation corresponds to (e.g. NTE_BAD_KEYSET).
  Error&& WithWindowsCode(std::uint32_t code) && {
    windows_code_ = code;
    return std::move(*this);
  }

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<std::size_t>& position() const { return position_; }
  const std::optional<std::string>& object() const { return object_; }
  const std::optional<std::uint32_t>& windows_code() const { return windows_code_; }

  // "OBJECT: MESSAGE (at offset N)" — the form every command prints.
  std::string ToString() const;
  // The exit code a command ends with when this error stops it.
  ExitCode ToExitCode() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::optional<std::size_t> position_;
  std::optional<std::string> object_;
  std::optional<std::uint32_t> windows_code_;
};

}  // namespace mkeys
