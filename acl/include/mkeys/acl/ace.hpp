// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.4.4: access control entries. One struct for every ACE type; the fields an ACE type
// does not use stay empty. Object ACEs carry GUIDs; callback (conditional) ACEs, resource
// attribute and scoped-policy ACEs keep their trailing bytes as opaque `application_data`, so
// they round-trip byte for byte.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

enum class AceType : std::uint8_t {
  kAccessAllowed = 0x00,
  kAccessDenied = 0x01,
  kSystemAudit = 0x02,
  kSystemAlarm = 0x03,
  kAccessAllowedCompound = 0x04,
  kAccessAllowedObject = 0x05,
  kAccessDeniedObject = 0x06,
  kSystemAuditObject = 0x07,
  kSystemAlarmObject = 0x08,
  kAccessAllowedCallback = 0x09,
  kAccessDeniedCallback = 0x0A,
  kAccessAllowedCallbackObject = 0x0B,
  kAccessDeniedCallbackObject = 0x0C,
  kSystemAuditCallback = 0x0D,
  kSystemAlarmCallback = 0x0E,
  kSystemAuditCallbackObject = 0x0F,
  kSystemAlarmCallbackObject = 0x10,
  kSystemMandatoryLabel = 0x11,
  kSystemResourceAttribute = 0x12,
  kSystemScopedPolicyId = 0x13,
};

namespace ace_flags {
inline constexpr std::uint8_t kObjectInherit = 0x01;       // OI
inline constexpr std::uint8_t kContainerInherit = 0x02;    // CI
inline constexpr std::uint8_t kNoPropagateInherit = 0x04;  // NP
inline constexpr std::uint8_t kInheritOnly = 0x08;         // IO
inline constexpr std::uint8_t kInherited = 0x10;           // ID
inline constexpr std::uint8_t kCritical = 0x20;            // CR (Windows 8+, on allowed ACEs)
inline constexpr std::uint8_t kSuccessfulAccess = 0x40;    // SA
inline constexpr std::uint8_t kFailedAccess = 0x80;        // FA
inline constexpr std::uint8_t kInheritanceFlags =
    kObjectInherit | kContainerInherit | kNoPropagateInherit | kInheritOnly;
}  // namespace ace_flags

// Object-ACE flags (ACE_OBJECT_TYPE_PRESENT, ACE_INHERITED_OBJECT_TYPE_PRESENT).
namespace object_ace_flags {
inline constexpr std::uint32_t kObjectTypePresent = 0x1;
inline constexpr std::uint32_t kInheritedObjectTypePresent = 0x2;
}  // namespace object_ace_flags

// A GUID in its binary (mixed-endian) layout, as stored in an object ACE.
struct Guid {
  std::array<std::uint8_t, 16> bytes{};
  // "f30e3bbe-9ff0-11d1-b603-0000f80367c1" (case-insensitive); errors carry the offset.
  static Result<Guid> Parse(std::string_view text);
  std::string ToString() const;  // lower case
  friend bool operator==(const Guid&, const Guid&) = default;
};

struct Ace {
  AceType type = AceType::kAccessAllowed;
  std::uint8_t flags = 0;
  AccessMask mask = 0;
  Sid sid;
  std::optional<Guid> object_type;            // object ACEs only
  std::optional<Guid> inherited_object_type;  // object ACEs only
  // Callback ACEs: the conditional expression; resource-attribute ACEs: the attribute; any
  // ACE: bytes past the SID that AceSize covers. Kept as is so that encode(decode(x)) == x.
  std::vector<std::uint8_t> application_data;

  bool IsAllow() const;      // allowed / allowed-object / allowed-callback(-object)
  bool IsDeny() const;       // denied / denied-object / denied-callback(-object)
  bool IsObjectAce() const;  // carries the object flags and GUIDs
  bool IsInheritOnly() const { return (flags & ace_flags::kInheritOnly) != 0; }
  bool IsInherited() const { return (flags & ace_flags::kInherited) != 0; }

  std::size_t ByteSize() const;
  void AppendTo(std::vector<std::uint8_t>& out) const;
  // Reads one ACE at the start of `bytes`, checking AceSize against the bytes available.
  static Result<Ace> Decode(std::span<const std::uint8_t> bytes);

  friend bool operator==(const Ace&, const Ace&) = default;
};

// Convenience constructors for the common file ACEs.
Ace AllowAce(const Sid& sid, AccessMask mask, std::uint8_t flags = 0);
Ace DenyAce(const Sid& sid, AccessMask mask, std::uint8_t flags = 0);

}  // namespace mkeys::acl
