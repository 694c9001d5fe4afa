// SPDX-License-Identifier: GPL-3.0-or-later
// A member whose manager died after reserving its token use retries with the same token and
// resumes that delivery: the same member key (kept in mkeys-array-pending-TOKEN_ID), the same
// name, no second use. Through the other manager of an etcd registry, or through a restarted
// SQLite manager. A final refusal removes the kept key. Outside CI the etcd case skips (with a
// warning) only when etcd is not installed.
#include <algorithm>

#include "array_support.hpp"
#include "etcd_support.hpp"

using namespace mkeys::test;

namespace {

constexpr const char* kService = "NT AUTHORITY\\NETWORK SERVICE";

struct IssuedToken {
  std::string token;
  std::string id;
};

IssuedToken IssueSingleUse(const std::filesystem::path& manager) {
  const auto doc = JsonOf(Mkeys({"--json", "array", "token", manager.string(), "--uses", "1"}));
  return {doc["token"].get<std::string>(), doc["id"].get<std::string>()};
}

bool HasContainer(const std::filesystem::path& root, const std::string& name) {
  const auto names = ContainerNames(root);
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string PendingName(const IssuedToken& t) {
  return "mkeys-array-pending-" + t.id;
}

RunResult JoinDefaultName(const std::filesystem::path& member, const std::string& manager,
                          const std::string& token) {
  return Run({MKEYS_BINARY, "array", "join", member.string(), "--manager", manager, "--token", "-"},
             token + "\n");
}

// After the first attempt died with its manager: the delivery is recorded (`delivered, not
// confirmed`), the use spent, and the member keeps nothing but its key, readable by SYSTEM only.
// Returns the delivered member's JSON (name, certificate fingerprint).
nlohmann::json RequireDeliveredAndKeyKept(const std::filesystem::path& manager,
                                          const std::filesystem::path& member,
                                          const IssuedToken& t) {
  const auto pending = MembersWith(manager, "--pending");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["status"] == "delivered, not confirmed");
  CHECK(Members(manager).empty());
  CHECK(Tokens(manager)[0]["uses_left"] == 0);
  CHECK(ContainerNames(member) == std::vector<std::string>{PendingName(t)});
  CHECK_FALSE(std::filesystem::exists(member / "mkeys-array/member.json"));
  CHECK(Mkeys({"store", "open", member.string(), PendingName(t), "--as", "SYSTEM"}).exit_code == 0);
  CHECK(Mkeys({"store", "open", member.string(), PendingName(t), "--as", kService}).exit_code != 0);
  return pending[0];
}

// After the retry: one member, under the first attempt's name and key, joined; the token spent
// once; one delivery that took the use and one that resumed it; the kept key gone.
void RequireResumed(const std::filesystem::path& manager, const std::filesystem::path& member,
                    const IssuedToken& t, const nlohmann::json& first) {
  const std::string name = first["name"];
  const auto members = Members(manager);
  REQUIRE(members.size() == 1);
  CHECK(members[0]["name"] == name);
  CHECK(members[0]["status"] == "joined");
  CHECK(members[0]["certificate_fingerprint"] == first["certificate_fingerprint"]);
  CHECK(MembersWith(manager, "--pending").empty());
  const auto tokens = Tokens(manager);
  REQUIRE(tokens.size() == 1);
  CHECK(tokens[0]["uses_left"] == 0);
  CHECK(tokens[0]["state"] == "used up");
  const auto events = Events(manager);
  CHECK(CountEvents(events, "delivered", name) == 1);
  CHECK(CountEvents(events, "delivery-resumed", name) == 1);
  CHECK(CountEvents(events, "joined", name) == 1);
  const auto state = JsonOf(Mkeys({"--json", "array", "status", member.string()}));
  CHECK(state["role"] == "member");
  CHECK(state["member"] == name);
  CHECK_FALSE(HasContainer(member, PendingName(t)));
  CHECK(HasContainer(member, "mkeys-array-web-member"));
  CHECK(Mkeys({"store", "open", member.string(), "mkeys-array-web-rsa-v1", "--as", kService})
            .exit_code == 0);
}

// A manager of array "web" and a member whose first join, with a single-use token, died with its
// manager after the reservation (before the offer): the use spent, the member key kept.
struct FirstAttemptDied {
  TempDir work;
  std::filesystem::path manager = work.path() / "manager";
  std::filesystem::path member = work.path() / "member";
  IssuedToken token;
  FirstAttemptDied() {
    InitMachine(manager);
    InitMachine(member);
    REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
    token = IssueSingleUse(manager);
    {
      ServerProcess doomed(manager, work.path(), {"MKEYS_FAULT=manager:before-offer"});
      auto join = JoinDefaultName(member, doomed.Address(), token.token);
      INFO(join.out << join.err << doomed.Log());
      CHECK(join.exit_code == 4);
      CHECK(join.err.find("final") == std::string::npos);
      CHECK(doomed.WaitExit(10) == 86);
    }
    RequireDeliveredAndKeyKept(manager, member, token);
  }
};

}  // namespace

TEST_CASE(
    "a member retrying through the other manager after its manager died resumes its "
    "delivery",
    "[integration][array][etcd][resume]") {
  if (!HaveEtcd()) {
    if (InCi()) FAIL("etcd is not installed (scripts/install-deps.sh installs etcd-server)");
    WARN("SKIPPED: etcd/etcdctl not installed (apt-get install etcd-server etcd-client)");
    return;
  }
  TempDir work;
  EtcdCluster etcd{work.path() / "etcd"};
  const auto a = work.path() / "manager-a";
  const auto b = work.path() / "manager-b";
  const auto member = work.path() / "member";
  InitMachine(a);
  InitMachine(b);
  InitMachine(member);
  auto created = Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url()});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  REQUIRE(Mkeys({"array", "manager", "add", b.string(), "--from", a.string()}).exit_code == 0);
  const auto t = IssueSingleUse(a);
  {
    // Killed after the reservation and after sending the keys: the member installed them and
    // confirmed, but nobody answered.
    ServerProcess doomed(a, work.path(), {"MKEYS_FAULT=manager:after-send-before-commit"});
    auto join = JoinDefaultName(member, doomed.Address(), t.token);
    INFO(join.out << join.err << doomed.Log());
    CHECK(join.exit_code == 4);
    CHECK(doomed.WaitExit(10) == 86);
  }
  ServerProcess other(b, work.path());
  // The member settles with the surviving manager (rolled back: never confirmed there).
  auto settled = Mkeys({"array", "status", member.string(), "--manager", other.Address()});
  INFO(settled.out << settled.err);
  CHECK(settled.exit_code == 0);
  nlohmann::json first;
  for (const auto& root : {a, b}) first = RequireDeliveredAndKeyKept(root, member, t);
  auto retry = JoinDefaultName(member, other.Address(), t.token);
  INFO(retry.out << retry.err << other.Log());
  REQUIRE(retry.exit_code == 0);
  CHECK(retry.out.find("with the member key of an earlier attempt") != std::string::npos);
  CHECK(retry.out.find(first["name"].get<std::string>()) != std::string::npos);
  CHECK(other.Log().find("its earlier delivery resumed, no new use") != std::string::npos);
  for (const auto& root : {a, b}) RequireResumed(root, member, t, first);
  // The resumed member works: a rotation reaches it through the surviving manager.
  REQUIRE(Mkeys({"array", "rotate", b.string()}).exit_code == 0);
  auto sync = SyncMember(member, {"--manager", other.Address()});
  INFO(sync.out << sync.err);
  CHECK(sync.exit_code == 0);
}

TEST_CASE("a member retrying after its SQLite manager was restarted resumes its delivery",
          "[integration][array][resume]") {
  // before-offer: killed after the reservation, before sending; after-send-before-commit:
  // killed after sending, before the confirmation could be recorded.
  for (const char* step : {"before-offer", "after-send-before-commit"}) {
    DYNAMIC_SECTION("manager:" << step) {
      TempDir work;
      const auto manager = work.path() / "manager";
      const auto member = work.path() / "member";
      InitMachine(manager);
      InitMachine(member);
      REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
      const auto t = IssueSingleUse(manager);
      {
        ServerProcess doomed(manager, work.path(), {std::string("MKEYS_FAULT=manager:") + step});
        auto join = JoinDefaultName(member, doomed.Address(), t.token);
        INFO(join.out << join.err << doomed.Log());
        CHECK(join.exit_code == 4);
        // The user is told what stays and that the same token resumes.
        CHECK((join.out + join.err).find("Only this join's member key stays") != std::string::npos);
        CHECK((join.out + join.err).find(PendingName(t)) != std::string::npos);
        CHECK(doomed.WaitExit(10) == 86);
      }
      // `array serve` again on the same root (another port); the member retries there.
      ServerProcess server(manager, work.path());
      auto retry_settles =
          Mkeys({"array", "status", member.string(), "--manager", server.Address()});
      INFO(retry_settles.out << retry_settles.err);
      CHECK(retry_settles.exit_code == 0);
      const auto first = RequireDeliveredAndKeyKept(manager, member, t);
      auto retry = JoinDefaultName(member, server.Address(), t.token);
      INFO(retry.out << retry.err << server.Log());
      REQUIRE(retry.exit_code == 0);
      CHECK(retry.out.find("with the member key of an earlier attempt") != std::string::npos);
      RequireResumed(manager, member, t, first);
      // Once joined, the token is spent for good: another machine is refused.
      const auto again = work.path() / "again";
      InitMachine(again);
      auto refused = JoinDefaultName(again, server.Address(), t.token);
      INFO(refused.out << refused.err);
      CHECK(refused.exit_code == 4);
      CHECK(refused.err.find("has been used 1 time(s), its limit") != std::string::npos);
      RequireNoTrace(again);
    }
  }
}

TEST_CASE("a final refusal of a retry removes the member key kept for it",
          "[integration][array][resume]") {
  FirstAttemptDied s;
  const auto& manager = s.manager;
  const auto& member = s.member;
  const auto& t = s.token;
  // The operator revokes the token: the retry is refused for good, and the kept key goes.
  REQUIRE(Mkeys({"array", "token", manager.string(), "--revoke", t.id}).exit_code == 0);
  ServerProcess server(manager, s.work.path());
  auto retry = JoinDefaultName(member, server.Address(), t.token);
  INFO(retry.out << retry.err << server.Log());
  CHECK(retry.exit_code == 4);
  CHECK(retry.err.find("token-revoked") != std::string::npos);
  CHECK(retry.err.find("final") != std::string::npos);
  CHECK(retry.err.find(t.token.substr(t.token.find('.') + 1)) == std::string::npos);
  CHECK(ContainerNames(member).empty());
  RequireNoTrace(member);
  // Nothing more was delivered.
  CHECK(Members(manager).empty());
  CHECK(MembersWith(manager, "--pending").size() == 1);
  const auto events = Events(manager);
  CHECK(std::none_of(events.begin(), events.end(),
                     [](const auto& e) { return e["kind"] == "delivery-resumed"; }));
}

TEST_CASE("a join that succeeds with another token removes the member key an earlier attempt kept",
          "[integration][array][resume]") {
  FirstAttemptDied s;
  const auto& manager = s.manager;
  const auto& member = s.member;
  const auto& first = s.token;
  CHECK(std::filesystem::exists(member / "mkeys-array/pending-keys" / PendingName(first)));

  // The operator gives up on that attempt and issues another token; the member joins under
  // another name. The key kept for the first token has no use left and goes.
  const auto second = IssueSingleUse(manager);
  ServerProcess server(manager, s.work.path());
  auto join = JoinWith(member, server.Address(), second.token, "node2");
  INFO(join.out << join.err << server.Log());
  REQUIRE(join.exit_code == 0);
  CHECK_FALSE(HasContainer(member, PendingName(first)));
  CHECK_FALSE(HasContainer(member, PendingName(second)));
  CHECK(HasContainer(member, "mkeys-array-web-member"));
  CHECK_FALSE(std::filesystem::exists(member / "mkeys-array/pending-keys"));
  CHECK(JsonOf(Mkeys({"--json", "array", "status", member.string()}))["member"] == "node2");
}
