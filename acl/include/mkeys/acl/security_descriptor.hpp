// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.4.6: self-relative security descriptors and their binary codec.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mkeys/acl/acl.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

namespace sd_control {
inline constexpr std::uint16_t kOwnerDefaulted = 0x0001;
inline constexpr std::uint16_t kGroupDefaulted = 0x0002;
inline constexpr std::uint16_t kDaclPresent = 0x0004;
inline constexpr std::uint16_t kDaclDefaulted = 0x0008;
inline constexpr std::uint16_t kSaclPresent = 0x0010;
inline constexpr std::uint16_t kSaclDefaulted = 0x0020;
inline constexpr std::uint16_t kDaclTrusted = 0x0040;
inline constexpr std::uint16_t kServerSecurity = 0x0080;
inline constexpr std::uint16_t kDaclAutoInheritReq = 0x0100;  // AR in SDDL
inline constexpr std::uint16_t kSaclAutoInheritReq = 0x0200;
inline constexpr std::uint16_t kDaclAutoInherited = 0x0400;  // AI
inline constexpr std::uint16_t kSaclAutoInherited = 0x0800;
inline constexpr std::uint16_t kDaclProtected = 0x1000;  // P
inline constexpr std::uint16_t kSaclProtected = 0x2000;
inline constexpr std::uint16_t kRmControlValid = 0x4000;
inline constexpr std::uint16_t kSelfRelative = 0x8000;
}  // namespace sd_control

struct SecurityDescriptor {
  // Control flags. kDaclPresent / kSaclPresent are kept in step with dacl / sacl by the codec:
  // a present DACL with no ACL (offset 0) is the NULL DACL, which grants everything.
  std::uint16_t control = sd_control::kSelfRelative;
  std::uint8_t rm_control = 0;  // Sbz1; meaningful with kRmControlValid
  std::optional<Sid> owner;
  std::optional<Sid> group;
  std::optional<Acl> dacl;  // nullopt + kDaclPresent = NULL DACL; nullopt alone = no DACL
  std::optional<Acl> sacl;

  bool HasDacl() const { return (control & sd_control::kDaclPresent) != 0; }
  bool HasNullDacl() const { return HasDacl() && !dacl.has_value(); }
  bool HasSacl() const { return (control & sd_control::kSaclPresent) != 0; }
  bool DaclProtected() const { return (control & sd_control::kDaclProtected) != 0; }

  // Sets the DACL and kDaclPresent; SetNullDacl makes it the NULL DACL.
  void SetDacl(Acl acl);
  void SetNullDacl();
  void SetSacl(Acl acl);

  // Self-relative bytes laid out as Windows does: header, SACL, DACL, owner, group.
  std::vector<std::uint8_t> Encode() const;
  // Parses self-relative bytes: checks the revision, every offset and length, that nothing
  // overlaps the header, and every ACL and SID inside. Errors carry the byte offset.
  static Result<SecurityDescriptor> Decode(std::span<const std::uint8_t> bytes);

  friend bool operator==(const SecurityDescriptor&, const SecurityDescriptor&) = default;
};

}  // namespace mkeys::acl
