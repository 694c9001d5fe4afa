// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared helpers of the array integration tests: model machines, a manager server process,
// and checks that a member or a registry is unchanged.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace mkeys::test {

inline std::filesystem::path MachineKeysDir(const std::filesystem::path& root) {
  return root / "ProgramData/Microsoft/Crypto/RSA/MachineKeys";
}

inline void InitMachine(const std::filesystem::path& root) {
  auto r = Mkeys({"machine", "init", root.string()});
  REQUIRE(r.exit_code == 0);
}

// Files in MachineKeys, staging files included.
inline std::size_t KeyFileCount(const std::filesystem::path& root) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(MachineKeysDir(root))) {
    (void)e;
    ++n;
  }
  return n;
}

inline nlohmann::json JsonOf(const RunResult& r) {
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

// The container names `mkeys store list` shows.
inline std::vector<std::string> ContainerNames(const std::filesystem::path& root) {
  std::vector<std::string> out;
  const auto listed = JsonOf(Mkeys({"--json", "store", "list", root.string()}));
  for (const auto& c : listed["containers"]) out.push_back(c["name"].get<std::string>());
  return out;
}

// The member keys failed joins kept for a retry with the same token (mkeys-array-pending-ID).
inline std::vector<std::string> KeptKeys(const std::filesystem::path& root) {
  std::vector<std::string> out;
  for (const auto& name : ContainerNames(root)) {
    if (name.rfind("mkeys-array-pending-", 0) == 0) out.push_back(name);
  }
  return out;
}

// The member shows no trace of a join: no key files, no state, no journal. With `but_kept_key`
// the member key a failed join keeps for its retry may be there (callers check KeptKeys), and
// nothing else.
inline void RequireNoTrace(const std::filesystem::path& member_root, bool but_kept_key = false) {
  CHECK(KeyFileCount(member_root) == (but_kept_key ? KeptKeys(member_root).size() : 0));
  CHECK_FALSE(std::filesystem::exists(member_root / "mkeys-array/member.json"));
  CHECK_FALSE(std::filesystem::exists(member_root / "mkeys-array/join-journal.json"));
}

inline std::string IssueToken(const std::filesystem::path& manager_root,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--json", "array", "token", manager_root.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return JsonOf(Mkeys(args))["token"].get<std::string>();
}

inline nlohmann::json Members(const std::filesystem::path& manager_root) {
  return JsonOf(Mkeys({"--json", "array", "members", manager_root.string()}));
}

inline nlohmann::json Tokens(const std::filesystem::path& manager_root) {
  return JsonOf(Mkeys({"--json", "array", "token", manager_root.string(), "--list"}));
}

// `mkeys array serve ROOT` in the background, optionally under a command prefix (ip netns exec).
class ServerProcess {
 public:
  ServerProcess(const std::filesystem::path& root, const std::filesystem::path& work,
                std::vector<std::string> extra_env = {}, std::vector<std::string> prefix = {},
                std::string listen = "127.0.0.1:0", std::vector<std::string> extra_args = {})
      : port_file_(work / ("port-" + std::to_string(counter_++))),
        log_(port_file_.string() + ".log") {
    std::filesystem::remove(port_file_);
    std::vector<std::string> argv = prefix;
    for (const auto& a :
         std::vector<std::string>{MKEYS_BINARY, "array", "serve", root.string(), "--listen", listen,
                                  "--port-file", port_file_.string()}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    pid_ = SpawnToLog(argv, log_, /*append=*/false, extra_env);
    for (int i = 0; i < 200 && !std::filesystem::exists(port_file_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream in(port_file_);
    in >> port_;
    INFO(Log());
    REQUIRE(port_ > 0);
  }
  ~ServerProcess() { Stop(); }
  int port() const { return port_; }
  std::string Address(const std::string& host = "127.0.0.1") const {
    return host + ":" + std::to_string(port_);
  }
  std::string Log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // SIGTERM and wait; returns the exit code (128 + signal when killed). Bounded: SIGKILL after 10
  // s.
  int Stop() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    status_ = 128 + SIGKILL;
    return status_;
  }
  // Waits for the server to end by itself (a fault injection), bounded.
  int WaitExit(int seconds) {
    int status = 0;
    for (int i = 0; i < seconds * 20 && pid_ > 0; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path port_file_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = -1;
};

// A plain TCP connection to 127.0.0.1:port (from `source`, a loopback address); -1 on failure.
inline int ConnectLoopback(int port, const std::string& source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = 10;
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

// A token with one character of its secret changed.
inline std::string WrongSecret(std::string token) {
  char& c = token[token.size() - 10];
  c = c == 'a' ? 'b' : 'a';
  return token;
}

inline nlohmann::json Events(const std::filesystem::path& manager_root) {
  return JsonOf(Mkeys({"--json", "array", "events", manager_root.string(), "--limit", "1000"}));
}

// Events of `kind` in an `array events --json` list (about `subject` only, when given).
inline int CountEvents(const nlohmann::json& events, const std::string& kind,
                       const std::string& subject = {}) {
  int n = 0;
  for (const auto& e : events) {
    if (e["kind"] == kind && (subject.empty() || e["subject"] == subject)) ++n;
  }
  return n;
}

inline nlohmann::json MembersWith(const std::filesystem::path& manager_root,
                                  const std::string& flag) {
  return JsonOf(Mkeys({"--json", "array", "members", manager_root.string(), flag}));
}

inline RunResult SyncMember(const std::filesystem::path& member_root,
                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"array", "sync", member_root.string(), "--timeout", "10"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Mkeys(args);
}

inline RunResult JoinWith(const std::filesystem::path& member_root, const std::string& manager,
                          const std::string& token, const std::string& name,
                          const std::vector<std::string>& env = {}) {
  return Run({MKEYS_BINARY, "array", "join", member_root.string(), "--manager", manager, "--token",
              "-", "--member-name", name},
             token + "\n", env);
}

}  // namespace mkeys::test
