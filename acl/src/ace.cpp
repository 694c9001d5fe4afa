// SPDX-License-Identifier: GPL-3.0-or-later
// MS-DTYP 2.4.4: ACEs and their binary form. One struct for every ACE type; object ACEs carry
// their flags and GUIDs, everything past the SID (conditional expressions, resource
// attributes) is kept as opaque bytes so that encode(decode(x)) == x.
#include "mkeys/acl/ace.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "mkeys/core/le.hpp"

namespace mkeys::acl {
namespace {

constexpr std::size_t kGuidTextLength = 36;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsObjectType(AceType type) {
  switch (type) {
    case AceType::kAccessAllowedObject:
    case AceType::kAccessDeniedObject:
    case AceType::kSystemAuditObject:
    case AceType::kSystemAlarmObject:
    case AceType::kAccessAllowedCallbackObject:
    case AceType::kAccessDeniedCallbackObject:
    case AceType::kSystemAuditCallbackObject:
    case AceType::kSystemAlarmCallbackObject:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<Guid> Guid::Parse(std::string_view text) {
  // 8-4-4-4-12 hex digits; the first three groups are little-endian in the binary form.
  if (text.size() != kGuidTextLength) {
    return Error(ErrorCode::kParse,
                 fmt::format("a GUID has 36 characters (8-4-4-4-12), not {}", text.size()))
        .At(std::min(text.size(), kGuidTextLength));
  }
  std::array<std::uint8_t, 16> raw{};  // in text order
  std::size_t byte = 0;
  for (std::size_t i = 0; i < kGuidTextLength;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return Error(ErrorCode::kParse, "a GUID has '-' after 8, 12, 16 and 20 digits").At(i);
      }
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = i + 1 < kGuidTextLength ? HexValue(text[i + 1]) : -1;
    if (hi < 0) return Error(ErrorCode::kParse, "a GUID holds hex digits").At(i);
    if (lo < 0) return Error(ErrorCode::kParse, "a GUID holds hex digits").At(i + 1);
    raw[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  Guid g;
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i)
    g.bytes[static_cast<std::size_t>(i)] = raw[static_cast<std::size_t>(order[i])];
  return g;
}

std::string Guid::ToString() const {
  const auto& b = bytes;
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

bool Ace::IsAllow() const {
  return type == AceType::kAccessAllowed || type == AceType::kAccessAllowedObject ||
         type == AceType::kAccessAllowedCallback || type == AceType::kAccessAllowedCallbackObject;
}

bool Ace::IsDeny() const {
  return type == AceType::kAccessDenied || type == AceType::kAccessDeniedObject ||
         type == AceType::kAccessDeniedCallback || type == AceType::kAccessDeniedCallbackObject;
}

bool Ace::IsObjectAce() const {
  return IsObjectType(type);
}

std::size_t Ace::ByteSize() const {
  std::size_t size = 8 + sid.ByteSize() + application_data.size();
  if (IsObjectAce()) {
    size += 4;
    if (object_type) size += 16;
    if (inherited_object_type) size += 16;
  }
  return size;
}

void Ace::AppendTo(std::vector<std::uint8_t>& out) const {
  out.push_back(static_cast<std::uint8_t>(type));
  out.push_back(flags);
  le::Put16(out, static_cast<std::uint16_t>(ByteSize()));
  le::Put32(out, mask);
  if (IsObjectAce()) {
    std::uint32_t object_flags = 0;
    if (object_type) object_flags |= object_ace_flags::kObjectTypePresent;
    if (inherited_object_type) object_flags |= object_ace_flags::kInheritedObjectTypePresent;
    le::Put32(out, object_flags);
    if (object_type) out.insert(out.end(), object_type->bytes.begin(), object_type->bytes.end());
    if (inherited_object_type) {
      out.insert(out.end(), inherited_object_type->bytes.begin(),
                 inherited_object_type->bytes.end());
    }
  }
  sid.AppendTo(out);
  out.insert(out.end(), application_data.begin(), application_data.end());
}

Result<Ace> Ace::Decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4) {
    return Error(ErrorCode::kParse,
                 fmt::format("an ACE header needs 4 bytes, {} available", bytes.size()));
  }
  const std::uint8_t raw_type = bytes[0];
  const std::size_t size = static_cast<std::size_t>(bytes[2]) | static_cast<std::size_t>(bytes[3])
                                                                    << 8;
  if (size > bytes.size()) {
    return Error(ErrorCode::kParse,
                 fmt::format("AceSize {} exceeds the {} bytes available", size, bytes.size()))
        .At(2);
  }
  if (raw_type > static_cast<std::uint8_t>(AceType::kSystemScopedPolicyId) ||
      raw_type == static_cast<std::uint8_t>(AceType::kAccessAllowedCompound)) {
    return Error(ErrorCode::kUnsupported, fmt::format("unsupported ACE type 0x{:02x}", raw_type))
        .At(0);
  }
  Ace ace;
  ace.type = static_cast<AceType>(raw_type);
  ace.flags = bytes[1];
  const auto body = bytes.first(size);
  std::size_t pos = 4;
  if (size < pos + 4) {
    return Error(ErrorCode::kParse, fmt::format("AceSize {} leaves no room for the mask", size))
        .At(2);
  }
  ace.mask = le::Read32(body, pos);
  pos += 4;
  if (ace.IsObjectAce()) {
    if (size < pos + 4) {
      return Error(ErrorCode::kParse, "object ACE too short for its flags").At(pos);
    }
    const std::uint32_t object_flags = le::Read32(body, pos);
    if ((object_flags & ~std::uint32_t{3}) != 0) {
      return Error(ErrorCode::kParse,
                   fmt::format("object ACE flags 0x{:x} has unknown bits", object_flags))
          .At(pos);
    }
    pos += 4;
    for (std::uint32_t bit :
         {object_ace_flags::kObjectTypePresent, object_ace_flags::kInheritedObjectTypePresent}) {
      if ((object_flags & bit) == 0) continue;
      if (size < pos + 16) {
        return Error(ErrorCode::kParse, "object ACE too short for its GUID").At(pos);
      }
      Guid g;
      std::copy(body.begin() + static_cast<std::ptrdiff_t>(pos),
                body.begin() + static_cast<std::ptrdiff_t>(pos + 16), g.bytes.begin());
      (bit == object_ace_flags::kObjectTypePresent ? ace.object_type : ace.inherited_object_type) =
          g;
      pos += 16;
    }
  }
  auto sid = Sid::Decode(body.subspan(pos));
  if (!sid) {
    Error e = std::move(sid).error();
    const std::size_t where = pos + e.position().value_or(0);
    return Error(ErrorCode::kParse, "ACE SID: " + e.message()).At(where);
  }
  ace.sid = *sid;
  pos += sid->ByteSize();
  ace.application_data.assign(body.begin() + static_cast<std::ptrdiff_t>(pos), body.end());
  return ace;
}

Ace AllowAce(const Sid& sid, AccessMask mask, std::uint8_t flags) {
  Ace ace;
  ace.type = AceType::kAccessAllowed;
  ace.flags = flags;
  ace.mask = mask;
  ace.sid = sid;
  return ace;
}

Ace DenyAce(const Sid& sid, AccessMask mask, std::uint8_t flags) {
  Ace ace = AllowAce(sid, mask, flags);
  ace.type = AceType::kAccessDenied;
  return ace;
}

}  // namespace mkeys::acl
