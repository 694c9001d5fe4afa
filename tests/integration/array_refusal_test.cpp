// SPDX-License-Identifier: GPL-3.0-or-later
// Every refusal is clear and leaves no trace on the member or in the manager's registry.
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
  // The registry as a member would notice it: members, and each token's uses.
  std::string RegistryView() const {
    auto tokens = Tokens(manager);
    for (auto& t : tokens) t.erase("state");  // expiry is a function of time
    return Members(manager).dump() + tokens.dump();
  }
};

void RequireRefused(const Setup& s, const RunResult& r, const std::string& expect,
                    const std::string& registry_before) {
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find(expect) != std::string::npos);
  RequireNoTrace(s.member);
  CHECK(s.RegistryView() == registry_before);
}

}  // namespace

TEST_CASE("a token for another manager is refused on the pin, naming both fingerprints",
          "[integration][array][refusal]") {
  Setup s;
  const auto other = s.work.path() / "other";
  InitMachine(other);
  REQUIRE(Mkeys({"array", "create", other.string(), "--name", "web"}).exit_code == 0);
  ServerProcess server(s.manager, s.work.path());
  const std::string token = IssueToken(other);
  const auto before = s.RegistryView();
  auto r = JoinWith(s.member, server.Address(), token, "node1");
  RequireRefused(s, r, "the manager's key does not match the token: expected sha256:", before);
  CHECK(r.err.find("presented sha256:") != std::string::npos);
  // Nothing secret was sent: the manager saw only a handshake and a closed connection.
  CHECK(server.Log().find("joined") == std::string::npos);
}

TEST_CASE("a wrong, expired, revoked or used-up token is refused with its reason",
          "[integration][array][refusal]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());

  SECTION("wrong secret") {
    std::string token = IssueToken(s.manager);
    char& c = token[token.size() - 10];
    c = c == 'a' ? 'b' : 'a';
    const auto before = s.RegistryView();
    RequireRefused(s, JoinWith(s.member, server.Address(), token, "node1"),
                   "the secret does not match", before);
  }
  SECTION("unknown id") {
    std::string token = IssueToken(s.manager);
    const auto dash = token.rfind('-');
    token[dash + 1] = token[dash + 1] == '0' ? '1' : '0';
    const auto before = s.RegistryView();
    RequireRefused(s, JoinWith(s.member, server.Address(), token, "node1"),
                   "this manager issued no token", before);
  }
  SECTION("expired") {
    const std::string token = IssueToken(s.manager, {"--ttl", "1s"});
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    const auto before = s.RegistryView();
    auto r = JoinWith(s.member, server.Address(), token, "node1");
    RequireRefused(s, r, "expired at 20", before);
    CHECK(r.err.find("hint: ask for a new token") != std::string::npos);
  }
  SECTION("revoked") {
    auto issued = JsonOf(Mkeys({"--json", "array", "token", s.manager.string()}));
    REQUIRE(
        Mkeys({"array", "token", s.manager.string(), "--revoke", issued["id"].get<std::string>()})
            .exit_code == 0);
    const auto before = s.RegistryView();
    RequireRefused(s, JoinWith(s.member, server.Address(), issued["token"], "node1"),
                   "was revoked at", before);
  }
  SECTION("used up") {
    const std::string token = IssueToken(s.manager);
    const auto first_root = s.work.path() / "first";
    InitMachine(first_root);
    REQUIRE(JoinWith(first_root, server.Address(), token, "first").exit_code == 0);
    const auto before = s.RegistryView();
    RequireRefused(s, JoinWith(s.member, server.Address(), token, "node1"),
                   "has been used 1 time(s), its limit", before);
  }
}

TEST_CASE("a replayed join request from another TLS session is refused",
          "[integration][array][refusal]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const std::string token_text = IssueToken(s.manager);
  auto token = aj::JoinToken::Parse(token_text);
  REQUIRE(token);
  const auto before = s.RegistryView();

  // Session A: the genuine request, as an eavesdropper with the plaintext would record it.
  std::vector<std::uint8_t> recorded;
  {
    auto a = aj::internal::TlsClient::Connect(
        "127.0.0.1", static_cast<std::uint16_t>(server.port()), 10, nullptr);
    REQUIRE(a);
    auto wrap = aj::X25519Key::Generate();
    auto key = aj::GenerateEcP256();
    aj::JoinHello hello;
    hello.token_id = token->id();
    hello.token_secret = token->secret();
    hello.member = "node1";
    hello.wrap_key = wrap->public_key();
    hello.member_key_der = *aj::PublicKeyToDer(key->get());
    hello.proof = aj::JoinProof(token->secret(), (*a)->ekm(), "node1", hello.wrap_key);
    recorded = *aj::EncodeFrame(aj::EncodeHello(hello));
  }
  // Session B: the same bytes.
  auto b = aj::internal::TlsClient::Connect("127.0.0.1", static_cast<std::uint16_t>(server.port()),
                                            10, nullptr);
  REQUIRE(b);
  REQUIRE((*b)->SendRaw(recorded));
  auto reply = (*b)->Receive(10);
  REQUIRE_FALSE(reply);
  CHECK(reply.error().code() == mkeys::ErrorCode::kPeerRefused);
  CHECK(reply.error().message().find("does not match this TLS session") != std::string::npos);
  CHECK(s.RegistryView() == before);
  RequireNoTrace(s.member);

  // The token is still good for a real join.
  auto join = JoinWith(s.member, server.Address(), token_text, "node1");
  INFO(join.out << join.err);
  CHECK(join.exit_code == 0);
}

TEST_CASE("clients sending garbage are refused and the server keeps serving",
          "[integration][array][refusal]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const auto before = s.RegistryView();
  // Not TLS at all.
  {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const char junk[] = "GET / HTTP/1.0\r\n\r\n";
    CHECK(write(fd, junk, sizeof junk - 1) > 0);
    char buf[256];
    (void)read(fd, buf, sizeof buf);
    close(fd);
  }
  // TLS, then frames that are not frames.
  for (std::vector<std::uint8_t> junk : {std::vector<std::uint8_t>{9, 9, 9, 9, 9, 9},
                                         std::vector<std::uint8_t>{1, 1, 0, 0, 0, 3, '{', '{', '{'},
                                         std::vector<std::uint8_t>{1, 1, 0xff, 0xff, 0xff, 0xff}}) {
    auto c = aj::internal::TlsClient::Connect(
        "127.0.0.1", static_cast<std::uint16_t>(server.port()), 10, nullptr);
    REQUIRE(c);
    REQUIRE((*c)->SendRaw(junk));
    auto reply = (*c)->Receive(10);
    REQUIRE_FALSE(reply);
    CHECK(reply.error().message().find("malformed message") != std::string::npos);
  }
  CHECK(s.RegistryView() == before);
  CHECK(server.Log().find("refused 127.0.0.1: TLS handshake failed") != std::string::npos);
  // Still serving.
  auto join = JoinWith(s.member, server.Address(), IssueToken(s.manager), "node1");
  INFO(join.out << join.err << server.Log());
  CHECK(join.exit_code == 0);
}

TEST_CASE("too many failed authentications from one address are refused for a while",
          "[integration][array][refusal]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  std::string token = IssueToken(s.manager);
  std::string wrong = token;
  char& c = wrong[wrong.size() - 10];
  c = c == 'a' ? 'b' : 'a';
  for (int i = 0; i < 10; ++i) {
    CHECK(JoinWith(s.member, server.Address(), wrong, "node1").exit_code == 4);
  }
  auto r = JoinWith(s.member, server.Address(), token, "node1");
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("too many failed authentications from 127.0.0.1") != std::string::npos);
  CHECK(r.err.find("retryable") != std::string::npos);
  CHECK(KeptKeys(s.member).size() == 1);  // a retryable refusal: the key stays for the retry
  RequireNoTrace(s.member, true);
}
