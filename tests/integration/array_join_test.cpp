// SPDX-License-Identifier: GPL-3.0-or-later
// Manager and member as separate processes joining over TCP on 127.0.0.1.
#include <thread>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

struct Pair {
  TempDir work;
  std::filesystem::path manager = work.path() / "manager";
  std::filesystem::path member = work.path() / "member";
  Pair() {
    InitMachine(manager);
    InitMachine(member);
    auto r = Mkeys({"array", "create", manager.string(), "--name", "web"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
};

}  // namespace

TEST_CASE("a member joins over TCP, is listed, and its service identity opens the keys",
          "[integration][array]") {
  Pair p;
  ServerProcess server(p.manager, p.work.path());
  const std::string token = IssueToken(p.manager);
  auto join = JoinWith(p.member, server.Address(), token, "node1");
  INFO(join.out << join.err << server.Log());
  REQUIRE(join.exit_code == 0);
  CHECK(join.out.find("[ok]     preflight") != std::string::npos);
  CHECK(join.out.find("Joined array web as node1") != std::string::npos);
  // The token never reaches the output or the server's log.
  const std::string secret = token.substr(token.find('.') + 1);
  CHECK(join.out.find(secret) == std::string::npos);
  CHECK(join.err.find(secret) == std::string::npos);
  CHECK(server.Log().find(secret) == std::string::npos);

  auto members = Members(p.manager);
  REQUIRE(members.size() == 1);
  CHECK(members[0]["name"] == "node1");
  CHECK(members[0]["key_version"] == 1);
  for (const char* c : {"mkeys-array-web-rsa-v1", "mkeys-array-web-config-v1"}) {
    auto open =
        Mkeys({"store", "open", p.member.string(), c, "--as", "NT AUTHORITY\\NETWORK SERVICE"});
    INFO(open.out << open.err);
    CHECK(open.exit_code == 0);
    // LOCAL SERVICE was not granted anything.
    CHECK(Mkeys({"store", "open", p.member.string(), c, "--as", "NT AUTHORITY\\LOCAL SERVICE"})
              .exit_code == 1);
  }
  auto status = JsonOf(Mkeys({"--json", "array", "status", p.member.string()}));
  CHECK(status["role"] == "member");
  CHECK(status["member"] == "node1");
  auto mstatus = JsonOf(Mkeys({"--json", "array", "status", p.manager.string()}));
  CHECK(mstatus["role"] == "manager");
  CHECK(mstatus["members"] == 1);

  // Rotate on the manager; sync on the member installs version 2 the same verified way.
  REQUIRE(Mkeys({"array", "rotate", p.manager.string()}).exit_code == 0);
  auto sync = Mkeys({"array", "sync", p.member.string()});
  INFO(sync.out << sync.err);
  REQUIRE(sync.exit_code == 0);
  CHECK(sync.out.find("Installed key version 2") != std::string::npos);
  CHECK(Mkeys({"store", "open", p.member.string(), "mkeys-array-web-rsa-v2", "--as",
               "NT AUTHORITY\\NETWORK SERVICE"})
            .exit_code == 0);

  // Leave over mutual TLS: the manager forgets the member, the member's store is empty again.
  auto leave = Mkeys({"array", "leave", p.member.string()});
  INFO(leave.out << leave.err);
  REQUIRE(leave.exit_code == 0);
  CHECK(Members(p.manager).empty());
  RequireNoTrace(p.member);
  CHECK(server.Stop() == 0);
}

TEST_CASE("array serve stops cleanly on SIGTERM with a client connected", "[integration][array]") {
  Pair p;
  ServerProcess server(p.manager, p.work.path());
  // A client that connects and says nothing (slowloris) does not keep the server from stopping.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(server.Stop() == 0);
  CHECK(server.Log().find("stopping on SIGTERM") != std::string::npos);
  close(fd);
}

TEST_CASE("twenty members join one manager at once", "[integration][array]") {
  TempDir work;
  const auto manager = work.path() / "manager";
  InitMachine(manager);
  REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "farm"}).exit_code == 0);
  ServerProcess server(manager, work.path());
  const std::string token = IssueToken(manager, {"--uses", "20"});
  constexpr int kMembers = 20;
  std::vector<std::filesystem::path> roots;
  for (int i = 0; i < kMembers; ++i) {
    roots.push_back(work.path() / ("m" + std::to_string(i)));
    InitMachine(roots.back());
  }
  std::vector<RunResult> results(kMembers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMembers; ++i) {
    threads.emplace_back([&, i] {
      results[i] = JoinWith(roots[i], server.Address(), token, "node" + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kMembers; ++i) {
    INFO("member " << i << ": " << results[i].out << results[i].err);
    CHECK(results[i].exit_code == 0);
  }
  auto members = Members(manager);
  CHECK(members.size() == kMembers);
  for (int i = 0; i < kMembers; ++i) {
    auto open = Mkeys({"store", "open", roots[i].string(), "mkeys-array-farm-rsa-v1", "--as",
                       "NT AUTHORITY\\NETWORK SERVICE"});
    CHECK(open.exit_code == 0);
  }
  // The token is used up now.
  auto tokens = Tokens(manager);
  REQUIRE(tokens.size() == 1);
  CHECK(tokens[0]["uses_left"] == 0);
}

TEST_CASE("a join stops at preflight, before any traffic, when the service could not read",
          "[integration][array]") {
  Pair p;
  ServerProcess server(p.manager, p.work.path());
  const std::string token = IssueToken(p.manager);
  // Hardened: Everyone may only list MachineKeys and Administrators lost their entry, so no one
  // can create a container there.
  auto sd =
      Mkeys({"sd", "set", MachineKeysDir(p.member).string(), "O:SYG:SYD:PAI(A;;0x1200a9;;;WD)"});
  INFO(sd.out << sd.err);
  REQUIRE(sd.exit_code == 0);
  auto join = JoinWith(p.member, server.Address(), token, "node1");
  INFO(join.out << join.err);
  CHECK(join.exit_code == 1);
  CHECK(join.out.find("[FAILED] preflight") != std::string::npos);
  CHECK(join.err.find("mkeys repair") != std::string::npos);
  RequireNoTrace(p.member);
  CHECK(server.Log().find("refused") == std::string::npos);  // nothing reached the manager
  CHECK(Tokens(p.manager)[0]["uses_left"] == 1);
}
