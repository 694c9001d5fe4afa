// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// SecretBytes: key material, tokens, passwords. Zeroed on destruction (and on move-from),
// compared in constant time, never printable: there is no operator<<, no fmt formatter, and
// the only way to the bytes is the explicit, searchable RevealSecret().

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mkeys {

class SecretBytes final {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const std::uint8_t> bytes);
  explicit SecretBytes(std::size_t size);  // `size` zero bytes, to be filled through MutableSecret
  static SecretBytes FromString(std::string_view text);
  // `size` bytes from OpenSSL's CSPRNG.
  static SecretBytes Random(std::size_t size);

  SecretBytes(const SecretBytes& other);
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  // Constant-time in the contents (the sizes are not secret).
  bool operator==(const SecretBytes& other) const;
  bool operator!=(const SecretBytes& other) const { return !(*this == other); }

  // The bytes. Every use is a place where a secret leaves this type: keep them few.
  std::span<const std::uint8_t> RevealSecret() const { return bytes_; }
  std::span<std::uint8_t> MutableSecret() { return bytes_; }

 private:
  void Wipe();
  std::vector<std::uint8_t> bytes_;
};

// Constant-time comparison of two byte ranges of equal length (false if lengths differ).
bool ConstantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace mkeys
