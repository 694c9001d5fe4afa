// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Reading JSON from an untrusted source (an etcd value or reply, a root's registry.json) with
// explicit type checks, private to arrayjoin's decoders (etcd_json.cpp, etcd_records_json.cpp):
// nlohmann is only asked to parse (without exceptions) and then read through is_*() checks, never
// value(), at() or get<>() on an unchecked value, so a hostile input yields an error naming the
// field (or the offset of a syntax error), never a throw.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/etcd_json.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::arrayjoin::internal::json_fields {

using nlohmann::json;

// What is being decoded ("etcd reply", "etcd token record") and the etcd key it came from.
struct Source {
  std::string_view what;
  std::string_view key;
};

inline Error Bad(const Source& src, std::string_view path, std::string_view problem) {
  // "etcd reply: kvs[2].key is not base64"; the whole text: "etcd reply is not JSON".
  std::string message(src.what);
  message += path.empty() ? " " : ": ";
  message += path;
  if (!path.empty()) message += ' ';
  message += problem;
  Error e(ErrorCode::kCorrupt, std::move(message));
  if (!src.key.empty()) return std::move(e).On(std::string(src.key));
  return e;
}

// Where a syntax error is: a SAX pass that only records the parser's error position.
struct ErrorPosition {
  std::size_t position = 0;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(json::string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t at, const std::string&, const json::exception&) {
    position = at;
    return false;
  }
};

// The text as a JSON object, or an error with the offset of what is wrong.
inline Result<json> ParseObject(std::string_view text, const Source& src) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    ErrorPosition where;
    json::sax_parse(text, &where, json::input_format_t::json, true);
    Error e = Bad(src, {}, "is not JSON");
    return std::move(e).At(where.position > 0 ? where.position - 1 : 0);
  }
  if (!doc.is_object()) return Bad(src, {}, "is not a JSON object");
  return doc;
}

inline bool IsDecimal(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An object's fields, each read with its type checked. `prefix` is the object's JSON path.
class Fields final {
 public:
  Fields(const json& obj, const Source& src, std::string prefix = {})
      : obj_(obj), src_(src), prefix_(std::move(prefix)) {}

  std::string PathOf(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }
  const json* Find(const char* name) const {
    const auto it = obj_.find(name);
    return it == obj_.end() ? nullptr : &*it;
  }
  Error Problem(const char* name, std::string_view problem) const {
    return Bad(src_, PathOf(name), problem);
  }

  // A string; `fallback` when absent, or an error if there is none.
  Result<std::string> String(const char* name,
                             std::optional<std::string> fallback = std::nullopt) const {
    const json* v = Find(name);
    if (!v) {
      if (fallback) return std::move(*fallback);
      return Problem(name, "is missing");
    }
    if (!v->is_string()) return Problem(name, "is not a string");
    return v->get_ref<const std::string&>();
  }

  // An integer written as a JSON number, within [lo, hi].
  Result<std::int64_t> Integer(const char* name, std::int64_t lo, std::int64_t hi,
                               std::optional<std::int64_t> fallback = std::nullopt) const {
    const json* v = Find(name);
    if (!v) {
      if (fallback) return *fallback;
      return Problem(name, "is missing");
    }
    std::optional<std::int64_t> n;
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        n = static_cast<std::int64_t>(u);
      }
    } else if (v->is_number_integer()) {
      n = v->get<std::int64_t>();
    }
    if (!n || *n < lo || *n > hi) {
      return Problem(name,
                     "is not an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return *n;
  }
  Result<std::int64_t> Int64(const char* name) const {
    return Integer(name, std::numeric_limits<std::int64_t>::min(),
                   std::numeric_limits<std::int64_t>::max());
  }
  Result<std::uint32_t> Uint32(const char* name) const {
    MKEYS_ASSIGN_OR_RETURN(auto n, Integer(name, 0, std::numeric_limits<std::uint32_t>::max()));
    return static_cast<std::uint32_t>(n);
  }

  // The gateway's 64-bit integers: a decimal string (or a JSON number), 0 when absent.
  Result<std::int64_t> Decimal(const char* name) const {
    const json* v = Find(name);
    if (!v) return std::int64_t{0};
    if (v->is_number_integer()) return Integer(name, 0, std::numeric_limits<std::int64_t>::max());
    if (v->is_string()) {
      const auto& s = v->get_ref<const std::string&>();
      if (IsDecimal(s)) {
        std::uint64_t n = 0;
        bool fits = true;
        for (char c : s) {
          const auto digit = static_cast<std::uint64_t>(c - '0');
          if (n >
              (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - digit) / 10) {
            fits = false;
            break;
          }
          n = n * 10 + digit;
        }
        if (fits) return static_cast<std::int64_t>(n);
      }
    }
    return Problem(name, "is not a decimal number");
  }

  Result<bool> Bool(const char* name, bool fallback) const {
    const json* v = Find(name);
    if (!v) return fallback;
    if (!v->is_boolean()) return Problem(name, "is not true or false");
    return v->get<bool>();
  }

  // 32 bytes as 64 hex digits.
  Result<Digest> Hex32(const char* name) const {
    MKEYS_ASSIGN_OR_RETURN(auto text, String(name));
    auto bytes = HexDecode(text);
    Digest d{};
    if (text.size() != 64 || !bytes || bytes->size() != d.size()) {
      return Problem(name, "is not 64 hex digits");
    }
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
  }

  Result<std::string> Base64(const char* name, bool required) const {
    MKEYS_ASSIGN_OR_RETURN(auto text,
                           String(name, required ? std::nullopt : std::optional<std::string>("")));
    auto bytes = DecodeEtcdBase64(text);
    if (!bytes) return Problem(name, "is not base64");
    return std::move(bytes).value();
  }

  // An array of strings (an absent one is empty).
  Result<std::vector<std::string>> Strings(const char* name) const {
    std::vector<std::string> out;
    const json* v = Find(name);
    if (!v) return out;
    if (!v->is_array()) return Problem(name, "is not an array");
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_string()) {
        return Bad(src_, PathOf(name) + "[" + std::to_string(i) + "]", "is not a string");
      }
      out.push_back(e.get_ref<const std::string&>());
    }
    return out;
  }

 private:
  const json& obj_;
  const Source& src_;
  std::string prefix_;
};

}  // namespace mkeys::arrayjoin::internal::json_fields
