// SPDX-License-Identifier: GPL-3.0-or-later
// etcd's JSON, decoded with explicit type checks: nlohmann is only asked to parse (without
// exceptions) and then read through is_*() checks, never value(), at() or get<>() on an unchecked
// value, so a hostile etcd or a corrupted value yields an error naming the field, not a throw.
#include "internal/etcd_json.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

using nlohmann::json;

// What is being decoded ("etcd reply", "etcd token record") and the etcd key it came from.
struct Source {
  std::string_view what;
  std::string_view key;
};

Error Bad(const Source& src, std::string_view path, std::string_view problem) {
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
Result<json> ParseObject(std::string_view text, const Source& src) {
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

bool IsDecimal(std::string_view s) {
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

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// header.revision of a reply (0 without a header).
Result<std::int64_t> HeaderRevision(const Fields& top, const Source& src) {
  const json* header = top.Find("header");
  if (!header) return std::int64_t{0};
  if (!header->is_object()) return top.Problem("header", "is not an object");
  return Fields(*header, src, "header").Decimal("revision");
}

Result<EtcdKv> ReadKv(const json& j, const Source& src, std::string path) {
  if (!j.is_object()) return Bad(src, path, "is not an object");
  const Fields f(j, src, std::move(path));
  EtcdKv kv;
  MKEYS_ASSIGN_OR_RETURN(kv.key, f.Base64("key", true));
  MKEYS_ASSIGN_OR_RETURN(kv.value, f.Base64("value", false));
  MKEYS_ASSIGN_OR_RETURN(kv.create_revision, f.Decimal("create_revision"));
  MKEYS_ASSIGN_OR_RETURN(kv.mod_revision, f.Decimal("mod_revision"));
  MKEYS_ASSIGN_OR_RETURN(auto version, f.Decimal("version"));
  (void)version;
  return kv;
}

constexpr Source kReply{"etcd reply", {}};

}  // namespace

Result<std::string> DecodeEtcdBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Error(ErrorCode::kCorrupt, "base64 of a length that is not a multiple of 4")
        .At(text.size());
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t at = 0; at < text.size(); at += 4) {
    const bool last = at + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text[at + static_cast<std::size_t>(i)];
      // '=' only at the end: "xx==" or "xxx=".
      if (c == '=' && last && i >= 2 && (i == 3 || text[at + 3] == '=')) {
        v[i] = 0;
        ++pad;
        continue;
      }
      v[i] = Base64Value(c);
      if (v[i] < 0 || pad > 0) {
        return Error(ErrorCode::kCorrupt, "not base64").At(at + static_cast<std::size_t>(i));
      }
    }
    const std::uint32_t bits =
        (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
        (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    // Canonical: the bits the padding leaves over are zero.
    if ((pad == 1 && (bits & 0xff) != 0) || (pad == 2 && (bits & 0xffff) != 0)) {
      return Error(ErrorCode::kCorrupt, "not canonical base64").At(at);
    }
    out.push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return out;
}

Result<EtcdRangeReply> DecodeRangeReply(const json& doc) {
  if (!doc.is_object()) return Bad(kReply, {}, "is not a JSON object");
  const Fields f(doc, kReply);
  EtcdRangeReply out;
  MKEYS_ASSIGN_OR_RETURN(out.revision, HeaderRevision(f, kReply));
  MKEYS_ASSIGN_OR_RETURN(out.count, f.Decimal("count"));
  MKEYS_ASSIGN_OR_RETURN(out.more, f.Bool("more", false));
  if (const json* kvs = f.Find("kvs")) {
    if (!kvs->is_array()) return f.Problem("kvs", "is not an array");
    for (std::size_t i = 0; i < kvs->size(); ++i) {
      MKEYS_ASSIGN_OR_RETURN(auto kv, ReadKv((*kvs)[i], kReply, "kvs[" + std::to_string(i) + "]"));
      out.kvs.push_back(std::move(kv));
    }
  }
  return out;
}

Result<EtcdRangeReply> ParseRangeReply(std::string_view text) {
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, kReply));
  return DecodeRangeReply(doc);
}

Result<EtcdTxnReply> DecodeTxnReply(const json& doc) {
  if (!doc.is_object()) return Bad(kReply, {}, "is not a JSON object");
  const Fields f(doc, kReply);
  EtcdTxnReply out;
  MKEYS_ASSIGN_OR_RETURN(out.revision, HeaderRevision(f, kReply));
  MKEYS_ASSIGN_OR_RETURN(out.succeeded, f.Bool("succeeded", false));
  if (const json* responses = f.Find("responses")) {
    if (!responses->is_array()) return f.Problem("responses", "is not an array");
    for (std::size_t i = 0; i < responses->size(); ++i) {
      if (!(*responses)[i].is_object()) {
        return Bad(kReply, "responses[" + std::to_string(i) + "]", "is not an object");
      }
    }
    out.responses = responses->size();
  }
  return out;
}

Result<EtcdTxnReply> ParseTxnReply(std::string_view text) {
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, kReply));
  return DecodeTxnReply(doc);
}

Result<EtcdLeaseReply> DecodeLeaseReply(const json& doc) {
  if (!doc.is_object()) return Bad(kReply, {}, "is not a JSON object");
  const Fields f(doc, kReply);
  EtcdLeaseReply out;
  MKEYS_ASSIGN_OR_RETURN(out.revision, HeaderRevision(f, kReply));
  MKEYS_ASSIGN_OR_RETURN(out.id, f.Decimal("ID"));
  MKEYS_ASSIGN_OR_RETURN(out.ttl, f.Decimal("TTL"));
  if (out.id == 0) return f.Problem("ID", "is missing (etcd granted no lease)");
  return out;
}

Result<EtcdStatusReply> DecodeStatusReply(const json& doc) {
  if (!doc.is_object()) return Bad(kReply, {}, "is not a JSON object");
  const Fields f(doc, kReply);
  EtcdStatusReply out;
  MKEYS_ASSIGN_OR_RETURN(out.revision, HeaderRevision(f, kReply));
  MKEYS_ASSIGN_OR_RETURN(out.version, f.String("version", ""));
  // A uint64: a decimal string, kept as text (it may not fit an int64).
  if (const json* leader = f.Find("leader")) {
    if (leader->is_number_unsigned()) {
      out.leader = std::to_string(leader->get<std::uint64_t>());
    } else if (leader->is_string() && IsDecimal(leader->get_ref<const std::string&>())) {
      out.leader = leader->get_ref<const std::string&>();
    } else {
      return f.Problem("leader", "is not a decimal number");
    }
  }
  return out;
}

Result<EtcdStatusReply> ParseStatusReply(std::string_view text) {
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, kReply));
  return DecodeStatusReply(doc);
}

std::string EtcdErrorText(const json& doc) {
  if (!doc.is_object()) return "error";
  for (const char* name : {"message", "error"}) {
    const auto it = doc.find(name);
    if (it != doc.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return it->get_ref<const std::string&>();
    }
  }
  return "error";
}

Result<ArrayInfo> ArrayInfoFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd array record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  ArrayInfo out;
  MKEYS_ASSIGN_OR_RETURN(auto schema, f.Integer("schema", 1, std::numeric_limits<int>::max(), 1));
  (void)schema;
  MKEYS_ASSIGN_OR_RETURN(out.array_id, f.String("array_id"));
  MKEYS_ASSIGN_OR_RETURN(out.name, f.String("name"));
  MKEYS_ASSIGN_OR_RETURN(out.created_at, f.Int64("created_at"));
  MKEYS_ASSIGN_OR_RETURN(out.pin, f.Hex32("pin"));
  MKEYS_ASSIGN_OR_RETURN(out.ca_cert_pem, f.String("ca_cert_pem"));
  return out;
}

Result<std::uint32_t> CurrentVersionFromText(std::string_view text, std::string_view key) {
  std::uint64_t n = 0;
  const bool digits = IsDecimal(text) && text.size() <= 10;
  if (digits) {
    for (char c : text) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!digits || n > std::numeric_limits<std::uint32_t>::max()) {
    Error e(ErrorCode::kCorrupt, "etcd current key version: '" + std::string(text.substr(0, 32)) +
                                     "' is not a decimal number from 0 to 4294967295");
    if (!key.empty()) return std::move(e).On(std::string(key));
    return e;
  }
  return static_cast<std::uint32_t>(n);
}

Result<KeyVersion> KeyVersionFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd key version record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  KeyVersion out;
  MKEYS_ASSIGN_OR_RETURN(out.version, f.Uint32("version"));
  MKEYS_ASSIGN_OR_RETURN(out.created_at, f.Int64("created_at"));
  MKEYS_ASSIGN_OR_RETURN(out.rsa_container, f.String("rsa_container"));
  MKEYS_ASSIGN_OR_RETURN(out.config_container, f.String("config_container"));
  return out;
}

Result<TokenRecord> TokenFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd token record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  TokenRecord t;
  MKEYS_ASSIGN_OR_RETURN(t.id, f.String("id"));
  MKEYS_ASSIGN_OR_RETURN(t.verifier, f.Hex32("verifier"));
  MKEYS_ASSIGN_OR_RETURN(t.created_at, f.Int64("created_at"));
  MKEYS_ASSIGN_OR_RETURN(t.expires_at, f.Int64("expires_at"));
  MKEYS_ASSIGN_OR_RETURN(t.uses_total, f.Uint32("uses_total"));
  MKEYS_ASSIGN_OR_RETURN(t.uses_left, f.Uint32("uses_left"));
  if (const json* revoked = f.Find("revoked_at"); revoked && !revoked->is_null()) {
    MKEYS_ASSIGN_OR_RETURN(t.revoked_at, f.Int64("revoked_at"));
  }
  MKEYS_ASSIGN_OR_RETURN(t.replace_name, f.String("replace_name", ""));
  return t;
}

Result<MemberRecord> MemberFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd member record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  MemberRecord m;
  MKEYS_ASSIGN_OR_RETURN(m.name, f.String("name"));
  MKEYS_ASSIGN_OR_RETURN(auto status, f.String("status"));
  if (status == "delivered") {
    m.status = MemberStatus::kDelivered;
  } else if (status == "joined") {
    m.status = MemberStatus::kJoined;
  } else if (status == "revoked") {
    m.status = MemberStatus::kRevoked;
  } else {
    return f.Problem("status", "is not delivered, joined or revoked");
  }
  MKEYS_ASSIGN_OR_RETURN(m.delivered_at, f.Int64("delivered_at"));
  MKEYS_ASSIGN_OR_RETURN(m.joined_at, f.Int64("joined_at"));
  MKEYS_ASSIGN_OR_RETURN(m.key_version, f.Uint32("key_version"));
  MKEYS_ASSIGN_OR_RETURN(m.address, f.String("address"));
  MKEYS_ASSIGN_OR_RETURN(m.token_id, f.String("token_id"));
  MKEYS_ASSIGN_OR_RETURN(m.cert_pem, f.String("cert_pem"));
  MKEYS_ASSIGN_OR_RETURN(m.cert_pin, f.Hex32("cert_pin"));
  return m;
}

Result<EventRecord> EventFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd event record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  EventRecord e;
  MKEYS_ASSIGN_OR_RETURN(e.at, f.Int64("at"));
  MKEYS_ASSIGN_OR_RETURN(e.kind, f.String("kind"));
  MKEYS_ASSIGN_OR_RETURN(e.subject, f.String("subject"));
  MKEYS_ASSIGN_OR_RETURN(e.detail, f.String("detail"));
  MKEYS_ASSIGN_OR_RETURN(auto manager, f.String("manager", ""));
  (void)manager;
  return e;
}

Result<AddressLimit> AddressLimitFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd failure limit record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  AddressLimit l;
  MKEYS_ASSIGN_OR_RETURN(l.address, f.String("address"));
  MKEYS_ASSIGN_OR_RETURN(l.failures,
                         f.Integer("failures", 0, std::numeric_limits<std::int64_t>::max()));
  MKEYS_ASSIGN_OR_RETURN(l.last_at, f.Int64("last_at"));
  MKEYS_ASSIGN_OR_RETURN(l.retry_at, f.Int64("retry_at"));
  return l;
}

Result<ServeRecord> ServeFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd serving record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  ServeRecord r;
  MKEYS_ASSIGN_OR_RETURN(r.endpoints, f.Strings("endpoints"));
  MKEYS_ASSIGN_OR_RETURN(r.max_failures, f.Int64("max_failures"));
  MKEYS_ASSIGN_OR_RETURN(r.failure_window, f.Int64("failure_window"));
  MKEYS_ASSIGN_OR_RETURN(r.started_at, f.Int64("started_at"));
  MKEYS_ASSIGN_OR_RETURN(r.pid, f.Int64("pid"));
  return r;
}

Result<ManagerRecord> ManagerFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd manager record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  ManagerRecord m;
  MKEYS_ASSIGN_OR_RETURN(m.id, f.String("id"));
  MKEYS_ASSIGN_OR_RETURN(m.host, f.String("host"));
  MKEYS_ASSIGN_OR_RETURN(m.added_at, f.Int64("added_at"));
  return m;
}

Result<RevokedRecord> RevokedFromJson(std::string_view text, std::string_view key) {
  const Source src{"etcd revoked certificate record", key};
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseObject(text, src));
  const Fields f(doc, src);
  RevokedRecord r;
  MKEYS_ASSIGN_OR_RETURN(r.member, f.String("member"));
  MKEYS_ASSIGN_OR_RETURN(r.at, f.Int64("at"));
  return r;
}

std::string MemberStatusKey(MemberStatus status) {
  switch (status) {
    case MemberStatus::kDelivered:
      return "delivered";
    case MemberStatus::kRevoked:
      return "revoked";
    case MemberStatus::kJoined:
      return "joined";
  }
  return "joined";
}

json TokenToJson(const TokenRecord& t) {
  return {{"id", t.id},
          {"verifier", HexEncode(t.verifier)},
          {"created_at", t.created_at},
          {"expires_at", t.expires_at},
          {"uses_total", t.uses_total},
          {"uses_left", t.uses_left},
          {"revoked_at", t.revoked_at ? json(*t.revoked_at) : json(nullptr)},
          {"replace_name", t.replace_name}};
}

json MemberToJson(const MemberRecord& m) {
  return {{"name", m.name},
          {"status", MemberStatusKey(m.status)},
          {"delivered_at", m.delivered_at},
          {"joined_at", m.joined_at},
          {"key_version", m.key_version},
          {"address", m.address},
          {"token_id", m.token_id},
          {"cert_pem", m.cert_pem},
          {"cert_pin", HexEncode(m.cert_pin)}};
}

Result<EtcdSettings> DecodeEtcdSettings(std::string_view text, std::string_view path) {
  const Source src{"etcd registry configuration", path};
  MKEYS_ASSIGN_OR_RETURN(json doc, ParseObject(text, src));
  const Fields f(doc, src);
  MKEYS_ASSIGN_OR_RETURN(auto kind, f.String("kind"));
  if (kind != "etcd") return f.Problem("kind", "is not \"etcd\"");
  EtcdSettings s;
  MKEYS_ASSIGN_OR_RETURN(s.endpoints, f.Strings("endpoints"));
  if (s.endpoints.empty()) return f.Problem("endpoints", "is missing or empty");
  for (std::size_t i = 0; i < s.endpoints.size(); ++i) {
    const std::string& e = s.endpoints[i];
    const auto colon = e.rfind(':');
    if (colon == std::string::npos || colon == 0 || !IsDecimal(e.substr(colon + 1)) ||
        e.size() - colon - 1 > 5 || std::stoul(e.substr(colon + 1)) == 0 ||
        std::stoul(e.substr(colon + 1)) > 65535) {
      return Bad(src, "endpoints[" + std::to_string(i) + "]", "is not HOST:PORT");
    }
  }
  const auto required = [&](const char* name) -> Result<std::string> {
    MKEYS_ASSIGN_OR_RETURN(auto v, f.String(name));
    if (v.empty()) return f.Problem(name, "is empty");
    return v;
  };
  MKEYS_ASSIGN_OR_RETURN(s.array_id, required("array_id"));
  MKEYS_ASSIGN_OR_RETURN(s.array, required("array"));
  MKEYS_ASSIGN_OR_RETURN(s.manager_id, required("manager_id"));
  // An optional object: absent is fine, anything but an object is not.
  const auto object = [&](const char* name) -> Result<const json*> {
    const json* v = f.Find(name);
    if (v && !v->is_object()) return f.Problem(name, "is not an object");
    return v;
  };
  MKEYS_ASSIGN_OR_RETURN(const json* tls, object("tls"));
  if (tls) {
    const Fields t(*tls, src, "tls");
    s.access.tls = true;
    MKEYS_ASSIGN_OR_RETURN(s.access.ca_file, t.String("ca"));
    if (s.access.ca_file.empty()) return t.Problem("ca", "is empty");
  }
  MKEYS_ASSIGN_OR_RETURN(const json* cert, object("client_cert"));
  if (cert) {
    const Fields c(*cert, src, "client_cert");
    MKEYS_ASSIGN_OR_RETURN(s.access.cert_file, c.String("cert"));
    MKEYS_ASSIGN_OR_RETURN(s.access.key_file, c.String("key"));
    if (s.access.cert_file.empty()) return c.Problem("cert", "is empty");
    if (s.access.key_file.empty()) return c.Problem("key", "is empty");
  }
  MKEYS_ASSIGN_OR_RETURN(const json* auth, object("auth"));
  if (auth) {
    const Fields a(*auth, src, "auth");
    MKEYS_ASSIGN_OR_RETURN(s.access.user, a.String("user"));
    if (s.access.user.empty()) return a.Problem("user", "is empty");
    MKEYS_ASSIGN_OR_RETURN(s.access.password_file, a.String("password_file", ""));
  }
  MKEYS_ASSIGN_OR_RETURN(s.pending_request, f.String("pending_request", ""));
  MKEYS_ASSIGN_OR_RETURN(s.expected_pin, f.String("expected_pin", ""));
  if (!s.expected_pin.empty() &&
      (s.expected_pin.size() != 64 ||
       s.expected_pin.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    return f.Problem("expected_pin", "is not 64 lowercase hex digits");
  }
  return s;
}

std::string EncodeEtcdSettings(const EtcdSettings& s) {
  json doc = {{"kind", "etcd"},
              {"endpoints", s.endpoints},
              {"array_id", s.array_id},
              {"array", s.array},
              {"manager_id", s.manager_id}};
  // Paths and the user name only: the password stays in its file or the environment.
  if (s.access.tls) doc["tls"] = {{"ca", s.access.ca_file}};
  if (!s.access.cert_file.empty()) {
    doc["client_cert"] = {{"cert", s.access.cert_file}, {"key", s.access.key_file}};
  }
  if (!s.access.user.empty()) {
    doc["auth"] = {{"user", s.access.user}, {"password_file", s.access.password_file}};
  }
  if (!s.pending_request.empty()) doc["pending_request"] = s.pending_request;
  if (!s.expected_pin.empty()) doc["expected_pin"] = s.expected_pin;
  // Strings from a file may hold bytes that are not UTF-8: replaced, never a throw.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace mkeys::arrayjoin::internal
