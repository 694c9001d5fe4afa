// SPDX-License-Identifier: GPL-3.0-or-later
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "support/process.hpp"

using namespace mkeys;
using namespace mkeys::keystore;
namespace fs = std::filesystem;

namespace {
constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";

MachineRoot NewMachine(const test::TempDir& dir) {
  MachineInitOptions options;
  options.machine_guid = kGuid;
  auto machine = MachineRoot::Init(dir.path() / "m", options);
  REQUIRE(machine);
  return std::move(machine).value();
}

acl::Ace Grant(const char* who, acl::AccessMask mask) {
  return acl::AllowAce(acl::ResolveName(who)->sid, mask);
}
}  // namespace

TEST_CASE("machine init lays out the store with Windows' default descriptors",
          "[keystore][machine]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  CHECK(machine.kind() == RootKind::kModel);
  CHECK(machine.machine_guid() == kGuid);
  REQUIRE(machine.store_directories().size() == 5u);
  for (std::size_t i = 0; i < kDefaultDirectories.size(); ++i) {
    auto sd = machine.security().Read(machine.root() / kDefaultDirectories[i].relative_path);
    REQUIRE(sd);
    CHECK(*sd == *acl::ParseSddl(kDefaultDirectories[i].sddl));
  }
  CHECK(acl::FormatSddl(*machine.security().Read(machine.machine_keys_dir())) ==
        "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)");
  auto key = machine.ReadMasterKey();
  REQUIRE(key);
  CHECK(key->size() == 32u);
  struct stat st {};
  REQUIRE(::stat((machine.root() / kDefaultMasterKeyPath).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // A second init refuses; reopening reads the same facts.
  CHECK(MachineRoot::Init(machine.root()).error().code() == ErrorCode::kExists);
  auto reopened = MachineRoot::Open(machine.root());
  REQUIRE(reopened);
  CHECK(reopened->machine_guid() == kGuid);
  MachineOpenOptions override_guid;
  override_guid.machine_guid = "{11111111-2222-3333-4444-555555555555}";
  CHECK(MachineRoot::Open(machine.root(), override_guid)->machine_guid() ==
        "11111111-2222-3333-4444-555555555555");
}

TEST_CASE("A directory that is not a machine root is refused clearly", "[keystore][machine]") {
  test::TempDir dir;
  auto r = MachineRoot::Open(dir.path());
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("not a machine root") != std::string::npos);
  CHECK(r.error().ToExitCode() == kExitInput);
}

TEST_CASE("Containers get the CSP's descriptor plus grants, and open only for readers",
          "[keystore][store]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  auto system = machine.TokenFor("SYSTEM");
  auto ns = machine.TokenFor("NT AUTHORITY\\NETWORK SERVICE");
  auto ls = machine.TokenFor("NT AUTHORITY\\LOCAL SERVICE");
  REQUIRE(system);
  REQUIRE(ns);
  REQUIRE(ls);
  CreateOptions options;
  options.grants.push_back(Grant("NETWORK SERVICE", acl::rights::kFileGenericRead));
  auto created = store.Create("ArrayKey", *system, options);
  REQUIRE(created);
  CHECK(created->file_name == ContainerFileName("ArrayKey", kGuid));
  const fs::path path = store.PathFor("ArrayKey");
  CHECK(acl::FormatSddl(*machine.security().Read(path)) ==
        "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;NS)");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto opened = store.Open("ArrayKey", *ns);
  REQUIRE(opened);
  REQUIRE(opened->exchange);
  CHECK(opened->exchange->spec().bits == 2048u);

  auto denied = store.Open("ArrayKey", *ls);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().windows_code() == kNteBadKeyset);
  CHECK(denied.error().message().find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);
  CHECK(denied.error().message().find("read denied") != std::string::npos);
  CHECK(denied.error().message().find("LOCAL SERVICE") != std::string::npos);

  // The same name again: NTE_EXISTS.
  auto again = store.Create("arraykey", *system);
  REQUIRE_FALSE(again);
  CHECK(again.error().windows_code() == kNteExists);
}

TEST_CASE("A non-admin creator gets SYSTEM and itself, not Administrators", "[keystore][store]") {
  auto ns = acl::TokenFor("NT AUTHORITY\\NETWORK SERVICE");
  REQUIRE(ns);
  CHECK(acl::FormatSddl(CspContainerDescriptor(*ns, {})) == "O:NSG:SYD:P(A;;FA;;;SY)(A;;FA;;;NS)");
}

TEST_CASE("Open explains a missing file, a foreign MachineGuid and a corrupt file",
          "[keystore][store]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  auto system = *machine.TokenFor("SYSTEM");
  auto missing = store.Open("Nope", system);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().windows_code() == kNteBadKeyset);
  CHECK(missing.error().message().find("does not exist") != std::string::npos);

  REQUIRE(store.Create("Cloned", system));
  const std::string other = "0d7e0c3a-1111-4222-8333-944455556666";
  fs::rename(store.PathFor("Cloned"),
             machine.machine_keys_dir() / ContainerFileName("Cloned", other));
  auto foreign = store.Open("Cloned", system);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().message().find(other) != std::string::npos);
  const auto listed = InspectKeyFile(machine, ContainerFileName("Cloned", other));
  CHECK(listed.foreign_machine_guid);
  CHECK(listed.name == "Cloned");

  REQUIRE(store.Create("Broken", system));
  fs::resize_file(store.PathFor("Broken"), 30);
  auto corrupt = store.Open("Broken", system);
  REQUIRE_FALSE(corrupt);
  CHECK(corrupt.error().windows_code() == kNteBadKeyset);
  CHECK(corrupt.error().message().find("corrupt") != std::string::npos);
  CHECK(InspectKeyFile(machine, ContainerFileName("Broken", kGuid)).corrupt);
}

TEST_CASE("Traverse denied above MachineKeys is reported at the directory", "[keystore][store]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  auto system = *machine.TokenFor("SYSTEM");
  CreateOptions options;
  options.grants.push_back(Grant("NETWORK SERVICE", acl::rights::kFileGenericRead));
  REQUIRE(store.Create("K", system, options));
  // Crypto only for SYSTEM, and NETWORK SERVICE without SeChangeNotifyPrivilege.
  REQUIRE(machine.writable_security().Write(machine.root() / "ProgramData/Microsoft/Crypto",
                                            *acl::ParseSddl("O:SYG:SYD:P(A;;FA;;;SY)")));
  auto ns = *machine.TokenFor("NT AUTHORITY\\NETWORK SERVICE");
  ns.RemovePrivilege(acl::privileges::kChangeNotify);
  auto r = store.Open("K", ns);
  REQUIRE_FALSE(r);
  CHECK(r.error().windows_code() == kNteBadKeyset);
  CHECK(r.error().message().find("traverse denied at ProgramData/Microsoft/Crypto") !=
        std::string::npos);
  // With the privilege (Windows' default), traversal is bypassed.
  CHECK(store.Open("K", *machine.TokenFor("NT AUTHORITY\\NETWORK SERVICE")));
}

TEST_CASE("Staged containers are invisible until committed and vanish when discarded",
          "[keystore][store]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  auto system = *machine.TokenFor("SYSTEM");
  auto ns = *machine.TokenFor("NT AUTHORITY\\NETWORK SERVICE");
  CreateOptions options;
  options.material = KeyMaterial{};
  options.material->symmetric = SecretBytes::Random(32);
  const SecretBytes expected = *options.material->symmetric;
  options.grants.push_back(Grant("NETWORK SERVICE", acl::rights::kFileGenericRead));
  {
    auto staged = store.CreateStaged("ConfigKey", system, options);
    REQUIRE(staged);
    CHECK_FALSE(fs::exists(store.PathFor("ConfigKey")));
    CHECK(fs::exists(staged->staging_path()));
    store.Discard(std::move(staged).value());
  }
  std::size_t files = 0;
  REQUIRE(ForEachKeyFile(machine, [&](std::string_view) { return ++files, true; }));
  CHECK(files == 0u);

  auto staged = store.CreateStaged("ConfigKey", system, options);
  REQUIRE(staged);
  auto check = store.CheckStaged(*staged, ns);
  REQUIRE(check);
  CHECK(check->allowed);
  REQUIRE(store.Commit(std::move(staged).value()));
  auto opened = store.Open("ConfigKey", ns);
  REQUIRE(opened);
  REQUIRE(opened->symmetric);
  CHECK(*opened->symmetric == expected);
  CHECK(opened->file.DescribeKeys() == "exchange symmetric 256");
}

TEST_CASE("Two processes racing for one name: exactly one wins", "[keystore][store]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  const fs::path root = machine.root();
  constexpr int kRacers = 6;
  std::vector<pid_t> pids;
  for (int i = 0; i < kRacers; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto m = MachineRoot::Open(root);
      if (!m) _exit(3);
      KeyStore store(*m);
      auto token = m->TokenFor("SYSTEM");
      auto r = store.Create("Raced", *token);
      if (r) _exit(0);
      _exit(r.error().windows_code() == kNteExists ? 1 : 2);
    }
    pids.push_back(pid);
  }
  int wins = 0, exists = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) ++wins;
    if (WEXITSTATUS(status) == 1) ++exists;
  }
  CHECK(wins == 1);
  CHECK(exists == kRacers - 1);
  KeyStore store(machine);
  CHECK(store.Open("Raced", *machine.TokenFor("SYSTEM")));
}

TEST_CASE("Delete needs DELETE on the file", "[keystore][store]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  auto system = *machine.TokenFor("SYSTEM");
  CreateOptions options;
  options.grants.push_back(Grant("NETWORK SERVICE", acl::rights::kFileGenericRead));
  REQUIRE(store.Create("D", system, options));
  auto denied = store.Delete("D", *machine.TokenFor("NT AUTHORITY\\NETWORK SERVICE"));
  REQUIRE_FALSE(denied);
  CHECK(denied.error().message().find("delete denied") != std::string::npos);
  REQUIRE(store.Delete("D", system));
  CHECK_FALSE(fs::exists(store.PathFor("D")));
}

TEST_CASE("Keys survive export to .p12/.pem and import back", "[keystore][keys]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  auto system = *machine.TokenFor("SYSTEM");
  CreateOptions options;
  options.key = {KeyAlgorithm::kEcP256, 256};
  REQUIRE(store.Create("Ec", system, options));
  const SecretBytes password = SecretBytes::FromString("pw");
  for (const char* name : {"k.p12", "k.pem"}) {
    const fs::path out = dir.path() / name;
    REQUIRE(store.Export("Ec", system, out, password));
    struct stat st {};
    REQUIRE(::stat(out.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    const std::string imported = std::string("Imported-") + name;
    REQUIRE(store.Import(imported, system, out, password));
    auto a = store.Open("Ec", system);
    auto b = store.Open(imported, system);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->exchange->SamePublicKey(*b->exchange));
  }
  // Export is access-checked.
  auto denied = store.Export("Ec", *machine.TokenFor("NT AUTHORITY\\NETWORK SERVICE"),
                             dir.path() / "x.pem", password);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().windows_code() == kNteBadKeyset);
  CHECK_FALSE(fs::exists(dir.path() / "x.pem"));
}
