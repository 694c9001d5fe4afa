// SPDX-License-Identifier: GPL-3.0-or-later
// The manager under load, loopback only: ~200 hostile clients (garbage bytes, slowloris
// connections, wrong tokens) while 20 legitimate members join. All 20 succeed, the manager's
// memory stays bounded, it keeps serving, and it stops cleanly.
//
// The manager refuses joins from an address after 10 failed authentications. Hostile in-process
// clients bind to other loopback addresses (127.0.0.2 and up; all of 127/8 is loopback on Linux) so
// that the members on 127.0.0.1 are not punished; the few hostile runs of the real member binary,
// which always comes from 127.0.0.1, stay below that limit. One hostile address is driven past the
// limit and must then be refused as such.
#include <openssl/ssl.h>

#include <atomic>
#include <random>

#include "../../arrayjoin/src/tls.hpp"
#include "array_support.hpp"
#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/arrayjoin/wire.hpp"

using namespace mkeys::test;
namespace aj = mkeys::arrayjoin;

// The manager's memory must stay bounded under attack: 200 MiB. Under AddressSanitizer every
// allocation carries redzones and freed memory sits in a 256 MiB quarantine, so the bound grows by
// that much there.
#if defined(__SANITIZE_ADDRESS__)
#define MKEYS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MKEYS_TEST_ASAN 1
#endif
#endif
#ifdef MKEYS_TEST_ASAN
constexpr long kPeakRssLimitKib = (200 + 256) * 1024;
#else
constexpr long kPeakRssLimitKib = 200 * 1024;
#endif

namespace {

// A TCP socket bound to `source` (a loopback address), connected to 127.0.0.1:port, with
// send/receive timeouts so that no client can hang the test.
int ConnectFrom(const std::string& source, int port, int timeout_seconds = 15) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = timeout_seconds;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<std::uint16_t>(port));
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends bytes that are not TLS, then reads until the manager closes. True if it closed.
bool GarbageClient(const std::string& source, int port, unsigned seed) {
  const int fd = ConnectFrom(source, port);
  if (fd < 0) return false;
  std::mt19937 rng(seed);
  std::string junk;
  switch (seed % 3) {
    case 0:
      junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      break;
    case 1:
      junk = std::string("\x16\x03\x01\xff\xff", 5);
      break;  // a TLS record claiming 64 KiB
    default:
      junk.resize(1 + rng() % 4096);
      for (auto& c : junk) c = static_cast<char>(rng());
  }
  (void)!write(fd, junk.data(), junk.size());
  char buf[4096];
  bool closed = false;
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      closed = true;
      break;
    }
    if (n < 0) break;  // timed out
  }
  close(fd);
  return closed;
}

// A TLS join with a wrong token secret from `source`. Returns the decrypted reply bytes (the
// manager's error frame carries its message in clear inside TLS), or "" when none came.
std::string WrongTokenClient(const std::string& source, int port, const std::string& token_text) {
  auto token = aj::JoinToken::Parse(token_text);
  if (!token) return "";
  const int fd = ConnectFrom(source, port);
  if (fd < 0) return "";
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string reply;
  if (SSL_connect(ssl) == 1) {
    auto ekm = aj::internal::ExportEkm(ssl);
    auto wrap = aj::X25519Key::Generate();
    auto key = aj::GenerateEcP256();
    if (ekm && wrap && key) {
      aj::JoinHello hello;
      hello.token_id = token->id();
      hello.token_secret = token->secret();
      hello.member = "intruder";
      hello.wrap_key = wrap->public_key();
      hello.member_key_der = *aj::PublicKeyToDer(key->get());
      hello.proof = aj::JoinProof(token->secret(), *ekm, "intruder", hello.wrap_key);
      auto frame = aj::EncodeFrame(aj::EncodeHello(hello));
      if (frame && SSL_write(ssl, frame->data(), static_cast<int>(frame->size())) > 0) {
        char buf[4096];
        int n = 0;
        while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
          reply.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return reply;
}

// The manager's pid, found by its unique root in /proc/*/cmdline.
pid_t FindServerPid(const std::filesystem::path& root) {
  const std::string needle = std::string("array") + '\0' + "serve" + '\0' + root.string() + '\0';
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    const std::string cmdline(std::istreambuf_iterator<char>(in), {});
    if (cmdline.find(needle) != std::string::npos) return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// VmHWM (peak resident set) in KiB.
long PeakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

TEST_CASE("the manager keeps serving 20 members while 200 hostile clients attack it",
          "[integration][reliability][load]") {
  TempDir work;
  const auto manager = work.path() / "manager";
  InitMachine(manager);
  REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  constexpr int kMembers = 20;
  std::vector<std::filesystem::path> members;
  for (int i = 0; i <= kMembers; ++i) {
    members.push_back(work.path() / ("member-" + std::to_string(i)));
    InitMachine(members.back());
  }
  const std::string token = IssueToken(manager, {"--uses", std::to_string(kMembers + 1)});
  const std::string wrong = WrongSecret(token);

  ServerProcess server(manager, work.path());
  const int port = server.port();
  const pid_t server_pid = FindServerPid(manager);
  REQUIRE(server_pid > 0);

  std::atomic<int> garbage_closed{0};
  std::atomic<int> slowloris_held{0};
  std::atomic<int> wrong_refused{0};
  std::atomic<int> wrong_cli_refused{0};
  std::string wrong_cli_err;
  std::vector<std::string> limit_replies(12);
  std::vector<RunResult> joins(kMembers);
  std::vector<std::thread> threads;

  // 60 slowloris connections from 127.0.0.100-119: connect, send nothing, hold 4 s.
  for (int i = 0; i < 60; ++i) {
    threads.emplace_back([&, i] {
      const int fd = ConnectFrom("127.0.0." + std::to_string(100 + i % 20), port);
      if (fd < 0) return;
      std::this_thread::sleep_for(std::chrono::seconds(4));
      ++slowloris_held;
      close(fd);
    });
  }
  // 100 garbage clients from 127.0.0.2-41, in 10 threads.
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const int n = t * 10 + i;
        if (GarbageClient("127.0.0." + std::to_string(2 + n % 40), port, static_cast<unsigned>(n)))
          ++garbage_closed;
      }
    });
  }
  // 28 wrong-token TLS clients from 127.0.0.201-214, in 4 threads.
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 7; ++i) {
        const auto reply =
            WrongTokenClient("127.0.0." + std::to_string(201 + (t * 7 + i) % 14), port, wrong);
        if (reply.find("does not match") != std::string::npos) ++wrong_refused;
      }
    });
  }
  // 12 wrong-token attempts in a row from 127.0.0.250: the 11th and 12th hit the limit.
  threads.emplace_back([&] {
    for (int i = 0; i < 12; ++i) limit_replies[i] = WrongTokenClient("127.0.0.250", port, wrong);
  });
  // 9 runs of the real member binary with a wrong token, from 127.0.0.1 (below the limit of 10).
  threads.emplace_back([&] {
    const auto intruder = work.path() / "intruder";
    InitMachine(intruder);
    for (int i = 0; i < 9; ++i) {
      auto r = JoinWith(intruder, server.Address(), wrong, "intruder");
      const std::string said = r.out + r.err;
      if (r.exit_code == 4 && said.find("the secret does not match") != std::string::npos)
        ++wrong_cli_refused;
      else
        wrong_cli_err = std::to_string(r.exit_code) + ": " + said;
    }
  });
  // The 20 legitimate members, all at once.
  for (int i = 0; i < kMembers; ++i) {
    threads.emplace_back([&, i] {
      joins[i] = JoinWith(members[i], server.Address(), token, "node-" + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();

  INFO(server.Log());
  for (int i = 0; i < kMembers; ++i) {
    INFO("member " << i << ": " << joins[i].out << joins[i].err);
    CHECK(joins[i].exit_code == 0);
  }
  CHECK(slowloris_held == 60);
  CHECK(garbage_closed == 100);
  CHECK(wrong_refused == 28);
  INFO(wrong_cli_err);
  CHECK(wrong_cli_refused == 9);
  for (int i = 0; i < 10; ++i) {
    INFO("attempt " << i << ": " << limit_replies[i]);
    CHECK(limit_replies[i].find("does not match") != std::string::npos);
  }
  for (int i = 10; i < 12; ++i) {
    INFO("attempt " << i << ": " << limit_replies[i]);
    CHECK(limit_replies[i].find("too many failed authentications from 127.0.0.250") !=
          std::string::npos);
  }

  const auto listed = Members(manager);
  CHECK(listed.size() == static_cast<std::size_t>(kMembers));
  for (int i = 0; i < kMembers; ++i) {
    bool found = false;
    for (const auto& m : listed) found = found || m["name"] == "node-" + std::to_string(i);
    CHECK(found);
  }

  // Still serving: one more join succeeds.
  auto last = JoinWith(members[kMembers], server.Address(), token, "node-last");
  INFO(last.out << last.err);
  CHECK(last.exit_code == 0);
  CHECK(Members(manager).size() == static_cast<std::size_t>(kMembers + 1));

  const long peak = PeakRssKib(server_pid);
  INFO("manager peak RSS " << peak << " KiB");
  CHECK(peak > 0);
  CHECK(peak < kPeakRssLimitKib);

  CHECK(server.Stop() == 0);
}
