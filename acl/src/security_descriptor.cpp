// SPDX-License-Identifier: GPL-3.0-or-later
// MS-DTYP 2.4.6: self-relative security descriptors. Encoding lays the parts out as Windows
// does when it builds a descriptor from SDDL: header, SACL, DACL, owner, group.
#include "mkeys/acl/security_descriptor.hpp"

#include <fmt/format.h>

#include "mkeys/core/le.hpp"

namespace mkeys::acl {
namespace {

constexpr std::size_t kHeaderSize = 20;

Error Located(const Error& inner, std::string_view what, std::size_t base) {
  return Error(inner.code(), fmt::format("{}: {}", what, inner.message()))
      .At(base + inner.position().value_or(0));
}

Result<std::size_t> CheckOffset(std::span<const std::uint8_t> bytes, std::uint32_t offset,
                                std::string_view what, std::size_t field) {
  if (offset < kHeaderSize) {
    return Error(ErrorCode::kParse,
                 fmt::format("{} offset {} points into the 20-byte header", what, offset))
        .At(field);
  }
  if (offset >= bytes.size()) {
    return Error(ErrorCode::kParse,
                 fmt::format("{} offset {} is past the end ({} bytes)", what, offset, bytes.size()))
        .At(field);
  }
  return static_cast<std::size_t>(offset);
}

}  // namespace

void SecurityDescriptor::SetDacl(Acl acl) {
  dacl = std::move(acl);
  control |= sd_control::kDaclPresent;
}

void SecurityDescriptor::SetNullDacl() {
  dacl.reset();
  control |= sd_control::kDaclPresent;
}

void SecurityDescriptor::SetSacl(Acl acl) {
  sacl = std::move(acl);
  control |= sd_control::kSaclPresent;
}

std::vector<std::uint8_t> SecurityDescriptor::Encode() const {
  std::vector<std::uint8_t> out(kHeaderSize, 0);
  std::uint16_t ctl = control | sd_control::kSelfRelative;
  if (sacl) ctl |= sd_control::kSaclPresent;
  if (dacl) ctl |= sd_control::kDaclPresent;
  out[0] = 1;
  out[1] = rm_control;
  out[2] = static_cast<std::uint8_t>(ctl);
  out[3] = static_cast<std::uint8_t>(ctl >> 8);
  if (sacl && (ctl & sd_control::kSaclPresent) != 0) {
    le::Set32(out, 12, static_cast<std::uint32_t>(out.size()));
    sacl->AppendTo(out);
  }
  if (dacl && (ctl & sd_control::kDaclPresent) != 0) {
    le::Set32(out, 16, static_cast<std::uint32_t>(out.size()));
    dacl->AppendTo(out);
  }
  if (owner) {
    le::Set32(out, 4, static_cast<std::uint32_t>(out.size()));
    owner->AppendTo(out);
  }
  if (group) {
    le::Set32(out, 8, static_cast<std::uint32_t>(out.size()));
    group->AppendTo(out);
  }
  return out;
}

Result<SecurityDescriptor> SecurityDescriptor::Decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) {
    return Error(ErrorCode::kParse,
                 fmt::format("a security descriptor needs 20 bytes, {} given", bytes.size()))
        .At(bytes.size());
  }
  if (bytes[0] != 1) {
    return Error(ErrorCode::kParse,
                 fmt::format("security descriptor revision {} (expected 1)", bytes[0]))
        .At(0);
  }
  SecurityDescriptor sd;
  sd.rm_control = bytes[1];
  sd.control = static_cast<std::uint16_t>(bytes[2] | bytes[3] << 8);
  if ((sd.control & sd_control::kSelfRelative) == 0) {
    return Error(ErrorCode::kParse,
                 "security descriptor is not self-relative (SE_SELF_RELATIVE unset)")
        .At(2);
  }
  const std::uint32_t owner_off = le::Read32(bytes, 4);
  const std::uint32_t group_off = le::Read32(bytes, 8);
  const std::uint32_t sacl_off = le::Read32(bytes, 12);
  const std::uint32_t dacl_off = le::Read32(bytes, 16);
  if (owner_off != 0) {
    MKEYS_ASSIGN_OR_RETURN(const std::size_t at, CheckOffset(bytes, owner_off, "owner", 4));
    auto sid = Sid::Decode(bytes.subspan(at));
    if (!sid) return Located(sid.error(), "owner SID", at);
    sd.owner = *sid;
  }
  if (group_off != 0) {
    MKEYS_ASSIGN_OR_RETURN(const std::size_t at, CheckOffset(bytes, group_off, "group", 8));
    auto sid = Sid::Decode(bytes.subspan(at));
    if (!sid) return Located(sid.error(), "group SID", at);
    sd.group = *sid;
  }
  if (sacl_off != 0) {
    if ((sd.control & sd_control::kSaclPresent) == 0) {
      return Error(ErrorCode::kParse, "SACL offset set but SE_SACL_PRESENT is not").At(12);
    }
    MKEYS_ASSIGN_OR_RETURN(const std::size_t at, CheckOffset(bytes, sacl_off, "SACL", 12));
    auto acl = Acl::Decode(bytes.subspan(at));
    if (!acl) return Located(acl.error(), "SACL", at);
    sd.sacl = std::move(*acl);
  }
  if (dacl_off != 0) {
    if ((sd.control & sd_control::kDaclPresent) == 0) {
      return Error(ErrorCode::kParse, "DACL offset set but SE_DACL_PRESENT is not").At(16);
    }
    MKEYS_ASSIGN_OR_RETURN(const std::size_t at, CheckOffset(bytes, dacl_off, "DACL", 16));
    auto acl = Acl::Decode(bytes.subspan(at));
    if (!acl) return Located(acl.error(), "DACL", at);
    sd.dacl = std::move(*acl);
  }
  return sd;
}

}  // namespace mkeys::acl
