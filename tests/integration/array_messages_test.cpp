// SPDX-License-Identifier: GPL-3.0-or-later
// Honest messages around a join: the token lifetime cap, the preflight's full diagnosis with a
// fix that runs as printed, retryable vs final refusals, and the manager's log lines (once,
// with UTC timestamps).
#include <fstream>

#include "array_support.hpp"

using namespace mkeys::test;

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

// The text after "Fix: " up to the next ". " that ends the command.
std::string FixCommand(const std::string& err) {
  const auto at = err.find("Fix: ");
  if (at == std::string::npos) return "";
  const auto end = err.find(". ", at);
  return err.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5);
}

}  // namespace

TEST_CASE("join tokens live at most 7 days unless the operator overrides it",
          "[integration][array][messages]") {
  Setup s;
  auto long_ttl = Mkeys({"array", "token", s.manager.string(), "--ttl", "100000d"});
  CHECK(long_ttl.exit_code == 2);
  CHECK(long_ttl.err.find("at most 10 years") != std::string::npos);
  auto absurd =
      Mkeys({"array", "token", s.manager.string(), "--ttl", "100000d", "--ttl-max-override"});
  CHECK(absurd.exit_code == 2);
  CHECK(absurd.err.find("at most 10 years") != std::string::npos);
  auto eight = Mkeys({"array", "token", s.manager.string(), "--ttl", "8d"});
  CHECK(eight.exit_code == 2);
  CHECK(eight.err.find("longer than 7 days") != std::string::npos);
  CHECK(eight.err.find("--ttl-max-override") != std::string::npos);
  CHECK(Mkeys({"array", "token", s.manager.string(), "--ttl", "7d"}).exit_code == 0);
  CHECK(Mkeys({"array", "token", s.manager.string(), "--ttl", "30d", "--ttl-max-override"})
            .exit_code == 0);
}

TEST_CASE("a failed preflight prints the diagnosis and a fix that runs as printed",
          "[integration][array][messages]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const std::string token = IssueToken(s.manager);
  // Hardened: NETWORK SERVICE cannot traverse to MachineKeys (Everyone's entry is gone).
  auto sd = Mkeys(
      {"sd", "set", MachineKeysDir(s.member).string(), "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"});
  INFO(sd.out << sd.err);
  REQUIRE(sd.exit_code == 0);
  auto join = JoinWith(s.member, server.Address(), token, "node1");
  INFO(join.out << join.err);
  CHECK(join.exit_code == 1);
  // The evidence chain, as 'mkeys diagnose' gives it, not one line.
  CHECK(join.out.find("The preflight's diagnosis") != std::string::npos);
  CHECK(join.out.find("MachineKeys") != std::string::npos);
  const std::string fix = FixCommand(join.err);
  INFO(fix);
  REQUIRE(fix.rfind("mkeys repair ", 0) == 0);
  CHECK(fix.find("preflight") == std::string::npos);  // names no internal probe
  CHECK(join.err.find("the token was not used") != std::string::npos);
  CHECK(Tokens(s.manager)[0]["uses_left"] == 1);
  // Run the fix exactly as printed (mkeys on PATH), in a scratch directory for its journal.
  const std::string bin_dir = std::filesystem::path(MKEYS_BINARY).parent_path().string();
  auto ran =
      Run({"/bin/sh", "-c",
           "cd '" + s.work.path().string() + "' && PATH='" + bin_dir + "':\"$PATH\" " + fix});
  INFO(ran.out << ran.err);
  REQUIRE(ran.exit_code == 0);
  auto again = JoinWith(s.member, server.Address(), token, "node1");
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
}

TEST_CASE("refusals say whether retrying can help", "[integration][array][messages]") {
  Setup s;
  ServerProcess server(s.manager, s.work.path());
  const std::string token = IssueToken(s.manager);
  const auto first = s.work.path() / "first";
  InitMachine(first);
  REQUIRE(JoinWith(first, server.Address(), token, "first").exit_code == 0);
  auto used = JoinWith(s.member, server.Address(), token, "node1");
  INFO(used.out << used.err);
  CHECK(used.exit_code == 4);
  CHECK(used.err.find("final: this token will be refused again") != std::string::npos);
  CHECK(used.err.find("can be retried") == std::string::npos);
  auto wrong = JoinWith(s.member, server.Address(), WrongSecret(IssueToken(s.manager)), "node1");
  CHECK(wrong.err.find("final:") != std::string::npos);
}

TEST_CASE("the manager logs each line once with a UTC timestamp",
          "[integration][array][messages]") {
  Setup s;
  std::string log;
  // -v: the global option goes before the command.
  TempDir logs;
  {
    const auto port_file = logs.path() / "port";
    const auto log_file = logs.path() / "log";
    auto r = Run({"/bin/sh", "-c",
                  std::string(MKEYS_BINARY) + " -v array serve '" + s.manager.string() +
                      "' --listen 127.0.0.1:0 --port-file '" + port_file.string() + "' 2>'" +
                      log_file.string() + "' & pid=$!; i=0; while [ ! -s '" + port_file.string() +
                      "' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; kill -TERM $pid; "
                      "wait $pid"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    std::ifstream in(log_file);
    log.assign(std::istreambuf_iterator<char>(in), {});
  }
  INFO(log);
  // A line "YYYY-MM-DDTHH:MM:SSZ mkeys serve: serving array web…" (checked by hand: std::regex
  // trips GCC 12's -Wmaybe-uninitialized in the ASan build).
  auto stamped = [](const std::string& text) {
    const std::string pattern = "dddd-dd-ddTdd:dd:ddZ mkeys serve: serving array web";
    for (std::size_t start = 0; start < text.size();) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string l = text.substr(start, end - start);
      bool ok = l.size() >= pattern.size();
      for (std::size_t i = 0; ok && i < pattern.size(); ++i) {
        ok = pattern[i] == 'd' ? (l[i] >= '0' && l[i] <= '9') : l[i] == pattern[i];
      }
      if (ok) return true;
      start = end + 1;
    }
    return false;
  };
  std::size_t serving = 0;
  for (std::size_t pos = 0; (pos = log.find("serving array web", pos)) != std::string::npos; ++pos)
    ++serving;
  CHECK(serving == 1);
  CHECK(stamped(log));
  CHECK(log.find("stopping on SIGTERM") != std::string::npos);
}
