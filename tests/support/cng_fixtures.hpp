// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// CNG key files typed from the documented layout (docs/formats.md, "CNG key files"), not written
// by mkeys' own writer: an RSA 2048 key "rsa-key" and an ECDSA P-256 key "ec-key". Offsets are
// from the start of the file. Only the long key material (modulus, X, Y) is filled by code.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mkeys::test {

inline std::vector<std::uint8_t> FromHex(std::string_view text) {
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const int v =
        std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

inline void Append(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// A DPAPI blob's first 20 bytes (version 1, provider GUID df9d8cd0-1501-11d1-8c7a-00c04fc297eb)
// and 8 bytes of body: 28 bytes.
inline std::vector<std::uint8_t> DpapiStub() {
  return FromHex("01000000 d08c9ddf0115d1118c7a00c04fc297eb 0000000000000000");
}

// RSA 2048, name "rsa-key" (14 bytes of UTF-16LE); 481 bytes.
inline std::vector<std::uint8_t> CngRsa2048Fixture() {
  std::vector<std::uint8_t> f = FromHex(
      "01000000"                            // @0   version 1
      "00000000"                            // @4   0
      "0e000000"                            // @8   name length 14
      "01000300"                            // @12  type 0x30001 (RSA)
      "6f010000"                            // @16  public properties length 367 (44 + 323)
      "1c000000"                            // @20  private properties length 28
      "1c000000"                            // @24  private key length 28
      "00000000000000000000000000000000");  // @28 16 zero bytes
  Append(f, FromHex("7200 7300 6100 2d00 6b00 6500 7900"));  // @44 "rsa-key"
  // @58 property "Modified": length 44, type 1, unknown 0, name 16 bytes, value 8 bytes.
  Append(f, FromHex("2c000000 01000000 00000000 10000000 08000000"));
  Append(f, FromHex("4d006f00640069006600690065006400"));  // @78 "Modified"
  Append(f, FromHex("00c06a3f9e5fd901"));                  // @94 FILETIME
  // @102 property "Public Key": length 323 = 20 + 20 + 283, name 20 bytes, value 283 bytes.
  Append(f, FromHex("43010000 01000000 00000000 14000000 1b010000"));
  Append(f, FromHex("5000750062006c006900630020004b0065007900"));  // @122 "Public Key"
  // @142 BCRYPT_RSAKEY_BLOB: "RSA1", 2048 bits, exponent 3 bytes, modulus 256, primes 0, 0.
  Append(f, FromHex("52534131 00080000 03000000 00010000 00000000 00000000"));
  Append(f, FromHex("010001"));                  // @166 public exponent 65537 (big-endian)
  std::vector<std::uint8_t> modulus(256, 0x5b);  // @169 modulus, top bit set, odd
  modulus.front() = 0xc3;
  modulus.back() = 0x01;
  Append(f, modulus);
  Append(f, DpapiStub());  // @425 private properties (DPAPI)
  Append(f, DpapiStub());  // @453 private key (DPAPI); ends at 481
  return f;
}

// ECDSA P-256, name "ec-key" (12 bytes); 268 bytes.
inline std::vector<std::uint8_t> CngEcdsaP256Fixture() {
  std::vector<std::uint8_t> f = FromHex(
      "01000000"                            // @0   version 1
      "00000000"                            // @4   0
      "0c000000"                            // @8   name length 12
      "04000300"                            // @12  type 0x30004 (ECDSA)
      "9c000000"                            // @16  public properties length 156 (44 + 112)
      "1c000000"                            // @20  private properties length 28
      "1c000000"                            // @24  private key length 28
      "00000000000000000000000000000000");  // @28 16 zero bytes
  Append(f, FromHex("6500 6300 2d00 6b00 6500 7900"));  // @44 "ec-key"
  // @56 property "Modified" (44 bytes).
  Append(f, FromHex("2c000000 01000000 00000000 10000000 08000000"));
  Append(f, FromHex("4d006f00640069006600690065006400"));  // @76 "Modified"
  Append(f, FromHex("00c06a3f9e5fd901"));                  // @92 FILETIME
  // @100 property "Public Key": 112 = 20 + 20 + 72.
  Append(f, FromHex("70000000 01000000 00000000 14000000 48000000"));
  Append(f, FromHex("5000750062006c006900630020004b0065007900"));  // @120
  Append(f, FromHex("45435331 20000000"));         // @140 BCRYPT_ECCKEY_BLOB "ECS1", cbKey 32
  Append(f, std::vector<std::uint8_t>(64, 0x2a));  // @148 X, Y
  Append(f, DpapiStub());                          // @212 private properties
  Append(f, DpapiStub());                          // @240 private key; ends at 268
  return f;
}

}  // namespace mkeys::test
