// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/arrayjoin/wire.hpp"

using namespace mkeys;
using namespace mkeys::arrayjoin;

namespace {
std::vector<std::uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<std::uint8_t> out;
  for (int b : v) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}
std::vector<std::uint8_t> FrameOf(std::uint8_t type, std::string_view body) {
  std::vector<std::uint8_t> out;
  out.reserve(6 + body.size());
  out.push_back(1);
  out.push_back(type);
  out.push_back(0);
  out.push_back(0);
  out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(body.size()));
  for (char c : body) out.push_back(static_cast<std::uint8_t>(c));
  return out;
}
}  // namespace

TEST_CASE("frames round-trip", "[arrayjoin][wire]") {
  Frame f{MessageType::kJoinDone, {{"member", "n1"}, {"joined_at", 5}}};
  auto bytes = EncodeFrame(f);
  REQUIRE(bytes);
  auto back = DecodeFrame(*bytes);
  REQUIRE(back);
  auto done = DecodeDone(*back);
  REQUIRE(done);
  CHECK(done->member == "n1");
  CHECK(done->joined_at == 5);
}

TEST_CASE("the frame parser rejects bad headers with the offset", "[arrayjoin][wire]") {
  auto truncated = DecodeFrame(Bytes({1, 4, 0}));
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().position() == 3u);

  auto version = DecodeFrame(FrameOf(1, "{}"));
  REQUIRE(version);  // sanity: this one is fine
  auto v2 = FrameOf(1, "{}");
  v2[0] = 2;
  auto bad_version = DecodeFrame(v2);
  REQUIRE_FALSE(bad_version);
  CHECK(bad_version.error().position() == 0u);

  auto bad_type = DecodeFrame(FrameOf(99, "{}"));
  REQUIRE_FALSE(bad_type);
  CHECK(bad_type.error().position() == 1u);

  auto huge = DecodeFrame(Bytes({1, 1, 0x7f, 0xff, 0xff, 0xff}));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().message().find("exceeds the limit") != std::string::npos);

  auto short_body = FrameOf(1, "{\"a\":1}");
  short_body.pop_back();
  auto sb = DecodeFrame(short_body);
  REQUIRE_FALSE(sb);
  CHECK(sb.error().message().find("truncated") != std::string::npos);

  auto trailing = FrameOf(1, "{}");
  trailing.push_back(0);
  auto tr = DecodeFrame(trailing);
  REQUIRE_FALSE(tr);
  CHECK(tr.error().position() == 8u);
}

TEST_CASE("the frame parser rejects bodies that are not one JSON object", "[arrayjoin][wire]") {
  auto not_json = DecodeFrame(FrameOf(1, "{\"a\":}"));
  REQUIRE_FALSE(not_json);
  CHECK(not_json.error().position() == 6u + 5);
  CHECK_FALSE(DecodeFrame(FrameOf(1, "[1,2]")));
  CHECK_FALSE(DecodeFrame(FrameOf(1, "{} {}")));
  std::string deep(200, '[');
  auto d = DecodeFrame(FrameOf(1, "{\"a\":" + deep + "}"));
  REQUIRE_FALSE(d);
  CHECK(d.error().message().find("nests deeper") != std::string::npos);
}

TEST_CASE("message decoders check every field", "[arrayjoin][wire]") {
  JoinHello hello;
  hello.token_id = "0123456789abcdef";
  hello.token_secret = SecretBytes::Random(20);
  hello.member = "node-1";
  hello.member_key_der = {1, 2, 3};
  auto frame = EncodeHello(hello);
  REQUIRE(DecodeHello(frame));

  auto missing = frame;
  missing.body.erase("proof");
  auto m = DecodeHello(missing);
  REQUIRE_FALSE(m);
  CHECK(m.error().message().find("\"proof\" is missing") != std::string::npos);

  auto short_key = frame;
  short_key.body["wrap_key"] = "abcd";
  CHECK_FALSE(DecodeHello(short_key));

  auto bad_name = frame;
  bad_name.body["member"] = "a/b";
  CHECK_FALSE(DecodeHello(bad_name));

  auto wrong_type = frame;
  wrong_type.type = MessageType::kJoinConfirm;
  CHECK_FALSE(DecodeHello(wrong_type));

  nlohmann::json item = {{"container", "c"},
                         {"kind", "rsa-pkcs8"},
                         {"version", 1},
                         {"ephemeral", std::string(64, '0')},
                         {"nonce", std::string(24, '0')},
                         {"ciphertext", "00"}};
  nlohmann::json items = nlohmann::json::array();
  items.push_back(item);
  Frame offer{MessageType::kJoinOffer,
              {{"array", "a"},
               {"array_id", "x"},
               {"version", 1},
               {"member", "m"},
               {"items", items},
               {"member_cert", ""},
               {"ca_cert", ""}}};
  auto o = DecodeOffer(offer);
  REQUIRE_FALSE(o);
  CHECK(o.error().message().find("items[0]: ciphertext shorter") != std::string::npos);
}

TEST_CASE("member replies carry the manager's endpoints and old replies without them decode",
          "[arrayjoin][wire]") {
  MemberReply reply;
  reply.member = true;
  reply.current_version = 3;
  reply.endpoints = {"127.0.0.1:4763", "manager.example:4763"};
  auto decoded = DecodeMemberReply(EncodeMemberReply(reply));
  REQUIRE(decoded);
  CHECK(decoded->endpoints == reply.endpoints);

  auto old = EncodeMemberReply(reply);
  old.body.erase("endpoints");
  REQUIRE(DecodeMemberReply(old));
  CHECK(DecodeMemberReply(old)->endpoints.empty());

  auto too_many = EncodeMemberReply(reply);
  too_many.body["endpoints"] = nlohmann::json::array();
  for (int i = 0; i < 9; ++i) too_many.body["endpoints"].push_back("h:1");
  CHECK_FALSE(DecodeMemberReply(too_many));
  auto not_text = EncodeMemberReply(reply);
  not_text.body["endpoints"] = {1, 2};
  CHECK_FALSE(DecodeMemberReply(not_text));
}

TEST_CASE("each refusal code is either retryable or final", "[arrayjoin][wire]") {
  CHECK(AdviceFor("too-many-failures").retryable);
  CHECK(AdviceFor("internal").retryable);
  for (const char* code :
       {"token-used-up", "token-expired", "token-revoked", "token-unknown", "token-invalid",
        "name-taken", "certificate-revoked", "not-a-member", "proof-mismatch", "something-new"}) {
    INFO(code);
    CHECK_FALSE(AdviceFor(code).retryable);
    CHECK_FALSE(AdviceFor(code).text.empty());
  }
}
