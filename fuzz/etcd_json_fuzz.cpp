// SPDX-License-Identifier: GPL-3.0-or-later
// etcd's JSON as a manager reads it (arrayjoin/src/etcd_json.cpp, etcd_records_json.cpp): the
// gRPC gateway's range, txn and status replies, every record the etcd registry keeps in etcd
// values, and a manager root's registry.json (which round-trips), from an etcd (or a file) that
// may be tampered with or corrupted. Each decoder fails with an error, never throws; base64 that
// decodes re-encodes to the same text; a token or member that decodes re-encodes to a record
// that decodes to the same value. The input is tried as it is on every decoder, and spliced into
// a valid document of the kind its first byte picks (json_splice.hpp).
// fuzz-links: mkeys::core OpenSSL::Crypto nlohmann_json::nlohmann_json
// fuzz-sources: arrayjoin/src/etcd_json.cpp
// fuzz-sources: arrayjoin/src/etcd_records_json.cpp
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "internal/etcd_json.hpp"
#include "json_splice.hpp"

using mkeys::fuzz::Check;
using nlohmann::json;
namespace aj = mkeys::arrayjoin;
namespace in = mkeys::arrayjoin::internal;

namespace {

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t at = 0; at < bytes.size(); at += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - at);
    std::uint32_t bits = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      bits = (bits << 8) | (i < n ? static_cast<std::uint8_t>(bytes[at + i]) : 0u);
    }
    for (std::size_t i = 0; i < 4; ++i) {
      out.push_back(i <= n ? kAlphabet[(bits >> (18 - 6 * i)) & 63] : '=');
    }
  }
  return out;
}

bool SameToken(const aj::TokenRecord& a, const aj::TokenRecord& b) {
  return a.id == b.id && a.verifier == b.verifier && a.created_at == b.created_at &&
         a.expires_at == b.expires_at && a.uses_total == b.uses_total &&
         a.uses_left == b.uses_left && a.revoked_at == b.revoked_at &&
         a.replace_name == b.replace_name;
}

bool SameMember(const aj::MemberRecord& a, const aj::MemberRecord& b) {
  return a.name == b.name && a.status == b.status && a.delivered_at == b.delivered_at &&
         a.joined_at == b.joined_at && a.key_version == b.key_version && a.address == b.address &&
         a.token_id == b.token_id && a.cert_pem == b.cert_pem && a.cert_pin == b.cert_pin;
}

bool SameSettings(const aj::EtcdSettings& a, const aj::EtcdSettings& b) {
  return a.endpoints == b.endpoints && a.array_id == b.array_id && a.array == b.array &&
         a.manager_id == b.manager_id && a.access.tls == b.access.tls &&
         a.access.ca_file == b.access.ca_file && a.access.cert_file == b.access.cert_file &&
         a.access.key_file == b.access.key_file && a.access.user == b.access.user &&
         a.access.password_file == b.access.password_file &&
         a.pending_request == b.pending_request && a.expected_pin == b.expected_pin;
}

// Every decoder on `text`; what succeeds is checked.
void DecodeAll(std::string_view text) {
  if (auto bytes = in::DecodeEtcdBase64(text)) {
    Check(Base64(*bytes) == text, "base64 that decodes does not re-encode to the same text");
  }
  if (auto range = in::ParseRangeReply(text)) {
    for (const auto& kv : range->kvs) {
      auto key = in::DecodeEtcdBase64(Base64(kv.key));
      Check(key.ok() && *key == kv.key, "a range reply's key does not round-trip");
      Check(kv.create_revision >= 0 && kv.mod_revision >= 0, "a negative revision decoded");
    }
    Check(range->count >= 0 && range->revision >= 0, "a negative count or revision decoded");
  }
  if (auto txn = in::ParseTxnReply(text)) {
    Check(txn->revision >= 0, "a negative txn revision decoded");
  }
  (void)in::ParseStatusReply(text);
  auto doc = json::parse(text, nullptr, false);
  if (auto lease = in::DecodeLeaseReply(doc)) {
    Check(lease->id > 0 && lease->ttl >= 0, "a lease without an id or with a negative TTL");
  }
  (void)in::EtcdErrorText(doc);
  (void)in::ArrayInfoFromJson(text, "/mkeys/arrays/x/info");
  (void)in::CurrentVersionFromText(text, "/mkeys/arrays/x/current");
  (void)in::KeyVersionFromJson(text);
  if (auto token = in::TokenFromJson(text)) {
    auto again = in::TokenFromJson(in::TokenToJson(*token).dump());
    Check(again.ok() && SameToken(*again, *token), "a token record does not round-trip");
  }
  if (auto member = in::MemberFromJson(text)) {
    auto again = in::MemberFromJson(in::MemberToJson(*member).dump());
    Check(again.ok() && SameMember(*again, *member), "a member record does not round-trip");
  }
  (void)in::EventFromJson(text);
  (void)in::AddressLimitFromJson(text);
  (void)in::ServeFromJson(text);
  (void)in::ManagerFromJson(text);
  (void)in::RevokedFromJson(text);
  if (auto settings = in::DecodeEtcdSettings(text, "registry.json")) {
    auto again = in::DecodeEtcdSettings(in::EncodeEtcdSettings(*settings), "registry.json");
    Check(again.ok() && SameSettings(*again, *settings), "registry.json does not round-trip");
  }
}

const json kHeader = {{"cluster_id", "14841639068965178418"},
                      {"member_id", "10276657743932975437"},
                      {"revision", "42"},
                      {"raft_term", "3"}};
constexpr const char* kPin = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

std::array<mkeys::fuzz::JsonSplicer, 13> MakeSplicers() {
  return {
      mkeys::fuzz::JsonSplicer({{"header", kHeader},
                                {"kvs",
                                 {{{"key", "L21rZXlzL2FycmF5cy94L3Rva2Vucy9hYg=="},
                                   {"create_revision", "7"},
                                   {"mod_revision", "9"},
                                   {"version", "2"},
                                   {"value", "eyJpZCI6ImFiIn0="}},
                                  {{"key", "L21rZXlzL2FycmF5cy94L2N1cnJlbnQ="},
                                   {"create_revision", "5"},
                                   {"mod_revision", "5"},
                                   {"version", "1"}}}},
                                {"count", "2"},
                                {"more", true}}),
      mkeys::fuzz::JsonSplicer(
          {{"header", kHeader},
           {"succeeded", true},
           {"responses",
            {{{"response_put", {{"header", {{"revision", "43"}}}}}},
             {{"response_delete_range", {{"header", {{"revision", "43"}}}, {"deleted", "1"}}}}}}}),
      mkeys::fuzz::JsonSplicer({{"header", kHeader},
                                {"version", "3.4.23"},
                                {"dbSize", "20480"},
                                {"leader", "10276657743932975437"},
                                {"raftIndex", "57"},
                                {"raftTerm", "3"}}),
      mkeys::fuzz::JsonSplicer({{"schema", 1},
                                {"array_id", "00112233445566778899aabbccddeeff"},
                                {"name", "web"},
                                {"created_at", 1700000000},
                                {"pin", kPin},
                                {"ca_cert_pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"}}),
      mkeys::fuzz::JsonSplicer({{"version", 2},
                                {"created_at", 1700000100},
                                {"rsa_container", "mkeys-array-web-v2-rsa"},
                                {"config_container", "mkeys-array-web-v2-config"}}),
      mkeys::fuzz::JsonSplicer({{"id", "0123456789abcdef"},
                                {"verifier", kPin},
                                {"created_at", 1700000000},
                                {"expires_at", 1700003600},
                                {"uses_total", 10},
                                {"uses_left", 9},
                                {"revoked_at", nullptr},
                                {"replace_name", "web01"}}),
      mkeys::fuzz::JsonSplicer({{"name", "web01.example.org"},
                                {"status", "delivered"},
                                {"delivered_at", 1700000200},
                                {"joined_at", 0},
                                {"key_version", 2},
                                {"address", "192.0.2.7:50412"},
                                {"token_id", "0123456789abcdef"},
                                {"cert_pem", "-----BEGIN CERTIFICATE-----\nMIIC\n"},
                                {"cert_pin", kPin}}),
      mkeys::fuzz::JsonSplicer({{"at", 1700000200},
                                {"kind", "delivered"},
                                {"subject", "web01.example.org"},
                                {"detail", "keys for key version 2"},
                                {"manager", "a1b2c3d4e5f60718"}}),
      mkeys::fuzz::JsonSplicer(
          {{"address", "192.0.2.7"}, {"failures", 3}, {"last_at", 1700000300}, {"retry_at", 0}}),
      mkeys::fuzz::JsonSplicer({{"endpoints", {"192.0.2.1:7443", "manager.example.org:7443"}},
                                {"max_failures", 5},
                                {"failure_window", 600},
                                {"started_at", 1700000000},
                                {"pid", 4242}}),
      mkeys::fuzz::JsonSplicer(
          {{"id", "a1b2c3d4e5f60718"}, {"host", "manager1"}, {"added_at", 1700000000}}),
      mkeys::fuzz::JsonSplicer({{"member", "web01.example.org"}, {"at", 1700000400}}),
      mkeys::fuzz::JsonSplicer({{"kind", "etcd"},
                                {"endpoints", {"127.0.0.1:23790", "[::1]:23791"}},
                                {"array_id", "00112233445566778899aabbccddeeff"},
                                {"array", "web"},
                                {"manager_id", "a1b2c3d4e5f60718"},
                                {"tls", {{"ca", "/etc/mkeys/ca.pem"}}},
                                {"client_cert", {{"cert", "c.pem"}, {"key", "k.pem"}}},
                                {"auth", {{"user", "mkeys"}, {"password_file", ""}}},
                                {"pending_request", "a1b2c3d4e5f60718"},
                                {"expected_pin", kPin}}),
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto splicers = MakeSplicers();
  DecodeAll(std::string_view(reinterpret_cast<const char*>(data), size));
  if (size < 1) return 0;
  const auto& splicer = splicers[data[0] % splicers.size()];
  if (auto spliced = splicer.Apply(std::span<const std::uint8_t>(data + 1, size - 1))) {
    DecodeAll(*spliced);
  }
  return 0;
}
