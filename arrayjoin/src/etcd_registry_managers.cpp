// SPDX-License-Identifier: GPL-3.0-or-later
// The etcd records of adding a manager by approval: manager-requests/ID and wrapped/ID, each
// change one transaction with its event (internal/etcd_managers.hpp).
#include <algorithm>

#include "internal/etcd_managers.hpp"
#include "mkeys/arrayjoin/manager_approval.hpp"
#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

Error Bad(std::string_view what, std::string_view key) {
  return Error(ErrorCode::kCorrupt, "etcd holds a malformed " + std::string(what))
      .On(std::string(key));
}

Result<nlohmann::json> ParseRecord(std::string_view text, std::string_view what,
                                   std::string_view key) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Bad(what, key);
  return doc;
}

Result<std::string> StringField(const nlohmann::json& doc, const char* name, std::string_view what,
                                std::string_view key) {
  if (!doc.contains(name) || !doc[name].is_string()) {
    return Bad(std::string(what) + " (" + name + ")", key);
  }
  return doc[name].get<std::string>();
}

Result<std::int64_t> IntField(const nlohmann::json& doc, const char* name, std::string_view what,
                              std::string_view key) {
  if (!doc.contains(name) || !doc[name].is_number_integer()) {
    return Bad(std::string(what) + " (" + name + ")", key);
  }
  return doc[name].get<std::int64_t>();
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> HexField(const nlohmann::json& doc, const char* name,
                                             std::string_view what, std::string_view key) {
  MKEYS_ASSIGN_OR_RETURN(std::string text, StringField(doc, name, what, key));
  auto bytes = HexDecode(text);
  if (!bytes || bytes->size() != N) return Bad(std::string(what) + " (" + name + ")", key);
  std::array<std::uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Result<RequestRecord> RequestFromKv(const EtcdKv& kv) {
  constexpr std::string_view kWhat = "manager request";
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseRecord(kv.value, kWhat, kv.key));
  RequestRecord r;
  MKEYS_ASSIGN_OR_RETURN(r.id, StringField(doc, "id", kWhat, kv.key));
  MKEYS_ASSIGN_OR_RETURN(r.host, StringField(doc, "host", kWhat, kv.key));
  MKEYS_ASSIGN_OR_RETURN(r.requested_at, IntField(doc, "requested_at", kWhat, kv.key));
  MKEYS_ASSIGN_OR_RETURN(r.public_key, HexField<32>(doc, "public_key", kWhat, kv.key));
  // The id is also the key's last part: a record copied under another id is refused.
  if (kv.key.size() < r.id.size() || kv.key.substr(kv.key.size() - r.id.size()) != r.id) {
    return Bad("manager request (its id is not the one in its key)", kv.key);
  }
  r.mod_revision = kv.mod_revision;
  return r;
}

bool IsArrayId(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::string RequestKey(const EtcdRegistry& reg, std::string_view id) {
  return reg.prefix() + "manager-requests/" + std::string(id);
}

std::string WrappedKey(const EtcdRegistry& reg, std::string_view id) {
  return reg.prefix() + "wrapped/" + std::string(id);
}

Result<std::optional<RequestRecord>> GetRequest(EtcdRegistry& reg, std::string_view id) {
  MKEYS_ASSIGN_OR_RETURN(auto kv, reg.client().Get(RequestKey(reg, id)));
  if (!kv) return std::optional<RequestRecord>();
  MKEYS_ASSIGN_OR_RETURN(auto r, RequestFromKv(*kv));
  return std::optional<RequestRecord>(std::move(r));
}

Result<std::vector<RequestRecord>> ListRequests(EtcdRegistry& reg) {
  MKEYS_ASSIGN_OR_RETURN(auto list, reg.client().List(reg.prefix() + "manager-requests/"));
  std::vector<RequestRecord> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(auto r, RequestFromKv(kv));
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const RequestRecord& a, const RequestRecord& b) {
    return a.requested_at < b.requested_at;
  });
  return out;
}

Result<bool> PutRequest(EtcdRegistry& reg, const RequestRecord& request, std::int64_t now) {
  // The array must be there (its info unchanged while the request is written).
  MKEYS_ASSIGN_OR_RETURN(auto info, reg.client().Get(reg.prefix() + "info"));
  if (!info) {
    return Error(ErrorCode::kNotFound, "etcd holds this array no longer").On(reg.Location());
  }
  const nlohmann::json doc = {{"id", request.id},
                              {"host", request.host},
                              {"requested_at", request.requested_at},
                              {"public_key", HexEncode(request.public_key)}};
  const std::string key = RequestKey(reg, request.id);
  const std::string manager = reg.prefix() + "managers/" + request.id;
  return reg.client().Txn(
      {{key, "CREATE", 0}, {manager, "CREATE", 0}, {info->key, "MOD", info->mod_revision}},
      {Put(key, doc.dump()), reg.EventOp("manager-requested", request.id,
                                         "host " + request.host + ", fingerprint " +
                                             RequestFingerprint(request.public_key),
                                         now)});
}

Result<bool> ApproveRequest(EtcdRegistry& reg, const RequestRecord& request,
                            const WrappedSecret& wrapped, std::string_view fingerprint,
                            std::int64_t now) {
  const nlohmann::json doc = {{"ephemeral_public", HexEncode(wrapped.ephemeral_public)},
                              {"nonce", HexEncode(wrapped.nonce)},
                              {"ciphertext", HexEncode(wrapped.ciphertext)},
                              {"approved_by", reg.ManagerId()},
                              {"approved_at", now}};
  const std::string rkey = RequestKey(reg, request.id);
  const std::string wkey = WrappedKey(reg, request.id);
  return reg.client().Txn(
      {{rkey, "MOD", request.mod_revision},
       {wkey, "CREATE", 0},
       {reg.prefix() + "managers/" + request.id, "CREATE", 0}},
      {Put(wkey, doc.dump()), Delete(rkey),
       reg.EventOp("manager-approved", request.id,
                   "host " + request.host + ", fingerprint " + std::string(fingerprint) +
                       ", approved by manager " + reg.ManagerId(),
                   now)});
}

Result<bool> DenyRequest(EtcdRegistry& reg, const RequestRecord& request, std::int64_t now) {
  const std::string rkey = RequestKey(reg, request.id);
  return reg.client().Txn(
      {{rkey, "MOD", request.mod_revision}},
      {Delete(rkey),
       reg.EventOp("manager-denied", request.id,
                   "host " + request.host + ", denied by manager " + reg.ManagerId(), now)});
}

Result<bool> WithdrawRequest(EtcdRegistry& reg, std::string_view id) {
  return reg.client().Txn({}, {Delete(RequestKey(reg, id))});
}

Result<std::optional<WrappedRecord>> GetWrapped(EtcdRegistry& reg, std::string_view id) {
  MKEYS_ASSIGN_OR_RETURN(auto kv, reg.client().Get(WrappedKey(reg, id)));
  if (!kv) return std::optional<WrappedRecord>();
  constexpr std::string_view kWhat = "wrapped registry key";
  MKEYS_ASSIGN_OR_RETURN(auto doc, ParseRecord(kv->value, kWhat, kv->key));
  WrappedRecord w;
  MKEYS_ASSIGN_OR_RETURN(w.wrapped.ephemeral_public,
                         HexField<32>(doc, "ephemeral_public", kWhat, kv->key));
  MKEYS_ASSIGN_OR_RETURN(w.wrapped.nonce, HexField<12>(doc, "nonce", kWhat, kv->key));
  MKEYS_ASSIGN_OR_RETURN(std::string ct, StringField(doc, "ciphertext", kWhat, kv->key));
  auto bytes = HexDecode(ct);
  if (!bytes || bytes->size() < 16 || bytes->size() > 1024) return Bad(kWhat, kv->key);
  w.wrapped.ciphertext = std::move(*bytes);
  MKEYS_ASSIGN_OR_RETURN(w.approved_by, StringField(doc, "approved_by", kWhat, kv->key));
  MKEYS_ASSIGN_OR_RETURN(w.approved_at, IntField(doc, "approved_at", kWhat, kv->key));
  w.mod_revision = kv->mod_revision;
  return std::optional<WrappedRecord>(std::move(w));
}

Result<bool> RegisterApproved(EtcdRegistry& reg, const EtcdSettings& settings,
                              const WrappedRecord& wrapped, std::int64_t now) {
  const std::string mkey = reg.prefix() + "managers/" + settings.manager_id;
  const std::string wkey = WrappedKey(reg, settings.manager_id);
  return reg.client().Txn(
      {{mkey, "CREATE", 0}, {wkey, "MOD", wrapped.mod_revision}},
      {Put(mkey, ManagerJson(settings, now)), Delete(wkey),
       reg.EventOp("manager-added", settings.manager_id,
                   "on host " + Host() + ", approved by manager " + wrapped.approved_by, now)});
}

Result<ArrayInfo> FindArrayInEtcd(EtcdClient& client, std::string_view name_or_id) {
  if (name_or_id.empty() || name_or_id.find('/') != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument, "--array takes the array's name or id")
        .On(std::string(name_or_id));
  }
  if (IsArrayId(name_or_id)) {
    MKEYS_ASSIGN_OR_RETURN(auto kv, client.Get(EtcdPrefix(name_or_id) + "info"));
    if (kv) return ArrayInfoFromJson(kv->value, kv->key);
  }
  MKEYS_ASSIGN_OR_RETURN(auto list, client.List("/mkeys/arrays/"));
  std::vector<ArrayInfo> found;
  for (const auto& kv : list) {
    // /mkeys/arrays/ID/info only.
    constexpr std::string_view kTop = "/mkeys/arrays/";
    const std::string_view key = kv.key;
    if (key.size() <= kTop.size() + 5 || key.substr(key.size() - 5) != "/info" ||
        key.substr(kTop.size(), key.size() - kTop.size() - 5).find('/') != std::string::npos) {
      continue;
    }
    MKEYS_ASSIGN_OR_RETURN(auto info, ArrayInfoFromJson(kv.value, kv.key));
    if (info.name == name_or_id) found.push_back(std::move(info));
  }
  if (found.empty()) {
    return Error(ErrorCode::kNotFound, "etcd holds no array of this name or id")
        .On(std::string(name_or_id));
  }
  if (found.size() > 1) {
    std::string ids;
    for (const auto& f : found) ids += (ids.empty() ? "" : ", ") + f.array_id;
    return Error(ErrorCode::kInvalidArgument,
                 "several arrays in etcd have this name; give --array one of their ids: " + ids)
        .On(std::string(name_or_id));
  }
  return found.front();
}

std::string ManagerWrapAad(std::string_view array_id, std::string_view request_id,
                           const Digest& ca_pin) {
  std::string aad = "mkeys-manager-wrap-v1";
  for (std::string_view part : {std::string_view("array"), array_id, std::string_view("manager"),
                                request_id, std::string_view("ca-pin")}) {
    aad.push_back('\0');
    aad.append(part);
  }
  aad.push_back('\0');
  aad.append(HexEncode(ca_pin));
  return aad;
}

}  // namespace mkeys::arrayjoin::internal
