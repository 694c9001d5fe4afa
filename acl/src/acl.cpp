// SPDX-License-Identifier: GPL-3.0-or-later
// MS-DTYP 2.4.5: ACLs, their binary form (with the slack Windows sometimes leaves after the
// last ACE) and the canonical-order check.
#include "mkeys/acl/acl.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace mkeys::acl {

std::uint8_t Acl::NaturalRevision() const {
  for (const auto& ace : aces) {
    if (ace.IsObjectAce()) return kRevisionDs;
  }
  return kRevision;
}

std::size_t Acl::ByteSize() const {
  std::size_t size = 8 + slack;
  for (const auto& ace : aces) size += ace.ByteSize();
  return size;
}

void Acl::AppendTo(std::vector<std::uint8_t>& out) const {
  const std::size_t start = out.size();
  const auto size = static_cast<std::uint16_t>(ByteSize());
  const auto count = static_cast<std::uint16_t>(aces.size());
  out.push_back(revision);
  out.push_back(0);
  out.push_back(static_cast<std::uint8_t>(size));
  out.push_back(static_cast<std::uint8_t>(size >> 8));
  out.push_back(static_cast<std::uint8_t>(count));
  out.push_back(static_cast<std::uint8_t>(count >> 8));
  out.push_back(0);
  out.push_back(0);
  for (const auto& ace : aces) ace.AppendTo(out);
  out.resize(start + size, 0);
}

Result<Acl> Acl::Decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) {
    return Error(ErrorCode::kParse,
                 fmt::format("an ACL header needs 8 bytes, {} available", bytes.size()));
  }
  Acl acl;
  acl.revision = bytes[0];
  if (acl.revision < 2 || acl.revision > 4) {
    return Error(ErrorCode::kParse, fmt::format("ACL revision {} (expected 2 to 4)", acl.revision))
        .At(0);
  }
  const std::size_t size = static_cast<std::size_t>(bytes[2]) | static_cast<std::size_t>(bytes[3])
                                                                    << 8;
  const std::size_t count = static_cast<std::size_t>(bytes[4]) | static_cast<std::size_t>(bytes[5])
                                                                     << 8;
  if (size < 8) {
    return Error(ErrorCode::kParse, fmt::format("AclSize {} is smaller than its header", size))
        .At(2);
  }
  if (size > bytes.size()) {
    return Error(ErrorCode::kParse,
                 fmt::format("AclSize {} exceeds the {} bytes available", size, bytes.size()))
        .At(2);
  }
  const auto body = bytes.first(size);
  std::size_t pos = 8;
  acl.aces.reserve(std::min<std::size_t>(count, size / 16));
  for (std::size_t i = 0; i < count; ++i) {
    auto ace = Ace::Decode(body.subspan(pos));
    if (!ace) {
      Error e = std::move(ace).error();
      const std::size_t where = pos + e.position().value_or(0);
      return Error(e.code(), fmt::format("ACE {}: {}", i, e.message())).At(where);
    }
    const std::size_t ace_size =
        static_cast<std::size_t>(body[pos + 2]) | static_cast<std::size_t>(body[pos + 3]) << 8;
    pos += ace_size;
    acl.aces.push_back(std::move(*ace));
  }
  acl.slack = static_cast<std::uint16_t>(size - pos);
  return acl;
}

namespace {
// 0: explicit deny, 1: explicit allow (and anything else explicit), 2: inherited.
int CanonicalGroup(const Ace& ace) {
  if (ace.IsInherited()) return 2;
  return ace.IsDeny() ? 0 : 1;
}
}  // namespace

std::optional<std::size_t> FirstNonCanonicalAce(const Acl& dacl) {
  int group = 0;
  for (std::size_t i = 0; i < dacl.aces.size(); ++i) {
    const int g = CanonicalGroup(dacl.aces[i]);
    if (g < group) return i;
    group = g;
  }
  return std::nullopt;
}

Acl Canonicalize(const Acl& dacl) {
  Acl out = dacl;
  std::stable_sort(out.aces.begin(), out.aces.end(), [](const Ace& a, const Ace& b) {
    return CanonicalGroup(a) < CanonicalGroup(b);
  });
  return out;
}

}  // namespace mkeys::acl
