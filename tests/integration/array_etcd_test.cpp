// SPDX-License-Identifier: GPL-3.0-or-later
// Several managers of one array on a real 3-member etcd cluster (loopback ports, temporary
// data): token uses reserved exactly once across managers, a join retried through the other
// manager after one was killed, a rotation while the etcd leader is killed, an etcd member wiped
// and re-added. Outside CI these skip (with a warning) only when etcd is not installed.
#include <algorithm>
#include <fstream>
#include <thread>

#include "array_support.hpp"
#include "etcd_support.hpp"

using namespace mkeys::test;

namespace {

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
  // `array status` on a manager: the registry kind, etcd's health, and both managers with the
  // endpoints they serve.
  const auto status = JsonOf(Mkeys({"--json", "array", "status", s.a.string()}))["registry"];
  CHECK(status["kind"] == "etcd");
  CHECK(status["health"].get<std::string>().find("3 of 3 endpoints answer") != std::string::npos);
  CHECK(status["health"].get<std::string>().find("leader ") != std::string::npos);
  REQUIRE(status["managers"].size() == 2);
  const std::string served = status["managers"].dump();
  CHECK(served.find(server_a.Address()) != std::string::npos);
  CHECK(served.find(server_b.Address()) != std::string::npos);
  s.etcd.Kill(s.etcd.Leader());
  auto text = Mkeys({"array", "status", s.b.string()});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("registry     etcd") != std::string::npos);
  CHECK(text.out.find("2 of 3 endpoints answer") != std::string::npos);
  CHECK(text.out.find("not answering: 127.0.0.1:") != std::string::npos);
  CHECK(text.out.find("managers     2") != std::string::npos);
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
  CHECK(KeptKeys(member).size() == 1);  // the member key, kept for a retry
  RequireNoTrace(member, true);
  ServerProcess other(s.b, s.work.path());
  // The retry presents the kept key under its default name, not node1: a new delivery, a new use.
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

TEST_CASE("a rotation while the etcd leader is killed is complete or not done at all",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  TwoManagers s;
  const int leader = s.etcd.Leader();
  REQUIRE(leader >= 0);
  RunResult rotate;
  std::thread rotation([&] { rotate = Mkeys({"array", "rotate", s.b.string()}); });
  s.etcd.Kill(leader);
  rotation.join();
  INFO(rotate.out << rotate.err);
  // Whatever happened, both managers agree, and the current version's keys are all there.
  const auto status_a = JsonOf(Mkeys({"--json", "array", "status", s.a.string()}));
  const auto status_b = JsonOf(Mkeys({"--json", "array", "status", s.b.string()}));
  CHECK(status_a["key_version"] == status_b["key_version"]);
  const int version = status_a["key_version"].get<int>();
  CHECK(version == (rotate.exit_code == 0 ? 2 : 1));
  // A member joining now through a gets the current version's keys (sealed in etcd).
  ServerProcess server_a(s.a, s.work.path());
  const auto member = s.Member("member");
  auto join = JoinWith(member, server_a.Address(), IssueToken(s.a), "node1");
  INFO(join.out << join.err << server_a.Log());
  REQUIRE(join.exit_code == 0);
  CHECK(join.out.find("key version " + std::to_string(version)) != std::string::npos);
}

TEST_CASE("an etcd member wiped and re-added loses nothing the managers wrote",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  TwoManagers s;
  ServerProcess server_b(s.b, s.work.path());
  const auto member = s.Member("member");
  auto join = JoinWith(member, server_b.Address(), IssueToken(s.a), "node1");
  INFO(join.out << join.err);
  REQUIRE(join.exit_code == 0);
  REQUIRE(Mkeys({"array", "rotate", s.a.string()}).exit_code == 0);
  s.etcd.WipeAndReAdd(1);
  // The re-added member's own copy (a serializable, local read) holds every key the managers
  // wrote, as the others do.
  auto count_on = [&](int i) {
    auto r = Run({"etcdctl", "--endpoints", "http://" + s.etcd.ClientAddress(i), "get", "--prefix",
                  "/mkeys/", "--keys-only", "--consistency=s", "-w", "json"});
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    return doc.is_object() ? doc.value("count", 0) : -1;
  };
  const int expected = count_on(0);
  CHECK(expected > 10);
  int copied = -1;
  for (int t = 0; t < 100 && copied != expected; ++t) {
    copied = count_on(1);
    if (copied != expected) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(copied == expected);
  for (const auto& root : {s.a, s.b}) {
    CHECK(Members(root).size() == 1);
    CHECK(JsonOf(Mkeys({"--json", "array", "status", root.string()}))["key_version"] == 2);
  }
  REQUIRE(SyncMember(member).exit_code == 0);
}

namespace {

// `mkeys array rotate ROOT --lease N` in a thread, held at the step before its write until
// Release() (MKEYS_PAUSE; the process says it waits by creating GO.waiting).
class HeldRotation {
 public:
  HeldRotation(const std::filesystem::path& root, const std::filesystem::path& go, int lease)
      : go_(go) {
    thread_ = std::thread([this, root, lease] {
      result_ =
          Run({MKEYS_BINARY, "array", "rotate", root.string(), "--lease", std::to_string(lease)},
              "", {"MKEYS_PAUSE=manager:rotate-before-write=" + go_.string()});
    });
    const auto waiting = go_.string() + ".waiting";
    for (int i = 0; i < 600 && !std::filesystem::exists(waiting); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    held_ = std::filesystem::exists(waiting);
  }
  ~HeldRotation() {
    if (thread_.joinable()) Release();
  }
  bool held() const { return held_; }
  RunResult Release() {
    std::ofstream(go_) << "go";
    thread_.join();
    return result_;
  }

 private:
  std::filesystem::path go_;
  std::thread thread_;
  RunResult result_;
  bool held_ = false;
};

}  // namespace

TEST_CASE("one manager rotates at a time and a leader whose lease ran out writes nothing",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  TwoManagers s;
  // a takes the rotation lock on a 2 s lease and stops just before its write.
  HeldRotation held_a(s.a, s.work.path() / "go-a", 2);
  REQUIRE(held_a.held());
  // Meanwhile b's rotation is refused, naming the leader; nothing is written.
  auto refused = Mkeys({"array", "rotate", s.b.string()});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("another manager leads a rotation of this array") != std::string::npos);
  CHECK(JsonOf(Mkeys({"--json", "array", "status", s.a.string()}))["key_version"] == 1);
  // a's lease runs out while it is stopped; b takes the lock and stops before its write too.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  HeldRotation held_b(s.b, s.work.path() / "go-b", 30);
  REQUIRE(held_b.held());
  // a wakes up: `current` has not moved, yet its write is fenced off by the lock it lost.
  auto late = held_a.Release();
  INFO(late.out << late.err);
  CHECK(late.exit_code != 0);
  CHECK(late.err.find("rotation lock ended before the rotation was written") != std::string::npos);
  CHECK(JsonOf(Mkeys({"--json", "array", "status", s.b.string()}))["key_version"] == 1);
  auto led = held_b.Release();
  INFO(led.out << led.err);
  REQUIRE(led.exit_code == 0);
  // Exactly one version 2, written by b; both managers see it; the lock is gone.
  for (const auto& root : {s.a, s.b}) {
    CHECK(JsonOf(Mkeys({"--json", "array", "status", root.string()}))["key_version"] == 2);
  }
  CHECK(CountEvents(Events(s.a), "key-version") == 1);
  auto again = Mkeys({"array", "rotate", s.a.string()});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("a rotation leader that dies holding the lock lets it go when its lease runs out",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  TwoManagers s;
  auto died = Run({MKEYS_BINARY, "array", "rotate", s.a.string(), "--lease", "2"}, "",
                  {"MKEYS_FAULT=manager:rotate-before-write"});
  REQUIRE(died.exit_code == 86);
  auto refused = Mkeys({"array", "rotate", s.b.string()});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("another manager leads a rotation") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto rotated = Mkeys({"--json", "array", "rotate", s.b.string()});
  INFO(rotated.out << rotated.err);
  REQUIRE(rotated.exit_code == 0);
  CHECK(JsonOf(rotated)["key_version"] == 2);
  CHECK(JsonOf(Mkeys({"--json", "array", "status", s.a.string()}))["key_version"] == 2);
}
