// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The JSON etcd sends and holds, decoded without exceptions: the gRPC gateway's replies (range,
// txn, maintenance status, errors) and the etcd registry's records (the values under
// /mkeys/arrays/ID/). Every field's type and range is checked; an error (kCorrupt) names the JSON
// path, e.g. "etcd reply: kvs[2].mod_revision is not a decimal number", and for a record the etcd
// key it was read from. Text that is not JSON fails with the byte offset of the syntax error.
// Used by etcd_registry*.cpp and fuzzed by fuzz/etcd_json_fuzz.cpp (which compiles this file
// alone: it must not need the client, Boost or SQLite).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/etcd_client.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::arrayjoin::internal {

// /v3/kv/range. The gateway leaves out fields at their zero value (an empty value, count 0,
// more false); 64-bit integers are decimal strings, bytes base64.
struct EtcdRangeReply {
  std::vector<EtcdKv> kvs;
  std::int64_t count = 0;
  std::int64_t revision = 0;  // header.revision
  bool more = false;
};

// /v3/kv/txn.
struct EtcdTxnReply {
  bool succeeded = false;
  std::int64_t revision = 0;
  std::size_t responses = 0;
};

// /v3/maintenance/status.
struct EtcdStatusReply {
  std::string version;  // "3.4.23"
  std::string leader;   // the leader's member id in decimal ("0" or empty: no leader)
  std::int64_t revision = 0;
};

// /v3/lease/grant.
struct EtcdLeaseReply {
  std::int64_t id = 0;
  std::int64_t ttl = 0;
  std::int64_t revision = 0;
};

// Canonical base64 with padding (what etcd writes): anything else is an error.
Result<std::string> DecodeEtcdBase64(std::string_view text);

Result<EtcdRangeReply> ParseRangeReply(std::string_view text);
Result<EtcdRangeReply> DecodeRangeReply(const nlohmann::json& doc);
Result<EtcdTxnReply> ParseTxnReply(std::string_view text);
Result<EtcdTxnReply> DecodeTxnReply(const nlohmann::json& doc);
Result<EtcdStatusReply> ParseStatusReply(std::string_view text);
Result<EtcdStatusReply> DecodeStatusReply(const nlohmann::json& doc);
Result<EtcdLeaseReply> DecodeLeaseReply(const nlohmann::json& doc);
// What an error reply ({"error": ..., "code": N, "message": ...}) says; "error" when it says
// nothing readable. Never fails.
std::string EtcdErrorText(const nlohmann::json& doc);

// The registry's records. `text` is an etcd value, `key` where it was read (named in errors).
Result<ArrayInfo> ArrayInfoFromJson(std::string_view text, std::string_view key = {});
// "current": the current key version in decimal.
Result<std::uint32_t> CurrentVersionFromText(std::string_view text, std::string_view key = {});
Result<KeyVersion> KeyVersionFromJson(std::string_view text, std::string_view key = {});
Result<TokenRecord> TokenFromJson(std::string_view text, std::string_view key = {});
Result<MemberRecord> MemberFromJson(std::string_view text, std::string_view key = {});
// An event's id is its etcd create_revision, not in the value: left 0.
Result<EventRecord> EventFromJson(std::string_view text, std::string_view key = {});
Result<AddressLimit> AddressLimitFromJson(std::string_view text, std::string_view key = {});
Result<ServeRecord> ServeFromJson(std::string_view text, std::string_view key = {});
// managers/ID: id, host, added_at (the serving fields come from serve/ID).
Result<ManagerRecord> ManagerFromJson(std::string_view text, std::string_view key = {});
// revoked/PIN: the member whose certificate it was, and when.
struct RevokedRecord {
  std::string member;
  std::int64_t at = 0;
};
Result<RevokedRecord> RevokedFromJson(std::string_view text, std::string_view key = {});

// The two records a join decision reads, encoded (the other records are written in place).
nlohmann::json TokenToJson(const TokenRecord& t);
nlohmann::json MemberToJson(const MemberRecord& m);
std::string MemberStatusKey(MemberStatus status);  // "delivered", "joined", "revoked"

// ROOT/mkeys-array/registry.json of an etcd registry root: the endpoints, the array, this
// manager's id, how etcd is reached (paths and a user name, never a password), a pending request
// and the pinned array key fingerprint. Decoded with every field's type and the combinations
// checked (kCorrupt naming the field, or the offset of a syntax error, and `path`); what decodes
// encodes to text that decodes to the same settings.
Result<EtcdSettings> DecodeEtcdSettings(std::string_view text, std::string_view path);
std::string EncodeEtcdSettings(const EtcdSettings& s);

}  // namespace mkeys::arrayjoin::internal
