// SPDX-License-Identifier: GPL-3.0-or-later
// Keys are delivered at most once per token use: the use is reserved and the delivery recorded
// before any key byte leaves the manager, whatever happens after. Two processes over TCP on
// 127.0.0.1.
#include <thread>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

struct Setup {
  TempDir work;
  std::filesystem::path manager = work.path() / "manager";
  std::filesystem::path member = work.path() / "member";
  Setup() {
    InitMachine(manager);
    InitMachine(member);
    REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  }
};

// The "delivered" events for `name`, newest first.
std::vector<nlohmann::json> Deliveries(const std::filesystem::path& manager,
                                       const std::string& name) {
  std::vector<nlohmann::json> out;
  for (const auto& e : Events(manager)) {
    if (e["kind"] == "delivered" && e["subject"] == name) out.push_back(e);
  }
  return out;
}

// The pending record of `name` shows the same certificate the delivery event names.
void RequireDeliveryRecorded(const std::filesystem::path& manager, const std::string& name) {
  const auto pending = MembersWith(manager, "--pending");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["name"] == name);
  CHECK(pending[0]["status"] == "delivered, not confirmed");
  const std::string fp = pending[0]["certificate_fingerprint"];
  CHECK(fp.rfind("sha256:", 0) == 0);
  const auto delivered = Deliveries(manager, name);
  REQUIRE(delivered.size() == 1);
  const std::string detail = delivered[0]["detail"];
  CHECK(detail.find(fp) != std::string::npos);
  CHECK(detail.find("127.0.0.1") != std::string::npos);
  CHECK(Members(manager).empty());  // not a member until it confirms
}

}  // namespace

TEST_CASE("the token use is spent and the delivery recorded before any key byte is sent",
          "[integration][array][once]") {
  // before-offer: killed after the reservation, before sending; after-send-before-commit:
  // killed after sending, before the confirmation could be recorded.
  for (const char* step : {"before-offer", "after-send-before-commit"}) {
    DYNAMIC_SECTION("manager:" << step) {
      Setup s;
      const std::string token = IssueToken(s.manager, {"--uses", "1"});
      std::string address;
      {
        ServerProcess doomed(s.manager, s.work.path(),
                             {std::string("MKEYS_FAULT=manager:") + step});
        address = doomed.Address();
        auto join = JoinWith(s.member, address, token, "node1");
        INFO(join.out << join.err << doomed.Log());
        CHECK(join.exit_code == 4);
        CHECK(doomed.WaitExit(10) == 86);
      }
      CHECK(Tokens(s.manager)[0]["uses_left"] == 0);
      RequireDeliveryRecorded(s.manager, "node1");
      // Back on the same address: the member settles (rolled back, keeping only its member key
      // for a retry), and the token is spent.
      ServerProcess server(s.manager, s.work.path(), {}, {}, address);
      REQUIRE(Mkeys({"array", "status", s.member.string()}).exit_code == 0);
      CHECK(KeptKeys(s.member).size() == 1);
      RequireNoTrace(s.member, true);
      const auto again = s.work.path() / "again";
      InitMachine(again);
      auto second = JoinWith(again, address, token, "node2");
      INFO(second.out << second.err);
      CHECK(second.exit_code == 4);
      CHECK(second.err.find("has been used 1 time(s), its limit") != std::string::npos);
      CHECK(second.err.find("final") != std::string::npos);
      RequireNoTrace(again);
    }
  }
}

TEST_CASE("a member killed right after receiving the keys cannot use a single-use token again",
          "[integration][array][once]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const std::string token = IssueToken(s.manager, {"--uses", "1"});
  auto killed =
      JoinWith(s.member, server.Address(), token, "node1", {"MKEYS_FAULT=member:after-receive"});
  INFO(killed.out << killed.err << server.Log());
  REQUIRE(killed.exit_code == 86);
  // The next join with the same token under another name, from the same machine after it
  // cleaned up, is refused (the same name would resume that delivery: the same key again).
  REQUIRE(Mkeys({"array", "status", s.member.string()}).exit_code == 0);
  CHECK(KeptKeys(s.member).size() == 1);
  RequireNoTrace(s.member, true);
  auto again = JoinWith(s.member, server.Address(), token, "node1-again");
  INFO(again.out << again.err);
  CHECK(again.exit_code == 4);
  CHECK(again.err.find("used") != std::string::npos);
  RequireNoTrace(s.member);
  // The operator sees the delivery, with the member's certificate fingerprint and address.
  for (int i = 0; i < 50 && MembersWith(s.manager, "--pending").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  RequireDeliveryRecorded(s.manager, "node1");
  auto events = Mkeys({"array", "events", s.manager.string()});
  CHECK(events.out.find("delivered") != std::string::npos);
  CHECK(events.out.find("delivery-unconfirmed") != std::string::npos);
}

TEST_CASE("five concurrent joins with one single-use token deliver keys to exactly one",
          "[integration][array][once]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const std::string token = IssueToken(s.manager, {"--uses", "1"});
  constexpr int kJoins = 5;
  std::vector<std::filesystem::path> roots;
  for (int i = 0; i < kJoins; ++i) {
    roots.push_back(s.work.path() / ("m" + std::to_string(i)));
    InitMachine(roots.back());
  }
  std::vector<RunResult> results(kJoins);
  std::vector<std::thread> threads;
  for (int i = 0; i < kJoins; ++i) {
    threads.emplace_back([&, i] {
      results[i] = JoinWith(roots[i], server.Address(), token, "node" + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  int with_keys = 0;
  int succeeded = 0;
  for (int i = 0; i < kJoins; ++i) {
    INFO("join " << i << ": " << results[i].out << results[i].err);
    if (KeyFileCount(roots[i]) > 0) ++with_keys;
    if (results[i].exit_code == 0) {
      ++succeeded;
    } else {
      CHECK(results[i].exit_code == 4);
      CHECK(results[i].err.find("used") != std::string::npos);
    }
  }
  CHECK(with_keys == 1);
  CHECK(succeeded == 1);
  CHECK(Members(s.manager).size() == 1);
  CHECK(MembersWith(s.manager, "--pending").empty());
  int delivered = 0;
  for (const auto& e : Events(s.manager)) delivered += e["kind"] == "delivered" ? 1 : 0;
  CHECK(delivered == 1);
}

TEST_CASE("a revoked member certificate is refused on sync and listed",
          "[integration][array][once]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  auto join = JoinWith(s.member, server.Address(), IssueToken(s.manager), "node1");
  INFO(join.out << join.err);
  REQUIRE(join.exit_code == 0);
  REQUIRE(SyncMember(s.member).exit_code == 0);
  auto revoke = Mkeys({"array", "revoke", s.manager.string(), "node1"});
  INFO(revoke.out << revoke.err);
  REQUIRE(revoke.exit_code == 0);
  auto sync = SyncMember(s.member);
  INFO(sync.out << sync.err);
  CHECK(sync.exit_code == 4);
  CHECK(sync.err.find("was revoked") != std::string::npos);
  const auto revoked = MembersWith(s.manager, "--revoked");
  REQUIRE(revoked.size() == 1);
  CHECK(revoked[0]["name"] == "node1");
  CHECK(Members(s.manager).empty());
  bool logged = false;
  for (const auto& e : Events(s.manager)) logged = logged || e["kind"] == "certificate-revoked";
  CHECK(logged);
}
