// SPDX-License-Identifier: GPL-3.0-or-later
// Crash safety of repair --apply (issue 8): 2000 containers that all need a change, the process
// killed (SIGKILL) at 20 points; after each kill `mkeys restore JOURNAL` gives exactly the state
// before and a re-run of `repair --apply` exactly the state after, byte for byte, with no
// container file changed.
#include <sys/xattr.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <random>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr int kContainers = 2000;

// Every descriptor under ProgramData and every key file's contents.
std::map<std::string, std::string> State(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root / "ProgramData")) {
    std::string value(4096, '\0');
    const ssize_t n = ::lgetxattr(e.path().c_str(), "user.NTACL", value.data(), value.size());
    value.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    out["sd:" + e.path().string()] = value;
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      out["data:" + e.path().string()] =
          std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
  }
  return out;
}

test::RunResult Apply(const fs::path& root, const fs::path& journal, const std::string& env = "") {
  std::vector<std::string> extra;
  if (!env.empty()) extra.push_back(env);
  return test::Run({MKEYS_BINARY, "repair", root.string(), "--service",
                    "NT AUTHORITY\\NETWORK SERVICE=*", "--apply", "--journal", journal.string()},
                   "", extra);
}

}  // namespace

TEST_CASE(
    "repair --apply killed at random points: restore gives the state before, re-apply the "
    "state after",
    "[integration][repair][crash]") {
  test::TempDir dir;
  keystore::MachineInitOptions init;
  init.machine_guid = kGuid;
  auto machine = keystore::MachineRoot::Init(dir.path() / "m", init);
  REQUIRE(machine);
  const fs::path root = machine->root();
  auto hardened_dir = acl::ParseSddl("O:SYG:SYD:PAI(A;;FA;;;BA)");
  REQUIRE(machine->writable_security().Write(machine->machine_keys_dir(), *hardened_dir));
  auto system_only = acl::ParseSddl("O:SYG:SYD:P(A;;FA;;;SY)");
  for (int i = 0; i < kContainers; ++i) {
    const std::string name = "TMG key " + std::to_string(i);
    const auto path = machine->machine_keys_dir() / keystore::ContainerFileName(name, kGuid);
    const auto bytes = keystore::MakeSyntheticCapiContainerFile(name, 1024);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    REQUIRE(machine->writable_security().Write(path, *system_only));
  }
  const auto before = State(root);
  int journals = 0;
  auto next_journal = [&] { return dir.path() / ("j" + std::to_string(journals++)); };

  // The reference "after": a clean apply, then its undo.
  const auto j0 = next_journal();
  REQUIRE(Apply(root, j0).exit_code == 0);
  const auto after = State(root);
  std::size_t changed = 0;
  for (const auto& [k, v] : before) changed += after.at(k) != v ? 1 : 0;
  REQUIRE(changed == kContainers + 1u);  // every key file and MachineKeys; no contents changed
  REQUIRE(test::Mkeys({"restore", j0.string()}).exit_code == 0);
  REQUIRE(State(root) == before);

  std::mt19937 rng(20240508u);
  std::uniform_int_distribution<int> point(0, kContainers + 1);
  for (int round = 0; round < 20; ++round) {
    const int k = point(rng);
    INFO("round " << round << ": killed after " << k << " descriptor writes");
    // Killed, then undone.
    const auto killed = next_journal();
    auto run = Apply(root, killed, "MKEYS_FAULT_AFTER_N=" + std::to_string(k));
    REQUIRE(run.exit_code == 128 + 9);
    auto restore = test::Mkeys({"restore", killed.string()});
    REQUIRE(restore.exit_code == 0);
    CHECK(State(root) == before);
    // Killed, then applied again: exactly the state after; the killed journal still undoes it.
    const auto killed2 = next_journal();
    REQUIRE(Apply(root, killed2, "MKEYS_FAULT_AFTER_N=" + std::to_string(point(rng))).exit_code ==
            137);
    REQUIRE(Apply(root, next_journal()).exit_code == 0);
    CHECK(State(root) == after);
    REQUIRE(test::Mkeys({"restore", killed2.string()}).exit_code == 0);
    CHECK(State(root) == before);
  }

  // Killed while writing the journal: nothing changed, restore says so.
  const auto torn = next_journal();
  REQUIRE(Apply(root, torn, "MKEYS_FAULT_JOURNAL_BYTES=5000").exit_code == 137);
  CHECK(State(root) == before);
  auto restore_torn = test::Mkeys({"restore", torn.string()});
  CHECK(restore_torn.exit_code == 0);
  CHECK(restore_torn.out.find("Nothing to restore") != std::string::npos);
  CHECK(restore_torn.err.find("torn record at offset") != std::string::npos);
  CHECK(State(root) == before);
}
