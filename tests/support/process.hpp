// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Test helper: run a program (normally the mkeys binary) as a user would, feeding stdin and
// capturing stdout, stderr and the exit code. No shell is involved, so arguments are exact.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace mkeys::test {

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// This process's environment with `extra_env` ("NAME=value") added or replacing, for execvpe;
// the pointers stay valid while `extra_env` and the environment do.
inline std::vector<char*> EnvironmentWith(const std::vector<std::string>& extra_env) {
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const auto& kv : extra_env) replaced = replaced || kv.rfind(name, 0) == 0;
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& kv : extra_env) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);
  return envp;
}

// Forks and execs `argv` (found on PATH) with `extra_env` and `in`, `out`, `err` as its standard
// descriptors (-1: inherited); its pid. Everything the child needs is built before fork: after
// fork in a threaded process the child only dups and execs (dup2 clears close-on-exec on the
// new descriptor; the originals, opened close-on-exec, close at exec).
inline pid_t ForkExec(const std::vector<std::string>& argv,
                      const std::vector<std::string>& extra_env, int in, int out, int err) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp = EnvironmentWith(extra_env);
  const pid_t pid = fork();
  if (pid == 0) {
    if (in >= 0) dup2(in, 0);
    if (out >= 0) dup2(out, 1);
    if (err >= 0) dup2(err, 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}

// Starts `argv` (found on PATH) in the background with stdout and stderr going to `log` (appended
// to, or truncated first), and `extra_env` added; its pid. Safe to call while other threads run:
// the child only dups and execs.
inline pid_t SpawnToLog(const std::vector<std::string>& argv, const std::filesystem::path& log,
                        bool append, const std::vector<std::string>& extra_env = {}) {
  std::error_code ec;
  std::filesystem::create_directories(log.parent_path(), ec);
  const int fd =
      ::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  if (fd < 0) {
    std::fprintf(stderr, "test harness: cannot open the log %s: %s\n", log.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  const pid_t pid = ForkExec(argv, extra_env, -1, fd, fd);
  ::close(fd);
  return pid;
}

// The longest any one command run by a test may take (ctest gives a whole test case 600 s).
constexpr int kRunTimeoutSeconds = 300;

inline RunResult Run(const std::vector<std::string>& argv, const std::string& input = "",
                     const std::vector<std::string>& extra_env = {}) {
  // Tests call this from many threads at once. The pipes are close-on-exec so that a child forked
  // by another thread never inherits them (a sibling holding this child's stdin open would keep it
  // from ever seeing end of input).
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    std::abort();
  }
  const pid_t pid = ForkExec(argv, extra_env, in_pipe[0], out_pipe[1], err_pipe[1]);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  if (input.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  RunResult result;
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_pipe[1], POLLOUT, 0}};
  int open_count = 2;
  // A child that hangs fails its test with what it printed, rather than the whole test binary
  // running into ctest's timeout with nothing to show.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kRunTimeoutSeconds);
  bool killed = false;
  while (open_count > 0 || fds[2].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    const int ready = poll(fds, 3, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        char buf[65536];
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_count;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
        }
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(fds[2].fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n <= 0 || written == input.size()) {
        close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) {
    result.err += "\n[test harness: " + argv.front() + " killed after " +
                  std::to_string(kRunTimeoutSeconds) + " s without ending]\n";
  }
  return result;
}

// Runs the mkeys binary built alongside the tests.
inline RunResult Mkeys(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), MKEYS_BINARY);
  return Run(args, input);
}

// A fresh directory under /tmp removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mkeys-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The test data in the repository (tests/data): the Windows conformance vectors, real hives.
inline std::filesystem::path TestDataDir() {
  return MKEYS_TEST_DATA_DIR;
}

}  // namespace mkeys::test
