// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array join ROOT` on a terminal with no token is a wizard: driven here through a pty.
#include <fstream>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

// Runs mkeys under a pseudo-terminal, answering each prompt; prints the whole transcript.
// The token is read from a file by the driver, never passed on a command line.
constexpr const char* kDriver = R"py(
import os, pty, select, sys, time
binary, root, manager, token_file, answer = sys.argv[1:6]
token = open(token_file).read().strip()
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "array", "join", root, "--member-name", "wiz"])
out = b""
def expect(text, timeout=30):
    global out
    end = time.time() + timeout
    while text.encode() not in out:
        left = end - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            out += data
    return True
ok = expect("Manager (HOST:PORT): ")
os.write(fd, (manager + "\n").encode())
ok = ok and expect("Join token (input hidden): ")
os.write(fd, (token + "\n").encode())
ok = ok and expect("Join this array? [y/N] ")
os.write(fd, (answer + "\n").encode())
expect("\x00", timeout=30)  # read to the end
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.stdout.write("\nEXIT %d PROMPTS %s\n" % (os.WEXITSTATUS(status), ok))
)py";

}  // namespace

TEST_CASE("the join wizard asks, shows the fingerprint and each step on a terminal",
          "[integration][array][wizard]") {
  TempDir work;
  const auto manager = work.path() / "manager";
  const auto member = work.path() / "member";
  InitMachine(manager);
  InitMachine(member);
  auto created = JsonOf(Mkeys({"--json", "array", "create", manager.string(), "--name", "web"}));
  const std::string fingerprint = created["fingerprint"];
  ServerProcess server(manager, work.path());
  const auto token_file = work.path() / "token";
  std::ofstream(token_file) << IssueToken(manager) << "\n";

  SECTION("declining the fingerprint leaves nothing behind") {
    auto r = Run({"python3", "-c", kDriver, MKEYS_BINARY, member.string(), server.Address(),
                  token_file.string(), "n"});
    INFO(r.out << r.err);
    CHECK(r.out.find("PROMPTS True") != std::string::npos);
    CHECK(r.out.find(fingerprint) != std::string::npos);
    CHECK(r.out.find("not confirmed") != std::string::npos);
    CHECK(r.out.find("EXIT 4") != std::string::npos);
    RequireNoTrace(member);
    CHECK(Members(manager).empty());
  }
  SECTION("accepting joins and shows each step") {
    auto r = Run({"python3", "-c", kDriver, MKEYS_BINARY, member.string(), server.Address(),
                  token_file.string(), "y"});
    INFO(r.out << r.err);
    CHECK(r.out.find("PROMPTS True") != std::string::npos);
    CHECK(r.out.find("The manager's key fingerprint is " + fingerprint) != std::string::npos);
    // On a terminal the marks are coloured: "\x1b[32m[ok]    \x1b[0m preflight: ...".
    CHECK(r.out.find("[ok]    \x1b[0m preflight:") != std::string::npos);
    CHECK(r.out.find("[ok]    \x1b[0m confirm to the manager: the manager recorded wiz") !=
          std::string::npos);
    CHECK(r.out.find("Joined array web as wiz") != std::string::npos);
    CHECK(r.out.find("EXIT 0") != std::string::npos);
    // The hidden token is not echoed on the terminal.
    std::string token;
    std::ifstream(token_file) >> token;
    CHECK(r.out.find(token) == std::string::npos);
    CHECK(Members(manager).size() == 1);
  }
}
