// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <fstream>

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
