// SPDX-License-Identifier: GPL-3.0-or-later
// Manager and member in two network namespaces joined by a veth pair, each with its own address
// (10.231.N.1 and .2, configured inside the namespaces only). Needs root and `ip`.
#include <unistd.h>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

int Sh(const std::vector<std::string>& argv) {
  return Run(argv).exit_code;
}

// Two namespaces and a veth pair, removed on destruction whatever happened.
class NetnsPair {
 public:
  NetnsPair() {
    const std::string id = std::to_string(getpid() % 100000);
    a_ = "mkaj-m-" + id;
    b_ = "mkaj-n-" + id;
    const std::string veth_a = "mkajA" + id;
    const std::string veth_b = "mkajB" + id;
    const std::string net = "10.231." + std::to_string(getpid() % 250 + 1) + ".";
    addr_a_ = net + "1";
    addr_b_ = net + "2";
    Cleanup();
    ok_ = Sh({"ip", "netns", "add", a_}) == 0 && Sh({"ip", "netns", "add", b_}) == 0 &&
          Sh({"ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b}) == 0 &&
          Sh({"ip", "link", "set", veth_a, "netns", a_}) == 0 &&
          Sh({"ip", "link", "set", veth_b, "netns", b_}) == 0 &&
          Sh({"ip", "-n", a_, "addr", "add", addr_a_ + "/30", "dev", veth_a}) == 0 &&
          Sh({"ip", "-n", b_, "addr", "add", addr_b_ + "/30", "dev", veth_b}) == 0 &&
          Sh({"ip", "-n", a_, "link", "set", veth_a, "up"}) == 0 &&
          Sh({"ip", "-n", b_, "link", "set", veth_b, "up"}) == 0 &&
          Sh({"ip", "-n", a_, "link", "set", "lo", "up"}) == 0 &&
          Sh({"ip", "-n", b_, "link", "set", "lo", "up"}) == 0;
  }
  ~NetnsPair() { Cleanup(); }
  bool ok() const { return ok_; }
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }
  const std::string& addr_a() const { return addr_a_; }
  const std::string& addr_b() const { return addr_b_; }

 private:
  void Cleanup() {
    // Deleting a namespace deletes the veth end inside it, and with it its peer.
    Run({"ip", "netns", "del", a_});
    Run({"ip", "netns", "del", b_});
  }
  std::string a_, b_, addr_a_, addr_b_;
  bool ok_ = false;
};

}  // namespace

TEST_CASE("a member joins across two network namespaces with their own addresses",
          "[integration][array][netns]") {
  if (geteuid() != 0) {
    WARN("SKIPPED: network namespaces need root");
    return;
  }
  NetnsPair ns;
  if (!ns.ok()) {
    WARN("SKIPPED: cannot create network namespaces and a veth pair here (ip netns add failed)");
    return;
  }
  TempDir work;
  const auto manager = work.path() / "manager";
  const auto member = work.path() / "member";
  InitMachine(manager);
  InitMachine(member);
  REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  ServerProcess server(manager, work.path(), {}, {"ip", "netns", "exec", ns.a()},
                       ns.addr_a() + ":0");
  const std::string token = IssueToken(manager);
  // Loopback inside the member's namespace does not reach the manager: the join must use the
  // manager's own address over the veth pair.
  auto join =
      Run({"ip", "netns", "exec", ns.b(), MKEYS_BINARY, "array", "join", member.string(),
           "--manager", server.Address(ns.addr_a()), "--token", "-", "--member-name", "node-b"},
          token + "\n");
  INFO(join.out << join.err << server.Log());
  REQUIRE(join.exit_code == 0);
  auto members = Members(manager);
  REQUIRE(members.size() == 1);
  CHECK(members[0]["name"] == "node-b");
  CHECK(members[0]["address"] == ns.addr_b());
  CHECK(Mkeys({"store", "open", member.string(), "mkeys-array-web-rsa-v1", "--as",
               "NT AUTHORITY\\NETWORK SERVICE"})
            .exit_code == 0);
  CHECK(server.Stop() == 0);
}
