// SPDX-License-Identifier: GPL-3.0-or-later
// Several managers of one array on a real 3-member etcd cluster (loopback ports, temporary
// data): token uses reserved exactly once across managers, a join retried through the other
// manager after one was killed, a rotation while the etcd leader is killed, an etcd member wiped
// and re-added. Outside CI these skip (with a warning) only when etcd is not installed.
#include <algorithm>
#include <thread>

#include "array_support.hpp"
#include "etcd_support.hpp"

using namespace mkeys::test;

namespace {

bool EtcdOrSkip() {
  if (HaveEtcd()) return true;
  if (InCi()) FAIL("etcd is not installed (scripts/install-deps.sh installs etcd-server)");
  WARN("SKIPPED: etcd/etcdctl not installed (apt-get install etcd-server etcd-client)");
  return false;
}

// Two managers of one array, their registry on a fresh etcd cluster.
struct TwoManagers {
  TempDir work;
  EtcdCluster etcd{work.path() / "etcd"};
  std::filesystem::path a = work.path() / "manager-a";
  std::filesystem::path b = work.path() / "manager-b";
  TwoManagers() {
    InitMachine(a);
    InitMachine(b);
    auto created =
        Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url()});
    INFO(created.out << created.err);
    REQUIRE(created.exit_code == 0);
    auto added = Mkeys({"array", "manager", "add", b.string(), "--from", a.string()});
    INFO(added.out << added.err);
    REQUIRE(added.exit_code == 0);
  }
  std::filesystem::path Member(const std::string& name) {
    auto root = work.path() / name;
    InitMachine(root);
    return root;
  }
};

int CountEvents(const nlohmann::json& events, const std::string& kind) {
  return static_cast<int>(std::count_if(events.begin(), events.end(),
                                        [&](const auto& e) { return e["kind"] == kind; }));
}

}  // namespace

TEST_CASE("15 joins over two managers on etcd with a token of 10 uses deliver exactly 10",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  TwoManagers s;
  ServerProcess server_a(s.a, s.work.path());
  ServerProcess server_b(s.b, s.work.path());
  const std::string token = IssueToken(s.a, {"--uses", "10"});
  constexpr int kJoins = 15;
  std::vector<std::filesystem::path> roots;
  for (int i = 0; i < kJoins; ++i) roots.push_back(s.Member("m" + std::to_string(i)));
  std::vector<RunResult> results(kJoins);
  std::vector<std::thread> threads;
  for (int i = 0; i < kJoins; ++i) {
    const std::string address = i % 2 == 0 ? server_a.Address() : server_b.Address();
    threads.emplace_back([&, i, address] {
      results[i] = JoinWith(roots[i], address, token, "node" + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  int joined = 0;
  int used = 0;
  int through_b = 0;
  for (int i = 0; i < kJoins; ++i) {
    INFO("join " << i << ": " << results[i].out << results[i].err);
    if (results[i].exit_code == 0) {
      ++joined;
      through_b += i % 2;
      CHECK(KeyFileCount(roots[i]) > 0);
    } else {
      CHECK(results[i].exit_code == 4);
      CHECK(results[i].err.find("used") != std::string::npos);
      if (results[i].err.find("used") != std::string::npos) ++used;
      RequireNoTrace(roots[i]);
    }
  }
  INFO(server_a.Log() << server_b.Log());
  CHECK(joined == 10);
  CHECK(used == 5);
  // Both managers see the same registry: 10 members, the token used up, 10 deliveries.
  for (const auto& root : {s.a, s.b}) {
    CHECK(Members(root).size() == 10);
    CHECK(Tokens(root)[0]["uses_left"] == 0);
    const auto events = Events(root);
    CHECK(CountEvents(events, "delivered") == 10);
    CHECK(CountEvents(events, "joined") == 10);
  }
  WARN("joins through manager b: " << through_b << " of 10");
}

TEST_CASE("a join whose manager is killed mid-join succeeds when retried through the other",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  TwoManagers s;
  const std::string token = IssueToken(s.a, {"--uses", "2"});
  const auto member = s.Member("member");
  {
    // Killed after reserving the use and recording the delivery, before sending the keys.
    ServerProcess doomed(s.a, s.work.path(), {"MKEYS_FAULT=manager:before-offer"});
    auto join = JoinWith(member, doomed.Address(), token, "node1");
    INFO(join.out << join.err << doomed.Log());
    CHECK(join.exit_code == 4);
    CHECK(doomed.WaitExit(10) == 86);
  }
  RequireNoTrace(member);
  ServerProcess other(s.b, s.work.path());
  auto retry = Run({MKEYS_BINARY, "array", "join", member.string(), "--manager", other.Address(),
                    "--token", "-"},
                   token + "\n");
  INFO(retry.out << retry.err << other.Log());
  REQUIRE(retry.exit_code == 0);
  CHECK(KeyFileCount(member) > 0);
  // Consistent, seen from either manager: the killed delivery stays recorded (at most once) and
  // spent; the retry is the one member; the token has no use left.
  for (const auto& root : {s.a, s.b}) {
    const auto members = Members(root);
    REQUIRE(members.size() == 1);
    CHECK(members[0]["name"] != "node1");
    const auto pending = MembersWith(root, "--pending");
    REQUIRE(pending.size() == 1);
    CHECK(pending[0]["name"] == "node1");
    CHECK(Tokens(root)[0]["uses_left"] == 0);
    CHECK(CountEvents(Events(root), "delivered") == 2);
  }
  // The member learns both managers' endpoints on a sync; with b gone it syncs through a.
  const std::string b_address = other.Address();
  other.Stop();
  ServerProcess back_a(s.a, s.work.path());
  ServerProcess back_b(s.b, s.work.path(), {}, {}, b_address);
  REQUIRE(SyncMember(member).exit_code == 0);
  back_b.Stop();
  auto status = Mkeys({"array", "rotate", s.a.string()});
  REQUIRE(status.exit_code == 0);
  auto sync = SyncMember(member);
  INFO(sync.out << sync.err << back_a.Log());
  CHECK(sync.exit_code == 0);
  auto state =
      nlohmann::json::parse(std::ifstream(member / "mkeys-array/member.json"), nullptr, false);
  CHECK(state["key_version"] == 2);
}
