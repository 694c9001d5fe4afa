// SPDX-License-Identifier: GPL-3.0-or-later
// The etcd registry's records (the values it keeps in etcd) and a manager root's registry.json,
// decoded with explicit type checks (internal/json_fields.hpp) and encoded.
#include "internal/etcd_json.hpp"
#include "internal/json_fields.hpp"

namespace mkeys::arrayjoin::internal {

using json_fields::Bad;
using json_fields::Fields;
using json_fields::IsDecimal;
using json_fields::ParseObject;
using json_fields::Source;
using nlohmann::json;

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
