// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared steps of the hive readers: typed values with provenance and hive-naming errors.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "policy/internal/hive_file.hpp"

namespace mkeys::keystore::policy {

inline constexpr std::uint32_t kRegNone = 0;
inline constexpr std::uint32_t kRegSz = 1;
inline constexpr std::uint32_t kRegExpandSz = 2;
inline constexpr std::uint32_t kRegBinary = 3;
inline constexpr std::uint32_t kRegDword = 4;
inline constexpr std::uint32_t kRegMultiSz = 7;

// The value `name` of `key` (a path from the root, for messages) decoded as a string / DWORD /
// multi-string; nullopt when absent; an error naming hive, key and value when malformed.
Result<std::optional<std::string>> ReadString(const HiveFile& hive, NodeId node,
                                              std::string_view key, std::string_view name);
Result<std::optional<std::uint32_t>> ReadDword(const HiveFile& hive, NodeId node,
                                               std::string_view key, std::string_view name);
Result<std::optional<std::vector<std::string>>> ReadMultiString(const HiveFile& hive, NodeId node,
                                                                std::string_view key,
                                                                std::string_view name);

// A RID key name ("000001F4"): 8 hex digits; nullopt otherwise.
std::optional<std::uint32_t> ParseRidKey(std::string_view name);
std::string RidKey(std::uint32_t rid);  // "000001F4"

// domain + rid (kInvalidArgument if the domain has 15 sub-authorities already).
Result<acl::Sid> AppendRid(const acl::Sid& domain, std::uint32_t rid);

}  // namespace mkeys::keystore::policy
