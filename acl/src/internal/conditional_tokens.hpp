// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to mkeys::acl: the byte codes of conditional-ACE programs (MS-DTYP 2.4.4.17.4 -
// 2.4.4.17.7) shared by the compiler (conditional_compile.cpp) and the formatter
// (conditional_format.cpp).

#include <cstdint>

namespace mkeys::acl::internal::cond {

enum Tok : std::uint8_t {
  kPad = 0x00,
  kInt8 = 0x01,
  kInt16 = 0x02,
  kInt32 = 0x03,
  kInt64 = 0x04,
  kString = 0x10,
  kOctets = 0x18,
  kComposite = 0x50,
  kSidTok = 0x51,
  kAnd = 0xa0,
  kOr = 0xa1,
  kNot = 0xa2,
  kLocalAttr = 0xf8,
  kUserAttr = 0xf9,
  kResourceAttr = 0xfa,
  kDeviceAttr = 0xfb,
};

// Integer literal sign and base bytes (2.4.4.17.5).
inline constexpr std::uint8_t kSignPlus = 0x01;
inline constexpr std::uint8_t kSignMinus = 0x02;
inline constexpr std::uint8_t kSignNone = 0x03;
inline constexpr std::uint8_t kBaseOctal = 0x01;
inline constexpr std::uint8_t kBaseDecimal = 0x02;
inline constexpr std::uint8_t kBaseHex = 0x03;

struct OpName {
  std::uint8_t token;
  const char* text;
  bool unary;
};
// Relational and membership operators. Longer names first so that parsing finds
// "Not_Member_of_Any" before "Not_Member_of".
inline constexpr OpName kOps[] = {
    {0x93, "Not_Device_Member_of_Any", true},
    {0x92, "Not_Member_of_Any", true},
    {0x91, "Not_Device_Member_of", true},
    {0x90, "Not_Member_of", true},
    {0x8c, "Device_Member_of_Any", true},
    {0x8b, "Member_of_Any", true},
    {0x8a, "Device_Member_of", true},
    {0x89, "Member_of", true},
    {0x8d, "Not_Exists", true},
    {0x87, "Exists", true},
    {0x8f, "Not_Any_of", false},
    {0x8e, "Not_Contains", false},
    {0x88, "Any_of", false},
    {0x86, "Contains", false},
    {0x80, "==", false},
    {0x81, "!=", false},
    {0x83, "<=", false},
    {0x85, ">=", false},
    {0x82, "<", false},
    {0x84, ">", false},
};

inline const OpName* FindOp(std::uint8_t token) {
  for (const auto& op : kOps) {
    if (op.token == token) return &op;
  }
  return nullptr;
}

inline constexpr std::uint8_t kSignature[4] = {'a', 'r', 't', 'x'};

// Characters an attribute name carries as they are (MS-DTYP 2.5.1.1 attr-char); every other
// UTF-16 code unit is written "%XXXX".
constexpr bool IsPlainAttrChar(std::uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.' || c == '/' || c == '_';
}

}  // namespace mkeys::acl::internal::cond
