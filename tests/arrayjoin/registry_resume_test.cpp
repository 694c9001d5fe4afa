// SPDX-License-Identifier: GPL-3.0-or-later
// The SQLite registry resumes a delivery when the same member key retries with the same token:
// no second use (even the token's last one), a "delivery-resumed" event, and only while the
// token is neither revoked nor expired.
#include <catch2/catch.hpp>

#include <algorithm>

#include "mkeys/arrayjoin/registry.hpp"
#include "support/process.hpp"

using namespace mkeys;
using namespace mkeys::arrayjoin;
using mkeys::test::TempDir;

namespace {

constexpr const char* kTokenId = "cccccccccccccccc";

ArrayInfo Info() {
  ArrayInfo info;
  info.array_id = "00112233445566778899aabbccddeeff";
  info.name = "web";
  info.created_at = 1000;
  info.ca_cert_pem = "pem";
  return info;
}

TokenRecord SingleUse() {
  TokenRecord t;
  t.id = kTokenId;
  t.verifier[0] = 7;
  t.created_at = 1000;
  t.expires_at = 5000;
  t.uses_total = 1;
  t.uses_left = 1;
  return t;
}

MemberRecord Member(std::uint8_t key) {
  MemberRecord m;
  m.name = "vm-1a2b3c4d";
  m.address = "127.0.0.1";
  m.token_id = kTokenId;
  m.cert_pin[0] = key;
  return m;
}

int Count(Registry& reg, std::string_view kind) {
  auto events = reg.Events(100);
  REQUIRE(events);
  return static_cast<int>(
      std::count_if(events->begin(), events->end(), [&](const auto& e) { return e.kind == kind; }));
}

}  // namespace

TEST_CASE("the same member key retrying with a single-use token resumes its delivery",
          "[arrayjoin][registry][resume]") {
  TempDir dir;
  auto reg = Registry::Create(dir.path(), Info());
  REQUIRE(reg);
  REQUIRE((*reg)->AddToken(SingleUse()));
  Digest secret{};
  secret[0] = 7;
  auto first = (*reg)->ReserveDelivery(kTokenId, secret, Member(1), std::nullopt, 2000);
  REQUIRE(first);
  CHECK_FALSE(*first);
  CHECK((*reg)->FindToken(kTokenId).value()->uses_left == 0);

  // Another key under the name, or the same key under another name: refused, the token used up.
  auto thief = (*reg)->ReserveDelivery(kTokenId, secret, Member(2), std::nullopt, 2001);
  REQUIRE_FALSE(thief);
  MemberRecord renamed = Member(1);
  renamed.name = "vm-other";
  auto other_name = (*reg)->ReserveDelivery(kTokenId, secret, renamed, std::nullopt, 2001);
  REQUIRE_FALSE(other_name);
  CHECK(other_name.error().message().find("no uses left") != std::string::npos);

  // The same key, the same name, the same token: resumed, no use taken.
  auto again = (*reg)->ReserveDelivery(kTokenId, secret, Member(1), std::nullopt, 2002);
  REQUIRE(again);
  CHECK(*again);
  CHECK((*reg)->FindToken(kTokenId).value()->uses_left == 0);
  CHECK((*reg)->FindMember("vm-1a2b3c4d").value()->status == MemberStatus::kDelivered);
  CHECK(Count(**reg, "delivered") == 1);
  CHECK(Count(**reg, "delivery-resumed") == 1);
  REQUIRE((*reg)->ConfirmJoin("vm-1a2b3c4d", Member(1).cert_pin, 2003));

  // Joined: nothing left to resume.
  auto joined = (*reg)->ReserveDelivery(kTokenId, secret, Member(1), std::nullopt, 2004);
  REQUIRE_FALSE(joined);
}

TEST_CASE("a revoked or expired token resumes nothing", "[arrayjoin][registry][resume]") {
  TempDir dir;
  auto reg = Registry::Create(dir.path(), Info());
  REQUIRE(reg);
  REQUIRE((*reg)->AddToken(SingleUse()));
  Digest secret{};
  secret[0] = 7;
  REQUIRE((*reg)->ReserveDelivery(kTokenId, secret, Member(1), std::nullopt, 2000));
  auto expired = (*reg)->ReserveDelivery(kTokenId, secret, Member(1), std::nullopt, 6000);
  REQUIRE_FALSE(expired);
  CHECK(expired.error().message().find("expired") != std::string::npos);
  Digest wrong{};
  CHECK_FALSE((*reg)->ReserveDelivery(kTokenId, wrong, Member(1), std::nullopt, 2001));
  REQUIRE((*reg)->RevokeToken(kTokenId, 2002));
  auto revoked = (*reg)->ReserveDelivery(kTokenId, secret, Member(1), std::nullopt, 2003);
  REQUIRE_FALSE(revoked);
  CHECK(revoked.error().message().find("revoked") != std::string::npos);
  CHECK(Count(**reg, "delivery-resumed") == 0);
}
