// SPDX-License-Identifier: GPL-3.0-or-later
// Failure limits hurt attackers, not members: only failed authentications count, a member with
// its certificate is never refused by an address limit, and idle connections cannot take every
// slot. Loopback only (127.0.0.1), bounded in count and time.
#include <thread>

#include "../../arrayjoin/src/tls.hpp"
#include "array_support.hpp"
#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/protocol.hpp"

using namespace mkeys::test;
namespace aj = mkeys::arrayjoin;

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

// One TLS join attempt with a wrong token secret (a correct proof for that wrong secret).
// Returns the refusal's message.
std::string BadTokenJoin(int port, const std::string& wrong_token) {
  auto token = aj::JoinToken::Parse(wrong_token);
  if (!token) return "unparsable token";
  auto c =
      aj::internal::TlsClient::Connect("127.0.0.1", static_cast<std::uint16_t>(port), 10, nullptr);
  if (!c) return c.error().ToString();
  auto wrap = aj::X25519Key::Generate();
  auto key = aj::GenerateEcP256();
  aj::JoinHello hello;
  hello.token_id = token->id();
  hello.token_secret = token->secret();
  hello.member = "attacker";
  hello.wrap_key = wrap->public_key();
  hello.member_key_der = *aj::PublicKeyToDer(key->get());
  hello.proof = aj::JoinProof(token->secret(), (*c)->ekm(), "attacker", hello.wrap_key);
  if (!(*c)->Send(aj::EncodeHello(hello))) return "send failed";
  auto reply = (*c)->Receive(10);
  return reply ? std::string("accepted?") : reply.error().message();
}

nlohmann::json ManagerLimits(const std::filesystem::path& manager) {
  return JsonOf(Mkeys({"--json", "array", "status", manager.string()}))["limits"];
}

}  // namespace

TEST_CASE("256 idle connections from 127.0.0.1 do not keep a member from syncing",
          "[integration][array][limits]") {
  Setup s;
  // Idle connections are cut off after the handshake timeout: 120 s here, far beyond the sync's
  // own 60 s, so a sync that succeeds got through while all of them were still held.
  ServerProcess server(s.manager, s.work.path(), {}, {}, "127.0.0.1:0",
                       {"--handshake-timeout", "120"});
  auto join = JoinWith(s.member, server.Address(), IssueToken(s.manager), "node1");
  INFO(join.out << join.err);
  REQUIRE(join.exit_code == 0);
  std::vector<int> idle;
  for (int i = 0; i < 256; ++i) {
    const int fd = ConnectLoopback(server.port());
    if (fd >= 0) idle.push_back(fd);
  }
  CHECK(idle.size() == 256);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all accepted by the manager
  auto sync = Mkeys({"array", "sync", s.member.string(), "--timeout", "60"});
  INFO(sync.out << sync.err << server.Log());
  CHECK(sync.exit_code == 0);
  // A join from the same address gets through as well.
  const auto other = s.work.path() / "other";
  InitMachine(other);
  auto second = JoinWith(other, server.Address(), IssueToken(s.manager), "node2");
  INFO(second.out << second.err);
  CHECK(second.exit_code == 0);
  for (int fd : idle) close(fd);
}

TEST_CASE("plain connects count nothing and bad tokens block joins but never a member's sync",
          "[integration][array][limits]") {
  Setup s;
  constexpr int kWindow = 20;  // seconds; long enough that the 50 attempts fit inside it
  ServerProcess server(s.manager, s.work.path(), {}, {}, "127.0.0.1:0",
                       {"--failure-window", std::to_string(kWindow)});
  auto join = JoinWith(s.member, server.Address(), IssueToken(s.manager), "node1");
  INFO(join.out << join.err);
  REQUIRE(join.exit_code == 0);

  // 50 plain connect-and-close calls (a port scan, a health check): nothing is counted.
  for (int i = 0; i < 50; ++i) {
    const int fd = ConnectLoopback(server.port());
    REQUIRE(fd >= 0);
    close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(ManagerLimits(s.manager)["addresses"].empty());

  // 50 bad-token joins: the first 10 fail on the secret, the rest are refused by the limit.
  const std::string valid = IssueToken(s.manager);
  const std::string wrong = WrongSecret(valid);
  int secret_refusals = 0;
  int limit_refusals = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string said = BadTokenJoin(server.port(), wrong);
    if (said.find("the secret does not match") != std::string::npos) ++secret_refusals;
    if (said.find("too many failed authentications") != std::string::npos) ++limit_refusals;
  }
  CHECK(secret_refusals == 10);
  CHECK(limit_refusals == 40);

  // A member presenting its certificate is not refused: immediately.
  auto sync = SyncMember(s.member);
  INFO(sync.out << sync.err);
  CHECK(sync.exit_code == 0);

  // A valid join from the same address waits for the cool-down, and is told so.
  const auto other = s.work.path() / "other";
  InitMachine(other);
  auto early = JoinWith(other, server.Address(), valid, "node2");
  INFO(early.out << early.err);
  CHECK(early.exit_code == 4);
  CHECK(early.err.find("refused until") != std::string::npos);
  CHECK(early.err.find("retryable") != std::string::npos);
  CHECK(KeptKeys(other).size() == 1);  // a retryable refusal: the key stays for the retry
  RequireNoTrace(other, true);
  const auto limits = ManagerLimits(s.manager);
  REQUIRE(limits["addresses"].size() == 1);
  CHECK(limits["addresses"][0]["address"] == "127.0.0.1");
  CHECK(limits["addresses"][0]["refused"] == true);
  CHECK(limits["failure_window"] == kWindow);
  auto status = Mkeys({"array", "status", s.manager.string()});
  CHECK(status.out.find("refused      127.0.0.1") != std::string::npos);

  // After the cool-down (the failure window after the failures), the same join succeeds.
  const std::int64_t retry_at = limits["addresses"][0]["retry_at"];
  while (std::chrono::system_clock::now().time_since_epoch() < std::chrono::seconds(retry_at + 1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  auto later = JoinWith(other, server.Address(), valid, "node2");
  INFO(later.out << later.err << server.Log());
  CHECK(later.exit_code == 0);
}
