// SPDX-License-Identifier: GPL-3.0-or-later
// Member names are identities: a name in the registry is taken over only by the member that
// holds its key (--rejoin) or with the operator's consent (remove, token --replace). Two
// processes over TCP on 127.0.0.1.
#include <unistd.h>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

struct Setup {
  TempDir work;
  std::filesystem::path manager = work.path() / "manager";
  std::filesystem::path first = work.path() / "first";
  std::filesystem::path second = work.path() / "second";
  Setup() {
    InitMachine(manager);
    InitMachine(first);
    InitMachine(second);
    REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  }
};

void RequireJoined(const RunResult& r) {
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("a join with an existing member's name is refused until the operator removes it",
          "[integration][array][identity]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  RequireJoined(JoinWith(s.first, server.Address(), IssueToken(s.manager), "edge-8"));
  const std::string fresh = IssueToken(s.manager);
  auto stolen = JoinWith(s.second, server.Address(), fresh, "edge-8");
  INFO(stolen.out << stolen.err);
  CHECK(stolen.exit_code == 4);
  CHECK(stolen.err.find("already has a member named edge-8") != std::string::npos);
  CHECK(stolen.err.find("mkeys array remove") != std::string::npos);
  RequireNoTrace(s.second);
  // The refusal spent nothing: the fresh token still has its use.
  CHECK(Tokens(s.manager)[1]["uses_left"] == 1);
  // The real edge-8 is untouched.
  auto sync = SyncMember(s.first);
  INFO(sync.out << sync.err);
  CHECK(sync.exit_code == 0);
  // The operator frees the name; the same join now succeeds.
  REQUIRE(Mkeys({"array", "remove", s.manager.string(), "edge-8"}).exit_code == 0);
  RequireJoined(JoinWith(s.second, server.Address(), fresh, "edge-8"));
  CHECK(SyncMember(s.first).exit_code == 4);  // the removed one is no longer listed
}

TEST_CASE("a token issued with --replace takes over one member name",
          "[integration][array][identity]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  RequireJoined(JoinWith(s.first, server.Address(), IssueToken(s.manager), "edge-8"));
  // A --replace token for another name does not help.
  auto other = JoinWith(s.second, server.Address(), IssueToken(s.manager, {"--replace", "edge-9"}),
                        "edge-8");
  CHECK(other.exit_code == 4);
  RequireJoined(JoinWith(s.second, server.Address(), IssueToken(s.manager, {"--replace", "edge-8"}),
                         "edge-8"));
  const auto listed = Members(s.manager);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["name"] == "edge-8");
  auto old = SyncMember(s.first);
  INFO(old.out << old.err);
  CHECK(old.exit_code == 4);
  CHECK(SyncMember(s.second).exit_code == 0);
}

TEST_CASE("a member re-joins under its own name with --rejoin and its credentials",
          "[integration][array][identity]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  RequireJoined(JoinWith(s.first, server.Address(), IssueToken(s.manager), "edge-8"));
  const std::string fp = Members(s.manager)[0]["certificate_fingerprint"];
  auto rejoin = Run({MKEYS_BINARY, "array", "join", s.first.string(), "--manager", server.Address(),
                     "--token", "-", "--rejoin"},
                    IssueToken(s.manager) + "\n");
  INFO(rejoin.out << rejoin.err << server.Log());
  REQUIRE(rejoin.exit_code == 0);
  CHECK(rejoin.out.find("as edge-8") != std::string::npos);
  const auto listed = Members(s.manager);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["certificate_fingerprint"] == fp);  // same member key
  CHECK(SyncMember(s.first).exit_code == 0);
  CHECK(Mkeys({"store", "open", s.first.string(), "mkeys-array-web-rsa-v1", "--as",
               "NT AUTHORITY\\NETWORK SERVICE"})
            .exit_code == 0);
  // Without credentials --rejoin is refused before any traffic.
  auto none = Run({MKEYS_BINARY, "array", "join", s.second.string(), "--manager", server.Address(),
                   "--token", "-", "--rejoin"},
                  IssueToken(s.manager) + "\n");
  CHECK(none.exit_code != 0);
  CHECK(none.err.find("--rejoin needs") != std::string::npos);
}

TEST_CASE("the default member name is the host name and a member key fingerprint prefix",
          "[integration][array][identity]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const std::string token = IssueToken(s.manager, {"--uses", "2"});
  // Two clones of one image: same host name, same everything but their member keys.
  for (const auto& root : {s.first, s.second}) {
    auto r = Run({MKEYS_BINARY, "array", "join", root.string(), "--manager", server.Address(),
                  "--token", "-"},
                 token + "\n");
    RequireJoined(r);
  }
  const auto listed = Members(s.manager);
  REQUIRE(listed.size() == 2);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string short_host(host);
  if (auto dot = short_host.find('.'); dot != std::string::npos) short_host.resize(dot);
  for (const auto& m : listed) {
    const std::string name = m["name"];
    INFO(name);
    // "<host>-<8 lower-case hex digits>" (checked by hand: std::regex trips GCC 12's
    // -Wmaybe-uninitialized in the ASan build).
    const bool hex_suffix =
        name.size() > 9 && name[name.size() - 9] == '-' &&
        name.find_first_not_of("0123456789abcdef", name.size() - 8) == std::string::npos;
    CHECK(hex_suffix);
    CHECK(name.rfind(short_host.substr(0, 8), 0) == 0);
    const std::string fp = m["certificate_fingerprint"];
    CHECK(fp.substr(7, 8) == name.substr(name.size() - 8));  // "sha256:" + hex
  }
  CHECK(listed[0]["name"] != listed[1]["name"]);
}
