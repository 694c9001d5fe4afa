// SPDX-License-Identifier: GPL-3.0-or-later
// A manager that can be found again: members remember the endpoints they joined through, learn
// the manager's list on every sync, and follow it to a new address with --manager. Two
// processes over TCP on 127.0.0.1.
#include <algorithm>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

nlohmann::json MemberStatus(const std::filesystem::path& member) {
  return JsonOf(Mkeys({"--json", "array", "status", member.string()}));
}

}  // namespace

TEST_CASE("a manager restarted on a new port is reached with --manager and then remembered",
          "[integration][array][endpoints]") {
  TempDir work;
  const auto manager = work.path() / "manager";
  const auto member = work.path() / "member";
  InitMachine(manager);
  InitMachine(member);
  REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  const std::string token = IssueToken(manager);
  std::string old_address;
  {
    ServerProcess first(manager, work.path());
    old_address = first.Address();
    auto join = JoinWith(member, old_address, token, "node1");
    INFO(join.out << join.err);
    REQUIRE(join.exit_code == 0);
    CHECK(MemberStatus(member)["manager"] == old_address);
    REQUIRE(first.Stop() == 0);
  }
  ServerProcess second(manager, work.path());
  const std::string new_address = second.Address();
  REQUIRE(new_address != old_address);

  // The old port is gone: a plain sync fails and says how to reach a manager that moved.
  auto lost = SyncMember(member);
  INFO(lost.out << lost.err);
  CHECK(lost.exit_code != 0);
  CHECK(lost.err.find("--manager") != std::string::npos);

  auto found = SyncMember(member, {"--manager", new_address});
  INFO(found.out << found.err << second.Log());
  CHECK(found.exit_code == 0);
  const auto status = MemberStatus(member);
  CHECK(status["manager"] == new_address);
  CHECK(status["managers"][0] == new_address);

  // The next plain sync reaches the new port.
  auto plain = SyncMember(member);
  INFO(plain.out << plain.err << second.Log());
  CHECK(plain.exit_code == 0);
  CHECK(second.Log().find("sync: node1") != std::string::npos);

  // status and leave take --manager too.
  auto asked = Mkeys({"array", "status", member.string(), "--manager", new_address});
  INFO(asked.out << asked.err);
  CHECK(asked.exit_code == 0);
  CHECK(asked.out.find("manager says      listed") != std::string::npos);
  auto leave = Mkeys({"array", "leave", member.string(), "--manager", new_address});
  INFO(leave.out << leave.err);
  CHECK(leave.exit_code == 0);
  RequireNoTrace(member);
}

TEST_CASE("members learn the endpoints the manager announces on sync",
          "[integration][array][endpoints]") {
  TempDir work;
  const auto manager = work.path() / "manager";
  const auto member = work.path() / "member";
  InitMachine(manager);
  InitMachine(member);
  REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  // The manager announces a second name for itself (e.g. a DNS name behind a load balancer).
  ServerProcess server(manager, work.path(), {}, {}, "127.0.0.1:0", {});
  ServerProcess announcing(manager, work.path(), {}, {}, "127.0.0.2:0",
                           {"--advertise", "localhost:4763"});
  auto join = JoinWith(member, server.Address(), IssueToken(manager), "node1");
  INFO(join.out << join.err);
  REQUIRE(join.exit_code == 0);
  auto sync = SyncMember(member, {"--manager", announcing.Address("127.0.0.2")});
  INFO(sync.out << sync.err << announcing.Log());
  REQUIRE(sync.exit_code == 0);
  const auto managers = MemberStatus(member)["managers"];
  INFO(managers.dump());
  std::vector<std::string> list = managers.get<std::vector<std::string>>();
  CHECK(list.front() == announcing.Address("127.0.0.2"));
  CHECK(std::find(list.begin(), list.end(), "localhost:4763") != list.end());
  CHECK(std::find(list.begin(), list.end(), server.Address()) != list.end());
}
