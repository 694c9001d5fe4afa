// SPDX-License-Identifier: GPL-3.0-or-later
// etcd's gRPC-gateway replies (range, txn, lease, status, errors) and its base64, decoded with
// explicit type checks (internal/json_fields.hpp); the registry's records are in
// etcd_records_json.cpp.
#include "internal/etcd_json.hpp"

#include "internal/json_fields.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

using json_fields::Bad;
using json_fields::Fields;
using json_fields::IsDecimal;
using json_fields::ParseObject;
using json_fields::Source;
using nlohmann::json;

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

}  // namespace mkeys::arrayjoin::internal
