// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Rows of the registry's tables as records (private to the registry's source files).

#include <string_view>

#include "internal/sqlite_stmt.hpp"
#include "mkeys/arrayjoin/registry.hpp"

namespace mkeys::arrayjoin::internal {

inline constexpr std::string_view kTokenColumns =
    "id, verifier, created_at, expires_at, uses_total, uses_left, revoked_at, replace_name";
inline constexpr std::string_view kMemberColumns =
    "name, joined_at, key_version, address, token_id, cert_pem, cert_pin, status, delivered_at";

TokenRecord ReadToken(const Stmt& s);
MemberRecord ReadMember(const Stmt& s);
MemberStatus ParseMemberStatus(std::string_view text);

}  // namespace mkeys::arrayjoin::internal
