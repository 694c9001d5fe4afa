// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <fstream>

#include "internal/etcd_json.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "support/process.hpp"

using namespace mkeys;
using namespace mkeys::arrayjoin;
using mkeys::test::TempDir;

namespace {
ArrayInfo SampleInfo() {
  ArrayInfo info;
  info.array_id = "00112233445566778899aabbccddeeff";
  info.name = "web";
  info.created_at = 1000;
  info.ca_cert_pem = "pem";
  return info;
}
TokenRecord SampleToken(std::string id, std::uint32_t uses, std::int64_t expires) {
  TokenRecord t;
  t.id = std::move(id);
  t.verifier[0] = 7;
  t.created_at = 1000;
  t.expires_at = expires;
  t.uses_total = uses;
  t.uses_left = uses;
  return t;
}
}  // namespace

TEST_CASE("the registry records joins only while the token allows", "[arrayjoin][registry]") {
  TempDir dir;
  auto reg = Registry::Create(dir.path(), SampleInfo());
  REQUIRE(reg);
  CHECK((*reg)->SchemaVersion().value() == kRegistrySchemaVersion);
  REQUIRE((*reg)->AddToken(SampleToken("aaaaaaaaaaaaaaaa", 1, 5000)));
  Digest good{};
  good[0] = 7;
  Digest bad{};
  MemberRecord m;
  m.name = "n1";
  m.address = "127.0.0.1";
  m.token_id = "aaaaaaaaaaaaaaaa";

  auto wrong = (*reg)->RecordJoin("aaaaaaaaaaaaaaaa", bad, m, 2000);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code() == ErrorCode::kPeerRefused);
  CHECK((*reg)->Members()->empty());

  auto late = (*reg)->RecordJoin("aaaaaaaaaaaaaaaa", good, m, 6000);
  REQUIRE_FALSE(late);
  CHECK(late.error().message().find("expired") != std::string::npos);

  REQUIRE((*reg)->RecordJoin("aaaaaaaaaaaaaaaa", good, m, 2000));
  CHECK((*reg)->Members()->size() == 1);
  CHECK((*reg)->FindToken("aaaaaaaaaaaaaaaa").value()->uses_left == 0);

  m.name = "n2";
  auto used = (*reg)->RecordJoin("aaaaaaaaaaaaaaaa", good, m, 2000);
  REQUIRE_FALSE(used);
  CHECK(used.error().message().find("no uses left") != std::string::npos);
  CHECK((*reg)->Members()->size() == 1);

  REQUIRE((*reg)->AddToken(SampleToken("bbbbbbbbbbbbbbbb", 3, 5000)));
  REQUIRE((*reg)->RevokeToken("bbbbbbbbbbbbbbbb", 2100));
  m.token_id = "bbbbbbbbbbbbbbbb";
  auto revoked = (*reg)->RecordJoin("bbbbbbbbbbbbbbbb", good, m, 2200);
  REQUIRE_FALSE(revoked);
  CHECK(revoked.error().message().find("revoked") != std::string::npos);
  CHECK((*reg)->RevokeToken("cccccccccccccccc", 1).error().code() == ErrorCode::kNotFound);
  CHECK_FALSE((*reg)->Events(100)->empty());
}

TEST_CASE("a registry survives reopening and is never silently reset", "[arrayjoin][registry]") {
  TempDir dir;
  {
    auto reg = Registry::Create(dir.path(), SampleInfo());
    REQUIRE(reg);
    REQUIRE((*reg)->AddKeyVersion({1, 1000, "r1", "c1"}));
  }
  {
    auto again = Registry::Create(dir.path(), SampleInfo());
    REQUIRE_FALSE(again);
    CHECK(again.error().code() == ErrorCode::kExists);
    auto reg = Registry::Open(dir.path());
    REQUIRE(reg);
    CHECK((*reg)->Info()->current_version == 1);
    CHECK((*reg)->Info()->name == "web");
  }
  const auto path = Registry::PathFor(dir.path());
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("garbage garbage garbage garbage", 32);
  }
  const auto size_before = std::filesystem::file_size(path);
  auto corrupt = Registry::Open(dir.path());
  REQUIRE_FALSE(corrupt);
  CHECK(corrupt.error().code() == ErrorCode::kCorrupt);
  CHECK(corrupt.error().ToString().find("registry.db") != std::string::npos);
  CHECK(std::filesystem::file_size(path) == size_before);

  TempDir empty;
  auto none = Registry::Open(empty.path());
  REQUIRE_FALSE(none);
  CHECK(none.error().code() == ErrorCode::kNotFound);
}

TEST_CASE("a registry from a newer mkeys is refused, not downgraded", "[arrayjoin][registry]") {
  TempDir dir;
  { REQUIRE(Registry::Create(dir.path(), SampleInfo())); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(Registry::PathFor(dir.path()).c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  auto reg = Registry::Open(dir.path());
  REQUIRE_FALSE(reg);
  CHECK(reg.error().code() == ErrorCode::kUnsupported);
  CHECK(reg.error().message().find("99") != std::string::npos);
}

TEST_CASE("a delivery spends the use before confirmation and names are identities",
          "[arrayjoin][registry]") {
  TempDir dir;
  auto reg = Registry::Create(dir.path(), SampleInfo());
  REQUIRE(reg);
  REQUIRE((*reg)->AddToken(SampleToken("aaaaaaaaaaaaaaaa", 3, 5000)));
  Digest secret{};
  secret[0] = 7;
  MemberRecord m;
  m.name = "edge-8";
  m.address = "127.0.0.1";
  m.token_id = "aaaaaaaaaaaaaaaa";
  m.cert_pin[0] = 1;
  REQUIRE((*reg)->ReserveDelivery("aaaaaaaaaaaaaaaa", secret, m, std::nullopt, 2000));
  CHECK((*reg)->FindToken("aaaaaaaaaaaaaaaa").value()->uses_left == 2);
  CHECK((*reg)->FindMember("edge-8").value()->status == MemberStatus::kDelivered);

  // Another key under the same name: refused, nothing spent.
  MemberRecord thief = m;
  thief.cert_pin[0] = 2;
  auto taken = (*reg)->ReserveDelivery("aaaaaaaaaaaaaaaa", secret, thief, std::nullopt, 2001);
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code() == ErrorCode::kExists);
  CHECK((*reg)->FindToken("aaaaaaaaaaaaaaaa").value()->uses_left == 2);
  // Proving another key does not help either; proving edge-8's key does.
  Digest other{};
  other[0] = 9;
  CHECK_FALSE((*reg)->ReserveDelivery("aaaaaaaaaaaaaaaa", secret, thief, other, 2002));
  REQUIRE((*reg)->ConfirmJoin("edge-8", m.cert_pin, 2003));
  CHECK((*reg)->FindMember("edge-8").value()->status == MemberStatus::kJoined);
  REQUIRE((*reg)->ReserveDelivery("aaaaaaaaaaaaaaaa", secret, m, m.cert_pin, 2004));
  // A confirmation for another certificate is refused.
  CHECK_FALSE((*reg)->ConfirmJoin("edge-8", thief.cert_pin, 2005));

  // Revocation: listed as revoked, and the key can no longer prove anything.
  REQUIRE((*reg)->RevokeMember("edge-8", 2006));
  CHECK((*reg)->IsRevoked(m.cert_pin).value());
  CHECK((*reg)->FindMember("edge-8").value()->status == MemberStatus::kRevoked);
  auto revoked = (*reg)->ReserveDelivery("aaaaaaaaaaaaaaaa", secret, m, m.cert_pin, 2007);
  REQUIRE_FALSE(revoked);
  CHECK(revoked.error().code() == ErrorCode::kAccessDenied);

  // A --replace token takes the name over.
  TokenRecord replace = SampleToken("bbbbbbbbbbbbbbbb", 1, 5000);
  replace.replace_name = "edge-8";
  REQUIRE((*reg)->AddToken(replace));
  thief.token_id = "bbbbbbbbbbbbbbbb";
  REQUIRE((*reg)->ReserveDelivery("bbbbbbbbbbbbbbbb", secret, thief, std::nullopt, 2008));
  CHECK((*reg)->FindMember("edge-8").value()->cert_pin == thief.cert_pin);
  bool delivered = false;
  const auto events = (*reg)->Events(100);
  REQUIRE(events);
  for (const auto& e : *events) delivered = delivered || e.kind == "delivered";
  CHECK(delivered);
}

TEST_CASE("the failure limits and serving endpoints are kept for array status",
          "[arrayjoin][registry]") {
  TempDir dir;
  auto reg = Registry::Create(dir.path(), SampleInfo());
  REQUIRE(reg);
  REQUIRE((*reg)->SaveAddressLimit({"127.0.0.9", 10, 3000, 3300}));
  auto limits = (*reg)->AddressLimits();
  REQUIRE(limits);
  REQUIRE(limits->size() == 1);
  CHECK((*limits)[0].retry_at == 3300);
  ServeRecord rec;
  rec.endpoints = {"127.0.0.1:4763"};
  rec.max_failures = 10;
  rec.failure_window = 300;
  REQUIRE((*reg)->SaveServeRecord(rec));
  auto loaded = (*reg)->LoadServeRecord();
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->endpoints == rec.endpoints);
  REQUIRE((*reg)->ClearAddressLimits());
  CHECK((*reg)->AddressLimits()->empty());
}

TEST_CASE("a schema 1 registry of an earlier mkeys migrates and keeps its members joined",
          "[arrayjoin][registry]") {
  TempDir dir;
  std::filesystem::create_directories(Registry::DirFor(dir.path()));
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(Registry::PathFor(dir.path()).c_str(), &db) == SQLITE_OK);
  const char* v1 = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
CREATE TABLE array_info(singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  array_id TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL,
  pin BLOB NOT NULL, ca_cert_pem TEXT NOT NULL, current_version INTEGER NOT NULL);
CREATE TABLE key_versions(version INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,
  rsa_container TEXT NOT NULL, config_container TEXT NOT NULL);
CREATE TABLE tokens(id TEXT PRIMARY KEY, verifier BLOB NOT NULL, created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, uses_total INTEGER NOT NULL, uses_left INTEGER NOT NULL,
  revoked_at INTEGER);
CREATE TABLE members(name TEXT PRIMARY KEY, joined_at INTEGER NOT NULL,
  key_version INTEGER NOT NULL, address TEXT NOT NULL, token_id TEXT NOT NULL,
  cert_pem TEXT NOT NULL, cert_pin BLOB NOT NULL);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
  kind TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL);
INSERT INTO array_info VALUES (1, 'id', 'web', 1000, x'00', 'pem', 1);
INSERT INTO members VALUES ('old-node', 1500, 1, '127.0.0.1', 't', 'pem', x'01');
)sql";
  REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto reg = Registry::Open(dir.path());
  REQUIRE(reg);
  CHECK((*reg)->SchemaVersion().value() == 2);
  auto members = (*reg)->Members();
  REQUIRE(members);
  REQUIRE(members->size() == 1);
  CHECK((*members)[0].status == MemberStatus::kJoined);
  CHECK((*reg)->AddressLimits()->empty());
}

TEST_CASE("a damaged etcd registry configuration is refused with its path",
          "[arrayjoin][registry]") {
  // Fields of the wrong type, not JSON, a missing endpoint list: an error naming registry.json,
  // never an exception or an etcd call to nowhere.
  // Each with what the error must name.
  const std::pair<const char*, const char*> damaged[] = {
      {R"({"kind": 5})", "kind is not a string"},
      {R"({"kind": "sqlite", "endpoints": ["127.0.0.1:1"]})", "kind is not \"etcd\""},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:1"], "array_id": 7, "array": "web",
          "manager_id": "m"})",
       "array_id is not a string"},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:1"], "array_id": "a", "array": "web",
          "manager_id": "m", "tls": {"ca": ["x"]}, "auth": {"user": false}})",
       "tls.ca is not a string"},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:1"], "array_id": "a", "array": "web",
          "manager_id": "m", "auth": {"user": ""}})",
       "auth.user is empty"},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:1"], "array_id": "a", "array": "web",
          "manager_id": "m", "client_cert": {"cert": "c.pem"}})",
       "client_cert.key is missing"},
      {R"({"kind": "etcd", "endpoints": "127.0.0.1:1"})", "endpoints is not an array"},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:1", "nohost"], "array_id": "a"})",
       "endpoints[1] is not HOST:PORT"},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:99999"], "array_id": "a"})",
       "endpoints[0] is not HOST:PORT"},
      {R"({"kind": "etcd", "endpoints": ["127.0.0.1:1"], "array_id": "a", "array": "web",
          "manager_id": "m", "expected_pin": "ABC"})",
       "expected_pin is not 64 lowercase hex digits"},
      {"{\"kind\": \"etcd\", ", "is not JSON (at offset"},
  };
  for (const auto& [text, named] : damaged) {
    TempDir dir;
    const auto path = Registry::ConfigPathFor(dir.path());
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    INFO(text);
    auto reg = Registry::Open(dir.path());
    REQUIRE_FALSE(reg);
    CHECK(reg.error().code() == ErrorCode::kCorrupt);
    CHECK(reg.error().ToString().find("registry.json") != std::string::npos);
    CHECK(reg.error().ToString().find(named) != std::string::npos);
  }
}

TEST_CASE("etcd registry settings written and read back are the same", "[arrayjoin][registry]") {
  mkeys::arrayjoin::EtcdSettings s;
  s.endpoints = {"127.0.0.1:23790", "[::1]:23791", "etcd.example:2379"};
  s.array_id = "0123456789abcdef";
  s.array = "web";
  s.manager_id = "fedcba9876543210";
  s.access.tls = true;
  s.access.ca_file = "/etc/mkeys/ca.pem";
  s.access.cert_file = "/etc/mkeys/c.pem";
  s.access.key_file = "/etc/mkeys/k.pem";
  s.access.user = "mkeys";
  s.pending_request = "fedcba9876543210";
  s.expected_pin = std::string(64, 'a');
  const std::string text = mkeys::arrayjoin::internal::EncodeEtcdSettings(s);
  auto back = mkeys::arrayjoin::internal::DecodeEtcdSettings(text, "registry.json");
  REQUIRE(back);
  CHECK(back->endpoints == s.endpoints);
  CHECK(back->array_id == s.array_id);
  CHECK(back->array == s.array);
  CHECK(back->manager_id == s.manager_id);
  CHECK(back->access.tls);
  CHECK(back->access.ca_file == s.access.ca_file);
  CHECK(back->access.cert_file == s.access.cert_file);
  CHECK(back->access.key_file == s.access.key_file);
  CHECK(back->access.user == s.access.user);
  CHECK(back->access.password_file.empty());
  CHECK(back->pending_request == s.pending_request);
  CHECK(back->expected_pin == s.expected_pin);
}
