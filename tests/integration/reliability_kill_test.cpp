// SPDX-License-Identifier: GPL-3.0-or-later
// Crash safety of the store, and corrupt state files: `store create` killed with SIGKILL at
// random moments never leaves a partial container under its real name nor a container without
// its descriptor; a damaged registry, baseline or journal gives a clear error (exit 3), never a
// crash and never a silent reset.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>

#include "array_support.hpp"

using namespace mkeys::test;

namespace {

// Starts `mkeys store create ROOT NAME --as SYSTEM`, kills it after delay_ms with SIGKILL.
// Returns the exit code (128 + 9 when the kill landed first).
int CreateKilledAfter(const std::filesystem::path& root, const std::string& name, int delay_ms) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(MKEYS_BINARY, MKEYS_BINARY, "store", "create", root.c_str(), name.c_str(), "--as",
          "SYSTEM", static_cast<char*>(nullptr));
    _exit(127);
  }
  REQUIRE(pid > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<char> ReadBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string Garbage(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace

TEST_CASE("store create killed at random moments leaves no partial container",
          "[integration][reliability][kill]") {
  TempDir work;
  const auto root = work.path() / "machine";
  InitMachine(root);
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> delay(0, 120);
  int killed = 0;
  int completed = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "crash-" + std::to_string(i);
    const int d = delay(rng);
    const int code = CreateKilledAfter(root, name, d);
    INFO("run " << i << " killed after " << d << " ms, exit " << code);
    REQUIRE((code == 0 || code == 128 + SIGKILL));
    (code == 0 ? completed : killed) += 1;

    // Every non-staging file in MachineKeys is a container `store list` reads cleanly.
    auto list = Mkeys({"--json", "store", "list", root.string()});
    INFO(list.out << list.err);
    REQUIRE(list.exit_code == 0);
    const auto doc = nlohmann::json::parse(list.out);
    std::set<std::string> listed;
    for (const auto& c : doc["containers"]) {
      listed.insert(c["file"].get<std::string>());
      INFO(c.dump());
      CHECK(c["flags"].empty());
      CHECK_FALSE(c.contains("problem"));
      CHECK(c["name"].get<std::string>().rfind("crash-", 0) == 0);
    }
    for (const auto& e : std::filesystem::directory_iterator(MachineKeysDir(root))) {
      const std::string file = e.path().filename().string();
      if (file.rfind(".staging", 0) == 0) {
        CHECK(listed.count(file) == 0);  // a leftover staging file is never listed as a key
      } else {
        INFO(file);
        CHECK(listed.count(file) == 1);
      }
    }

    // Creating the same name again: it exists (the killed run completed) or it is created now.
    auto again = Mkeys({"store", "create", root.string(), name, "--as", "SYSTEM"});
    INFO(again.out << again.err);
    if (again.exit_code == 1) {
      CHECK(again.err.find("NTE_EXISTS") != std::string::npos);
    } else {
      CHECK(again.exit_code == 0);
    }
    auto open = Mkeys({"store", "open", root.string(), name, "--as", "SYSTEM"});
    INFO(open.out << open.err);
    CHECK(open.exit_code == 0);
  }
  // The runs covered both outcomes only if the delays straddle the command's run time; at
  // least some must have been killed for the test to mean anything.
  CHECK(killed > 0);
  INFO("killed " << killed << ", completed " << completed);
  auto final_list = JsonOf(Mkeys({"--json", "store", "list", root.string()}));
  CHECK(final_list["containers"].size() == 20);
}

TEST_CASE("a corrupt registry is an error, never reset", "[integration][reliability][corrupt]") {
  TempDir work;
  const auto root = work.path() / "manager";
  InitMachine(root);
  REQUIRE(Mkeys({"array", "create", root.string(), "--name", "web"}).exit_code == 0);
  const auto db = root / "mkeys-array/registry.db";
  REQUIRE(std::filesystem::exists(db));
  WriteBytes(db, Garbage(8192, 7));
  const auto before = ReadBytes(db);

  auto r = Mkeys({"array", "members", root.string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("registry.db") != std::string::npos);
  CHECK(r.err.find("damaged") != std::string::npos);
  // A token or a serve on the damaged registry fails the same way and leaves it alone.
  auto t = Mkeys({"array", "token", root.string()});
  INFO(t.out << t.err);
  CHECK(t.exit_code == 3);
  CHECK(ReadBytes(db) == before);
  for (const auto& e : std::filesystem::directory_iterator(root / "mkeys-array")) {
    INFO(e.path());
    CHECK(e.path().filename() == "registry.db");  // no fresh registry created beside it
  }
}

TEST_CASE("a corrupt baseline is an error with its offset, not a crash",
          "[integration][reliability][corrupt]") {
  TempDir work;
  const auto root = work.path() / "machine";
  InitMachine(root);
  const auto baseline = work.path() / "baseline.json";
  for (const std::string& bytes : {std::string("{\"rules\": [{\"garbage"), Garbage(512, 11),
                                   std::string("[1e99999]"), std::string("")}) {
    WriteBytes(baseline, bytes);
    auto r = Mkeys({"audit", root.string(), "--baseline", baseline.string()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("baseline") != std::string::npos);
  }
}

TEST_CASE("a corrupt journal is an error, not a crash", "[integration][reliability][corrupt]") {
  TempDir work;
  const auto root = work.path() / "machine";
  InitMachine(root);
  const auto journal = work.path() / "repair.journal";
  for (const std::string& bytes : {Garbage(300, 3), std::string("MKEYSJNL") + Garbage(300, 5),
                                   std::string("MKEYSJNL"), std::string("")}) {
    WriteBytes(journal, bytes);
    auto r = Mkeys({"restore", journal.string(), "--root", root.string()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("journal") != std::string::npos);
  }
}
