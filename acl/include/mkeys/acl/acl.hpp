// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.4.5: access control lists, their binary form and the canonical-order check.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mkeys/acl/ace.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

struct Acl {
  static constexpr std::uint8_t kRevision = 2;    // ACL_REVISION
  static constexpr std::uint8_t kRevisionDs = 4;  // ACL_REVISION_DS (object ACEs)

  std::uint8_t revision = kRevision;
  std::vector<Ace> aces;
  // Bytes that AclSize declares past the last ACE. Windows sometimes writes an AclSize larger
  // than its ACEs (conformance: "oversize ACLs"); kept so that the bytes round-trip.
  std::uint16_t slack = 0;

  // The revision Windows writes for these ACEs: 4 if any is an object ACE, else 2.
  std::uint8_t NaturalRevision() const;

  std::size_t ByteSize() const;
  void AppendTo(std::vector<std::uint8_t>& out) const;
  // Reads an ACL at the start of `bytes`: checks AclSize, AceCount and every ACE's size.
  static Result<Acl> Decode(std::span<const std::uint8_t> bytes);

  friend bool operator==(const Acl&, const Acl&) = default;
};

// Canonical order (the order Windows' ACL editor writes and AccessCheck assumes): explicit
// ACEs before inherited ones; within the explicit ones, deny before allow. Returns the index
// of the first ACE out of order, or nullopt when the DACL is canonical.
std::optional<std::size_t> FirstNonCanonicalAce(const Acl& dacl);
// The same ACEs in canonical order (stable within each group) — the fix for the above.
Acl Canonicalize(const Acl& dacl);

}  // namespace mkeys::acl
