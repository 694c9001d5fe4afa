// SPDX-License-Identifier: GPL-3.0-or-later
// Decoders and encoders of the SAM and SECURITY values (layouts in docs/machine-policy.md).
#include "mkeys/keystore/hive_values.hpp"

#include <fmt/format.h>

#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::keystore::hive {
namespace {

using Bytes = std::span<const std::uint8_t>;

// One {u32 offset, u32 length, u32 flags} entry of a SAM offset table.
struct Field {
  std::size_t start = 0;  // absolute offset in the value
  std::size_t length = 0;
};

constexpr std::size_t kDomainVData = 0x30;
constexpr std::size_t kUserVData = 0xCC;
constexpr std::size_t kUserVEntries = 17;
constexpr std::size_t kAliasCData = 0x34;
constexpr std::uint32_t kSdEntryFlags = 0x00010002;  // what Windows writes in entry 0

Error Malformed(std::string what, std::size_t at) {
  return std::move(Error(ErrorCode::kParse, std::move(what)).At(at));
}

// Reads the entry at `entry_at` whose offset is relative to `data_base`; checks the range.
Result<Field> ReadField(Bytes bytes, std::size_t entry_at, std::size_t data_base,
                        std::string_view what) {
  if (bytes.size() < entry_at + 8) {
    return Malformed(
        fmt::format("{} entry needs {} bytes, value has {}", what, entry_at + 8, bytes.size()),
        entry_at);
  }
  const std::uint64_t start = std::uint64_t{data_base} + le::Read32(bytes, entry_at);
  const std::uint64_t length = le::Read32(bytes, entry_at + 4);
  if (start + length > bytes.size()) {
    return Malformed(fmt::format("{} at offset {} length {} runs past the value's {} bytes", what,
                                 start, length, bytes.size()),
                     entry_at);
  }
  return Field{static_cast<std::size_t>(start), static_cast<std::size_t>(length)};
}

Result<std::string> ReadUtf16Field(Bytes bytes, const Field& field, std::string_view what) {
  if (field.length % 2 != 0) {
    return Malformed(fmt::format("{} has odd length {}", what, field.length), field.start);
  }
  auto text = text::Utf16LeToUtf8(bytes.subspan(field.start, field.length));
  if (!text) return Malformed(fmt::format("{} is not valid UTF-16", what), field.start);
  return *text;
}

Result<acl::Sid> ReadSidAt(Bytes bytes, std::size_t at, std::size_t end, std::string_view what) {
  auto sid = acl::Sid::Decode(bytes.subspan(at, end - at));
  if (!sid) {
    return Malformed(fmt::format("{}: {}", what, sid.error().message()),
                     at + sid.error().position().value_or(0));
  }
  return *sid;
}

void Pad4(std::vector<std::uint8_t>& data) {
  while (data.size() % 4 != 0) data.push_back(0);
}

// Appends `payload` to `data` (4-byte aligned) and writes its entry at `entry_at` of `header`.
void PutField(std::vector<std::uint8_t>& header, std::size_t entry_at,
              std::vector<std::uint8_t>& data, std::span<const std::uint8_t> payload,
              std::uint32_t flags = 0) {
  Pad4(data);
  le::Set32(header, entry_at, static_cast<std::uint32_t>(data.size()));
  le::Set32(header, entry_at + 4, static_cast<std::uint32_t>(payload.size()));
  le::Set32(header, entry_at + 8, flags);
  le::Append(data, payload);
}

std::vector<std::uint8_t> Utf16(std::string_view s) {
  return text::Utf8ToUtf16Le(s);
}

}  // namespace

// ---- Privilgs / ActSysAc ----------------------------------------------------------------------

Result<PrivilegeSet> DecodePrivilgs(Bytes bytes) {
  if (bytes.size() < 8) {
    return Malformed(fmt::format("Privilgs needs at least 8 bytes, has {}", bytes.size()), 0);
  }
  const std::uint32_t count = le::Read32(bytes, 0);
  const std::uint64_t need = 8 + std::uint64_t{count} * 12;
  if (need != bytes.size()) {
    return Malformed(fmt::format("Privilgs claims {} privileges ({} bytes) but has {} bytes", count,
                                 need, bytes.size()),
                     0);
  }
  PrivilegeSet set;
  set.control = le::Read32(bytes, 4);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t at = 8 + 12 * i;
    set.entries.push_back(
        {le::Read32(bytes, at), le::Read32(bytes, at + 4), le::Read32(bytes, at + 8)});
  }
  return set;
}

std::vector<std::uint8_t> EncodePrivilgs(const PrivilegeSet& set) {
  std::vector<std::uint8_t> out;
  le::Put32(out, static_cast<std::uint32_t>(set.entries.size()));
  le::Put32(out, set.control);
  for (const auto& e : set.entries) {
    le::Put32(out, e.luid_low);
    le::Put32(out, e.luid_high);
    le::Put32(out, e.attributes);
  }
  return out;
}

Result<std::uint32_t> DecodeActSysAc(Bytes bytes) {
  if (bytes.size() != 4) {
    return Malformed(fmt::format("ActSysAc must be 4 bytes, has {}", bytes.size()), 0);
  }
  return le::Read32(bytes, 0);
}

std::vector<std::uint8_t> EncodeActSysAc(std::uint32_t mask) {
  std::vector<std::uint8_t> out;
  le::Put32(out, mask);
  return out;
}

// ---- SAM V / C --------------------------------------------------------------------------------

Result<acl::Sid> DecodeDomainV(Bytes bytes) {
  if (bytes.size() < kDomainVData) {
    return Malformed(
        fmt::format("domain V needs at least {} bytes, has {}", kDomainVData, bytes.size()), 0);
  }
  MKEYS_ASSIGN_OR_RETURN(const Field sid, ReadField(bytes, 0x0C, kDomainVData, "domain SID"));
  return ReadSidAt(bytes, sid.start, sid.start + sid.length, "domain SID");
}

std::vector<std::uint8_t> EncodeDomainV(const acl::Sid& domain) {
  std::vector<std::uint8_t> header(kDomainVData, 0);
  std::vector<std::uint8_t> data;
  PutField(header, 0x00, data, {}, kSdEntryFlags);
  PutField(header, 0x0C, data, domain.ToBytes());
  PutField(header, 0x18, data, {});
  PutField(header, 0x24, data, {});
  le::Append(header, data);
  return header;
}

Result<UserV> DecodeUserV(Bytes bytes) {
  if (bytes.size() < kUserVData) {
    return Malformed(
        fmt::format("user V needs at least {} bytes, has {}", kUserVData, bytes.size()), 0);
  }
  UserV user;
  MKEYS_ASSIGN_OR_RETURN(const Field name, ReadField(bytes, 0x0C, kUserVData, "user name"));
  MKEYS_ASSIGN_OR_RETURN(const Field full, ReadField(bytes, 0x18, kUserVData, "full name"));
  MKEYS_ASSIGN_OR_RETURN(const Field comment, ReadField(bytes, 0x24, kUserVData, "comment"));
  MKEYS_ASSIGN_OR_RETURN(user.name, ReadUtf16Field(bytes, name, "user name"));
  MKEYS_ASSIGN_OR_RETURN(user.full_name, ReadUtf16Field(bytes, full, "full name"));
  MKEYS_ASSIGN_OR_RETURN(user.comment, ReadUtf16Field(bytes, comment, "comment"));
  return user;
}

std::vector<std::uint8_t> EncodeUserV(const UserV& user) {
  std::vector<std::uint8_t> header(kUserVData, 0);
  std::vector<std::uint8_t> data;
  for (std::size_t i = 0; i < kUserVEntries; ++i) {
    std::vector<std::uint8_t> payload;
    if (i == 1) payload = Utf16(user.name);
    if (i == 2) payload = Utf16(user.full_name);
    if (i == 3) payload = Utf16(user.comment);
    PutField(header, 12 * i, data, payload, i == 0 ? kSdEntryFlags : 0);
  }
  le::Append(header, data);
  return header;
}

Result<AliasC> DecodeAliasC(Bytes bytes) {
  if (bytes.size() < kAliasCData) {
    return Malformed(
        fmt::format("alias C needs at least {} bytes, has {}", kAliasCData, bytes.size()), 0);
  }
  AliasC alias;
  alias.rid = le::Read32(bytes, 0);
  MKEYS_ASSIGN_OR_RETURN(const Field sd,
                         ReadField(bytes, 0x04, kAliasCData, "security descriptor"));
  alias.security_descriptor.assign(
      bytes.begin() + static_cast<std::ptrdiff_t>(sd.start),
      bytes.begin() + static_cast<std::ptrdiff_t>(sd.start + sd.length));
  MKEYS_ASSIGN_OR_RETURN(const Field name, ReadField(bytes, 0x10, kAliasCData, "alias name"));
  MKEYS_ASSIGN_OR_RETURN(const Field comment, ReadField(bytes, 0x1C, kAliasCData, "comment"));
  MKEYS_ASSIGN_OR_RETURN(const Field members, ReadField(bytes, 0x28, kAliasCData, "member list"));
  MKEYS_ASSIGN_OR_RETURN(alias.name, ReadUtf16Field(bytes, name, "alias name"));
  MKEYS_ASSIGN_OR_RETURN(alias.comment, ReadUtf16Field(bytes, comment, "comment"));
  const std::uint32_t count = le::Read32(bytes, 0x30);
  if (std::uint64_t{count} * 8 > members.length) {
    return Malformed(
        fmt::format("alias claims {} members in a {}-byte member list", count, members.length),
        0x30);
  }
  std::size_t at = members.start;
  const std::size_t end = members.start + members.length;
  for (std::uint32_t i = 0; i < count; ++i) {
    MKEYS_ASSIGN_OR_RETURN(acl::Sid sid,
                           ReadSidAt(bytes, at, end, fmt::format("member {} of {}", i + 1, count)));
    at += sid.ByteSize();
    alias.members.push_back(std::move(sid));
  }
  return alias;
}

std::vector<std::uint8_t> EncodeAliasC(const AliasC& alias) {
  std::vector<std::uint8_t> header(kAliasCData, 0);
  le::Set32(header, 0, alias.rid);
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> members;
  for (const auto& sid : alias.members) sid.AppendTo(members);
  PutField(header, 0x04, data, alias.security_descriptor, kSdEntryFlags);
  PutField(header, 0x10, data, Utf16(alias.name));
  PutField(header, 0x1C, data, Utf16(alias.comment));
  PutField(header, 0x28, data, members);
  le::Set32(header, 0x30, static_cast<std::uint32_t>(alias.members.size()));
  le::Append(header, data);
  return header;
}

// ---- registry value types --------------------------------------------------------------------

Result<std::string> DecodeRegString(Bytes bytes) {
  std::size_t length = bytes.size();
  if (length % 2 != 0) {
    if (bytes[length - 1] != 0) {
      return Malformed(fmt::format("string value has odd length {}", length), length - 1);
    }
    --length;  // a stray NUL byte after the string, as some writers leave
  }
  std::size_t units = length / 2;
  for (std::size_t i = 0; i < units; ++i) {
    if (le::Read16(bytes, 2 * i) == 0) {
      units = i;
      break;
    }
  }
  auto text = text::Utf16LeToUtf8(bytes.subspan(0, 2 * units));
  if (!text) return Malformed("string value is not valid UTF-16", 0);
  return *text;
}

std::vector<std::uint8_t> EncodeRegString(std::string_view text) {
  auto out = Utf16(text);
  le::Put16(out, 0);
  return out;
}

Result<std::vector<std::string>> DecodeRegMultiString(Bytes bytes) {
  if (bytes.size() % 2 != 0) {
    return Malformed(fmt::format("multi-string value has odd length {}", bytes.size()),
                     bytes.size() - 1);
  }
  std::vector<std::string> strings;
  std::size_t start = 0;
  for (std::size_t at = 0; at <= bytes.size(); at += 2) {
    if (at < bytes.size() && le::Read16(bytes, at) != 0) continue;
    if (at > start) {
      auto text = text::Utf16LeToUtf8(bytes.subspan(start, at - start));
      if (!text) return Malformed("multi-string value is not valid UTF-16", start);
      strings.push_back(std::move(*text));
    }
    start = at + 2;
  }
  return strings;
}

std::vector<std::uint8_t> EncodeRegMultiString(const std::vector<std::string>& strings) {
  std::vector<std::uint8_t> out;
  for (const auto& s : strings) le::Append(out, EncodeRegString(s));
  le::Put16(out, 0);
  return out;
}

Result<std::uint32_t> DecodeRegDword(Bytes bytes) {
  if (bytes.size() != 4) {
    return Malformed(fmt::format("DWORD value must be 4 bytes, has {}", bytes.size()), 0);
  }
  return le::Read32(bytes, 0);
}

}  // namespace mkeys::keystore::hive
