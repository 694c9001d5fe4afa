// SPDX-License-Identifier: GPL-3.0-or-later
#include "policy/internal/read_util.hpp"

#include <fmt/format.h>

#include "mkeys/keystore/hive_values.hpp"

namespace mkeys::keystore::policy {

Result<std::optional<std::string>> ReadString(const HiveFile& hive, NodeId node,
                                              std::string_view key, std::string_view name) {
  MKEYS_ASSIGN_OR_RETURN(auto raw, hive.Value(node, name));
  if (!raw) return std::optional<std::string>{};
  if (raw->type != kRegSz && raw->type != kRegExpandSz) {
    return hive.At(key, name,
                   Error(ErrorCode::kParse, fmt::format("type {} is not a string", raw->type)));
  }
  auto text = hive::DecodeRegString(raw->data);
  if (!text) return hive.At(key, name, text.error());
  return std::optional<std::string>(std::move(*text));
}

Result<std::optional<std::uint32_t>> ReadDword(const HiveFile& hive, NodeId node,
                                               std::string_view key, std::string_view name) {
  MKEYS_ASSIGN_OR_RETURN(auto raw, hive.Value(node, name));
  if (!raw) return std::optional<std::uint32_t>{};
  if (raw->type != kRegDword) {
    return hive.At(key, name,
                   Error(ErrorCode::kParse, fmt::format("type {} is not REG_DWORD", raw->type)));
  }
  auto value = hive::DecodeRegDword(raw->data);
  if (!value) return hive.At(key, name, value.error());
  return std::optional<std::uint32_t>(*value);
}

Result<std::optional<std::vector<std::string>>> ReadMultiString(const HiveFile& hive, NodeId node,
                                                                std::string_view key,
                                                                std::string_view name) {
  MKEYS_ASSIGN_OR_RETURN(auto raw, hive.Value(node, name));
  if (!raw) return std::optional<std::vector<std::string>>{};
  if (raw->type != kRegMultiSz) {
    return hive.At(key, name,
                   Error(ErrorCode::kParse, fmt::format("type {} is not REG_MULTI_SZ", raw->type)));
  }
  auto strings = hive::DecodeRegMultiString(raw->data);
  if (!strings) return hive.At(key, name, strings.error());
  return std::optional<std::vector<std::string>>(std::move(*strings));
}

std::optional<std::uint32_t> ParseRidKey(std::string_view name) {
  if (name.size() != 8) return {};
  std::uint32_t rid = 0;
  for (const char c : name) {
    std::uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<std::uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      return {};
    }
    rid = rid << 4 | digit;
  }
  return rid;
}

std::string RidKey(std::uint32_t rid) {
  return fmt::format("{:08X}", rid);
}

Result<acl::Sid> AppendRid(const acl::Sid& domain, std::uint32_t rid) {
  std::vector<std::uint32_t> subs(domain.sub_authorities().begin(), domain.sub_authorities().end());
  subs.push_back(rid);
  return acl::Sid::Create(domain.authority(), subs);
}

}  // namespace mkeys::keystore::policy
