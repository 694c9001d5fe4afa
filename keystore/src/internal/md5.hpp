// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MD5 (RFC 1321), private to the keystore: the CSPs name container files by the MD5 of the
// lower-cased container name, and a scan recomputes it for every file of a store that may hold
// millions. Not used for any security purpose. A plain function of its input: no library state,
// no provider lookup (OpenSSL 3's EVP path cost ~2,000 instructions per name, this ~600), and it
// works where the crypto library is configured without MD5 (FIPS-only providers).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mkeys::keystore::md5 {

class Md5 {
 public:
  void Update(const std::uint8_t* data, std::size_t size) {
    length_ += size;
    while (size > 0) {
      const std::size_t take = std::min(size, kBlock - used_);
      std::memcpy(block_.data() + used_, data, take);
      used_ += take;
      data += take;
      size -= take;
      if (used_ == kBlock) {
        Compress(block_.data());
        used_ = 0;
      }
    }
  }

  std::array<std::uint8_t, 16> Final() {
    const std::uint64_t bits = length_ * 8;
    block_[used_++] = 0x80;
    if (used_ > kBlock - 8) {
      std::memset(block_.data() + used_, 0, kBlock - used_);
      Compress(block_.data());
      used_ = 0;
    }
    std::memset(block_.data() + used_, 0, kBlock - 8 - used_);
    for (std::size_t i = 0; i < 8; ++i)
      block_[kBlock - 8 + i] = static_cast<std::uint8_t>(bits >> (8 * i));
    Compress(block_.data());
    std::array<std::uint8_t, 16> out{};
    for (std::size_t w = 0; w < 4; ++w) {
      for (std::size_t i = 0; i < 4; ++i)
        out[4 * w + i] = static_cast<std::uint8_t>(state_[w] >> (8 * i));
    }
    return out;
  }

 private:
  static constexpr std::size_t kBlock = 64;

  static constexpr std::uint32_t Rotl(std::uint32_t x, unsigned s) {
    return (x << s) | (x >> (32 - s));
  }

  void Compress(const std::uint8_t* p) {
    // RFC 1321 section 3.4: T[i] = floor(2^32 * |sin(i + 1)|); per-round shift amounts.
    static constexpr std::uint32_t kT[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    std::uint32_t m[16];
    for (std::size_t i = 0; i < 16; ++i) {
      m[i] = static_cast<std::uint32_t>(p[4 * i]) |
             (static_cast<std::uint32_t>(p[4 * i + 1]) << 8) |
             (static_cast<std::uint32_t>(p[4 * i + 2]) << 16) |
             (static_cast<std::uint32_t>(p[4 * i + 3]) << 24);
    }
    const auto F = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) {
      return (x & y) | (~x & z);
    };
    const auto G = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) {
      return (x & z) | (y & ~z);
    };
    const auto H = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) { return x ^ y ^ z; };
    const auto I = [](std::uint32_t x, std::uint32_t y, std::uint32_t z) { return y ^ (x | ~z); };
    std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    // Four operations per iteration, the registers rotating as in the RFC's listing; word k of
    // the block in round 1, (1 + 5k) mod 16 in round 2, (5 + 3k) mod 16 in round 3, 7k mod 16
    // in round 4.
    for (unsigned k = 0; k < 16; k += 4) {
      a = b + Rotl(a + F(b, c, d) + m[k] + kT[k], 7);
      d = a + Rotl(d + F(a, b, c) + m[k + 1] + kT[k + 1], 12);
      c = d + Rotl(c + F(d, a, b) + m[k + 2] + kT[k + 2], 17);
      b = c + Rotl(b + F(c, d, a) + m[k + 3] + kT[k + 3], 22);
    }
    for (unsigned k = 0; k < 16; k += 4) {
      a = b + Rotl(a + G(b, c, d) + m[(1 + 5 * k) % 16] + kT[16 + k], 5);
      d = a + Rotl(d + G(a, b, c) + m[(6 + 5 * k) % 16] + kT[17 + k], 9);
      c = d + Rotl(c + G(d, a, b) + m[(11 + 5 * k) % 16] + kT[18 + k], 14);
      b = c + Rotl(b + G(c, d, a) + m[(16 + 5 * k) % 16] + kT[19 + k], 20);
    }
    for (unsigned k = 0; k < 16; k += 4) {
      a = b + Rotl(a + H(b, c, d) + m[(5 + 3 * k) % 16] + kT[32 + k], 4);
      d = a + Rotl(d + H(a, b, c) + m[(8 + 3 * k) % 16] + kT[33 + k], 11);
      c = d + Rotl(c + H(d, a, b) + m[(11 + 3 * k) % 16] + kT[34 + k], 16);
      b = c + Rotl(b + H(c, d, a) + m[(14 + 3 * k) % 16] + kT[35 + k], 23);
    }
    for (unsigned k = 0; k < 16; k += 4) {
      a = b + Rotl(a + I(b, c, d) + m[(7 * k) % 16] + kT[48 + k], 6);
      d = a + Rotl(d + I(a, b, c) + m[(7 * k + 7) % 16] + kT[49 + k], 10);
      c = d + Rotl(c + I(d, a, b) + m[(7 * k + 14) % 16] + kT[50 + k], 15);
      b = c + Rotl(b + I(c, d, a) + m[(7 * k + 21) % 16] + kT[51 + k], 21);
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
  }

  std::array<std::uint32_t, 4> state_ = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::array<std::uint8_t, kBlock> block_{};
  std::size_t used_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace mkeys::keystore::md5
