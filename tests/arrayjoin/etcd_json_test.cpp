// SPDX-License-Identifier: GPL-3.0-or-later
// The decoders of etcd's JSON (arrayjoin/src/etcd_json.cpp, etcd_records_json.cpp): what the
// gateway and the registry write decodes, and malformed replies and records fail with an error
// naming the field.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "internal/etcd_json.hpp"

using namespace mkeys;
using namespace mkeys::arrayjoin;
using namespace mkeys::arrayjoin::internal;

namespace {

const std::string kPin = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// "/mkeys/arrays/x/tokens/ab" and "{}" in base64.
const std::string kKey64 = "L21rZXlzL2FycmF5cy94L3Rva2Vucy9hYg==";
const std::string kValue64 = "e30=";

std::string TokenText(const std::string& uses_left) {
  return R"({"id":"ab","verifier":")" + kPin +
         R"(","created_at":1700000000,"expires_at":1700003600,"uses_total":10,"uses_left":)" +
         uses_left + R"(,"revoked_at":null,"replace_name":""})";
}

}  // namespace

TEST_CASE("etcd range reply decodes keys values and revisions", "[arrayjoin][etcd]") {
  const std::string text = R"({"header":{"cluster_id":"14841639068965178418","revision":"42"},)"
                           R"("kvs":[{"key":")" +
                           kKey64 +
                           R"(","create_revision":"7","mod_revision":"9","version":"2",)"
                           R"("value":")" +
                           kValue64 + R"("},{"key":")" + kKey64 +
                           R"(","create_revision":"5","mod_revision":"5"}],"count":"2"})";
  auto reply = ParseRangeReply(text);
  REQUIRE(reply.ok());
  CHECK(reply->revision == 42);
  CHECK(reply->count == 2);
  REQUIRE(reply->kvs.size() == 2);
  CHECK(reply->kvs[0].key == "/mkeys/arrays/x/tokens/ab");
  CHECK(reply->kvs[0].value == "{}");
  CHECK(reply->kvs[0].create_revision == 7);
  CHECK(reply->kvs[0].mod_revision == 9);
  // The gateway leaves an empty value out.
  CHECK(reply->kvs[1].value.empty());
}

TEST_CASE("etcd range reply with a bad revision names kvs index and field", "[arrayjoin][etcd]") {
  const std::string kv = R"({"key":")" + kKey64 + R"(","mod_revision":"3"})";
  const std::string bad = R"({"key":")" + kKey64 + R"(","mod_revision":"x12"})";
  auto reply = ParseRangeReply(R"({"kvs":[)" + kv + "," + kv + "," + bad + "]}");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code() == ErrorCode::kCorrupt);
  CHECK(reply.error().message() == "etcd reply: kvs[2].mod_revision is not a decimal number");

  // A revision too large for 64 bits, a number of the wrong type, base64 that is not.
  CHECK(ParseRangeReply(R"({"kvs":[{"key":")" + kKey64 +
                        R"(","mod_revision":"99999999999999999999"}]})")
            .error()
            .message() == "etcd reply: kvs[0].mod_revision is not a decimal number");
  CHECK(ParseRangeReply(R"({"kvs":[{"key":7}]})").error().message() ==
        "etcd reply: kvs[0].key is not a string");
  CHECK(ParseRangeReply(R"({"kvs":[{"key":"L21r!2V5"}]})").error().message() ==
        "etcd reply: kvs[0].key is not base64");
  CHECK(ParseRangeReply(R"({"kvs":[{"value":"e30="}]})").error().message() ==
        "etcd reply: kvs[0].key is missing");
  CHECK(ParseRangeReply(R"({"kvs":{}})").error().message() == "etcd reply: kvs is not an array");
  CHECK(ParseRangeReply(R"({"header":{"revision":true}})").error().message() ==
        "etcd reply: header.revision is not a decimal number");
}

TEST_CASE("etcd reply that is not JSON says where it breaks", "[arrayjoin][etcd]") {
  auto reply = ParseTxnReply(R"({"succeeded":tru})");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().message() == "etcd reply is not JSON");
  REQUIRE(reply.error().position().has_value());
  CHECK(*reply.error().position() >= 13);
  CHECK(*reply.error().position() <= 16);
  CHECK(ParseTxnReply("[1]").error().message() == "etcd reply is not a JSON object");
}

TEST_CASE("etcd txn reply decodes succeeded and rejects a string for it", "[arrayjoin][etcd]") {
  auto ok = ParseTxnReply(R"({"header":{"revision":"43"},"succeeded":true,)"
                          R"("responses":[{"response_put":{}}]})");
  REQUIRE(ok.ok());
  CHECK(ok->succeeded);
  CHECK(ok->revision == 43);
  CHECK(ok->responses == 1);
  // The gateway leaves out "succeeded": false.
  auto failed = ParseTxnReply(R"({"header":{"revision":"43"}})");
  REQUIRE(failed.ok());
  CHECK_FALSE(failed->succeeded);
  CHECK(ParseTxnReply(R"({"succeeded":"true"})").error().message() ==
        "etcd reply: succeeded is not true or false");
  CHECK(ParseTxnReply(R"({"responses":[{},3]})").error().message() ==
        "etcd reply: responses[1] is not an object");
}

TEST_CASE("etcd status reply decodes version and leader", "[arrayjoin][etcd]") {
  auto status = ParseStatusReply(R"({"version":"3.4.23","leader":"10276657743932975437"})");
  REQUIRE(status.ok());
  CHECK(status->version == "3.4.23");
  CHECK(status->leader == "10276657743932975437");
  CHECK(ParseStatusReply(R"({"version":3})").error().message() ==
        "etcd reply: version is not a string");
  CHECK(EtcdErrorText(nlohmann::json::parse(R"({"error":"x","message":"no leader"})")) ==
        "no leader");
  CHECK(EtcdErrorText(nlohmann::json::parse(R"({"error":{"a":1},"message":7})")) == "error");
}

TEST_CASE("etcd lease grant reply decodes its id and TTL", "[arrayjoin][etcd]") {
  auto lease = DecodeLeaseReply(nlohmann::json::parse(
      R"({"header":{"revision":"12"},"ID":"7587862311712455430","TTL":"30"})"));
  REQUIRE(lease.ok());
  CHECK(lease->id == 7587862311712455430);
  CHECK(lease->ttl == 30);
  CHECK(lease->revision == 12);
  CHECK(DecodeLeaseReply(nlohmann::json::parse(R"({"TTL":"30"})")).error().message() ==
        "etcd reply: ID is missing (etcd granted no lease)");
  CHECK(DecodeLeaseReply(nlohmann::json::parse(R"({"ID":"-4","TTL":"30"})")).error().message() ==
        "etcd reply: ID is not a decimal number");
}

TEST_CASE("etcd token record with a field of the wrong type names the field and key",
          "[arrayjoin][etcd]") {
  auto token = TokenFromJson(TokenText("9"), "/mkeys/arrays/x/tokens/ab");
  REQUIRE(token.ok());
  CHECK(token->uses_left == 9);
  CHECK_FALSE(token->revoked_at.has_value());

  auto bad = TokenFromJson(TokenText(R"("9")"), "/mkeys/arrays/x/tokens/ab");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kCorrupt);
  CHECK(bad.error().message() ==
        "etcd token record: uses_left is not an integer from 0 to 4294967295");
  CHECK(bad.error().object() == "/mkeys/arrays/x/tokens/ab");
  CHECK(TokenFromJson(TokenText("-1")).error().message() ==
        "etcd token record: uses_left is not an integer from 0 to 4294967295");
  CHECK(TokenFromJson(TokenText("1.5")).error().message() ==
        "etcd token record: uses_left is not an integer from 0 to 4294967295");
  CHECK(TokenFromJson(R"({"id":7})").error().message() == "etcd token record: id is not a string");
  CHECK(TokenFromJson(R"({"id":"ab","verifier":"00"})").error().message() ==
        "etcd token record: verifier is not 64 hex digits");
  CHECK(TokenFromJson(R"({"id":"ab"})").error().message() ==
        "etcd token record: verifier is missing");
}

TEST_CASE("etcd token and member records round-trip through their encoders", "[arrayjoin][etcd]") {
  auto token = TokenFromJson(TokenText("4"));
  REQUIRE(token.ok());
  token->revoked_at = 1700000500;
  auto again = TokenFromJson(TokenToJson(*token).dump());
  REQUIRE(again.ok());
  CHECK(again->revoked_at == std::optional<std::int64_t>(1700000500));
  CHECK(again->verifier == token->verifier);

  MemberRecord m;
  m.name = "web01";
  m.status = MemberStatus::kDelivered;
  m.key_version = 3;
  m.cert_pin.fill(0xab);
  auto member = MemberFromJson(MemberToJson(m).dump());
  REQUIRE(member.ok());
  CHECK(member->status == MemberStatus::kDelivered);
  CHECK(member->cert_pin == m.cert_pin);
  CHECK(member->key_version == 3);
}

TEST_CASE("etcd member record with an unknown status is refused", "[arrayjoin][etcd]") {
  MemberRecord m;
  m.name = "web01";
  auto doc = MemberToJson(m);
  doc["status"] = "admin";
  CHECK(MemberFromJson(doc.dump()).error().message() ==
        "etcd member record: status is not delivered, joined or revoked");
  doc["status"] = 1;
  CHECK(MemberFromJson(doc.dump()).error().message() ==
        "etcd member record: status is not a string");
}

TEST_CASE("etcd records of every kind refuse a field of the wrong type", "[arrayjoin][etcd]") {
  CHECK(ArrayInfoFromJson(R"({"array_id":"a","name":"web","created_at":"1","pin":")" + kPin +
                          R"(","ca_cert_pem":""})")
            .error()
            .message() == "etcd array record: created_at is not an integer from " +
                              std::to_string(INT64_MIN) + " to " + std::to_string(INT64_MAX));
  CHECK(KeyVersionFromJson(R"({"version":4294967296})").error().message() ==
        "etcd key version record: version is not an integer from 0 to 4294967295");
  CHECK(EventFromJson(R"({"at":1,"kind":["x"]})").error().message() ==
        "etcd event record: kind is not a string");
  CHECK(AddressLimitFromJson(R"({"address":null})").error().message() ==
        "etcd failure limit record: address is not a string");
  CHECK(ServeFromJson(R"({"endpoints":["a:1",2]})").error().message() ==
        "etcd serving record: endpoints[1] is not a string");
  CHECK(ManagerFromJson(R"({"id":"m","host":{}})").error().message() ==
        "etcd manager record: host is not a string");
  CHECK(RevokedFromJson(R"({"member":"web01","at":"soon"})").error().message() ==
        "etcd revoked certificate record: at is not an integer from " + std::to_string(INT64_MIN) +
            " to " + std::to_string(INT64_MAX));
  auto serve = ServeFromJson(
      R"({"endpoints":["a:1"],"max_failures":5,"failure_window":60,"started_at":1,"pid":2})");
  REQUIRE(serve.ok());
  CHECK(serve->endpoints == std::vector<std::string>{"a:1"});
}

TEST_CASE("etcd current key version is a decimal number", "[arrayjoin][etcd]") {
  CHECK(CurrentVersionFromText("12").value() == 12u);
  auto bad = CurrentVersionFromText("99999999999999999999", "/mkeys/arrays/x/current");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() ==
        "etcd current key version: '99999999999999999999' is not a decimal number from 0 to "
        "4294967295");
  CHECK(bad.error().object() == "/mkeys/arrays/x/current");
  CHECK_FALSE(CurrentVersionFromText("").ok());
  CHECK_FALSE(CurrentVersionFromText("-1").ok());
}

TEST_CASE("etcd base64 decoding is strict", "[arrayjoin][etcd]") {
  CHECK(DecodeEtcdBase64("e30=").value() == "{}");
  CHECK(DecodeEtcdBase64("").value().empty());
  CHECK(DecodeEtcdBase64("YWI=").value() == "ab");
  CHECK(DecodeEtcdBase64("YQ==").value() == "a");
  CHECK_FALSE(DecodeEtcdBase64("YR==").ok());  // not canonical: leftover bits set
  CHECK_FALSE(DecodeEtcdBase64("Y===").ok());
  CHECK_FALSE(DecodeEtcdBase64("=YWI").ok());
  CHECK_FALSE(DecodeEtcdBase64("YW=I").ok());
  CHECK_FALSE(DecodeEtcdBase64("YWI").ok());
}
