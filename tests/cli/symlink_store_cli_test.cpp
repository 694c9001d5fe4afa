// SPDX-License-Identifier: GPL-3.0-or-later
// A symlink in the key store (Crypto, a key file, a folder inside MachineKeys) pointing outside
// the root: audit reports it (MK031), and repair --apply, store create, sd set, sd import-icacls
// and restore refuse it, naming it, with the outside tree unchanged byte for byte.
#include <catch2/catch.hpp>

#include <sys/xattr.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "cli/repair_cli_support.hpp"
#include "support/cert_fixtures.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using mkeys::test::Mkeys;
using mkeys::test::Run;

namespace {

// Every file's bytes and every entry's NTACL attribute under `dir` (links not followed).
std::map<std::string, std::string> Tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  out[dir.string() + "#attr"] = "";
  char buf[65536];
  if (const ssize_t n = ::lgetxattr(dir.c_str(), "user.NTACL", buf, sizeof buf); n >= 0) {
    out[dir.string() + "#attr"] = std::string(buf, static_cast<std::size_t>(n));
  }
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const ssize_t n = ::lgetxattr(e.path().c_str(), "user.NTACL", buf, sizeof buf);
    out[e.path().string() + "#attr"] =
        n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
    if (e.is_regular_file() && !e.is_symlink()) {
      std::ifstream in(e.path(), std::ios::binary);
      out[e.path().string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
  }
  return out;
}

void WriteSave(const fs::path& file, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\r\n";
  std::ofstream out(file, std::ios::binary);
  for (char c : text) out.put(c).put('\0');
}

std::vector<std::string> Walk(const char* walk) {
  return {std::string("MKEYS_FORCE_OPENAT_WALK=") + walk};
}

// A journal of a real repair of the seed machine (its MachineKeys folder and array key).
std::string RepairJournal(const mkeys::test::SeedMachine& m) {
  const std::string journal = (m.dir.path() / "J").string();
  const std::string service = std::string(mkeys::test::kNs) + "=" + mkeys::test::kArrayKey;
  REQUIRE(
      Mkeys({"repair", m.root, "--service", service, "--apply", "--journal", journal}).exit_code ==
      0);
  return journal;
}

}  // namespace

TEST_CASE("a Crypto symlink outside the root is reported and no command writes through it",
          "[cli][safety][symlink]") {
  mkeys::test::SeedMachine m;
  const std::string journal = RepairJournal(m);
  REQUIRE(Mkeys({"restore", journal}).exit_code == 0);  // broken again: repair has work to do
  const fs::path root = m.root;
  const fs::path crypto = root / "ProgramData/Microsoft/Crypto";
  const fs::path outside = m.dir.path() / "outside";
  fs::rename(crypto, outside);
  fs::create_directory_symlink(outside, crypto);
  const auto before = Tree(outside);
  const std::string link = "ProgramData/Microsoft/Crypto";

  auto audit = Mkeys({"audit", m.root});
  CHECK(audit.exit_code == 1);
  CHECK_THAT(audit.out, Catch::Contains("MK031") &&
                            Catch::Contains(link + ": symbolic link to " + outside.string()));
  CHECK_THAT(audit.out, Catch::Contains("0 key files"));

  WriteSave(m.dir.path() / "save.txt", {"MachineKeys", "D:PAI(A;;FA;;;WD)"});
  const std::string service = std::string(mkeys::test::kNs) + "=" + mkeys::test::kArrayKey;
  for (const char* walk : {"0", "1"}) {
    INFO("MKEYS_FORCE_OPENAT_WALK=" << walk);
    const auto env = Walk(walk);
    auto repair = Run({MKEYS_BINARY, "repair", m.root, "--service", service, "--apply", "--journal",
                       (m.dir.path() / (std::string("J2-") + walk)).string()},
                      "", env);
    CHECK(repair.exit_code != 0);
    CHECK_THAT(repair.err + repair.out, Catch::Contains(link));
    auto create = Run({MKEYS_BINARY, "store", "create", m.root, "new key", "--as", "administrator",
                       "--key", "ec:p256"},
                      "", env);
    CHECK(create.exit_code == 3);
    CHECK_THAT(create.err, Catch::Contains(link + ": a symbolic link"));
    auto set = Run({MKEYS_BINARY, "sd", "set", (crypto / "RSA/MachineKeys").string(),
                    "O:SYG:SYD:(A;;FA;;;WD)"},
                   "", env);
    CHECK(set.exit_code == 3);
    CHECK_THAT(set.err, Catch::Contains(link + ": a symbolic link"));
    auto icacls = Run({MKEYS_BINARY, "sd", "import-icacls", (m.dir.path() / "save.txt").string(),
                       "--root", m.root},
                      "", env);
    CHECK(icacls.exit_code == 3);
    CHECK_THAT(icacls.err, Catch::Contains(link));
    auto restore = Run({MKEYS_BINARY, "restore", journal}, "", env);
    CHECK(restore.exit_code == 3);
    CHECK_THAT(restore.err, Catch::Contains(link + ": a symbolic link"));
    CHECK(Tree(outside) == before);
  }
}

TEST_CASE("a key file symlinked outside the root is reported and never written through",
          "[cli][safety][symlink]") {
  mkeys::test::SeedMachine m;
  const std::string journal = RepairJournal(m);
  const fs::path outside = m.dir.path() / "outside";
  fs::create_directories(outside);
  fs::rename(m.keys / m.file, outside / "key");
  fs::create_symlink(outside / "key", m.keys / m.file);
  const auto before = Tree(outside);
  const std::string link = "MachineKeys/" + m.file;

  auto audit = Mkeys({"audit", m.root});
  CHECK(audit.exit_code == 1);
  CHECK_THAT(audit.out, Catch::Contains("MK031") && Catch::Contains(link + ": symbolic link to"));

  WriteSave(m.dir.path() / "save.txt", {"MachineKeys\\" + m.file, "D:PAI(A;;FA;;;WD)"});
  const std::string service = std::string(mkeys::test::kNs) + "=" + mkeys::test::kArrayKey;
  for (const char* walk : {"0", "1"}) {
    INFO("MKEYS_FORCE_OPENAT_WALK=" << walk);
    const auto env = Walk(walk);
    auto repair = Run({MKEYS_BINARY, "repair", m.root, "--service", service, "--apply", "--journal",
                       (m.dir.path() / (std::string("J2-") + walk)).string()},
                      "", env);
    CHECK(repair.exit_code == 1);
    CHECK_THAT(repair.out, Catch::Contains("MK031 " + link));
    // A new container too: nothing is written into a MachineKeys that holds a link.
    auto create = Run({MKEYS_BINARY, "store", "create", m.root, "new key", "--as", "administrator",
                       "--key", "ec:p256"},
                      "", env);
    CHECK(create.exit_code == 3);
    CHECK_THAT(create.err, Catch::Contains(link + ": a symbolic link"));
    CHECK(Mkeys({"store", "open", m.root, "new key", "--as", "administrator"}).exit_code == 1);
    auto set = Run(
        {MKEYS_BINARY, "sd", "set", (m.keys / m.file).string(), "O:SYG:SYD:(A;;FA;;;WD)"}, "", env);
    CHECK(set.exit_code == 3);
    CHECK_THAT(set.err, Catch::Contains(m.file));
    auto icacls = Run({MKEYS_BINARY, "sd", "import-icacls", (m.dir.path() / "save.txt").string(),
                       "--root", m.root},
                      "", env);
    CHECK(icacls.exit_code == 3);
    CHECK_THAT(icacls.err, Catch::Contains(m.file));
    auto restore = Run({MKEYS_BINARY, "restore", journal}, "", env);
    CHECK(restore.exit_code == 3);
    CHECK_THAT(restore.err, Catch::Contains(link + ": a symbolic link"));
    CHECK(Tree(outside) == before);
  }
}

TEST_CASE("a folder symlink inside MachineKeys is reported and never written through",
          "[cli][safety][symlink]") {
  mkeys::test::SeedMachine m;
  const std::string journal = RepairJournal(m);
  REQUIRE(Mkeys({"restore", journal}).exit_code == 0);  // broken again: repair has work to do
  const fs::path outside = m.dir.path() / "outside";
  fs::create_directories(outside / "target");
  fs::create_directory_symlink(outside, m.keys / "evil");
  const auto before = Tree(outside);

  auto audit = Mkeys({"audit", m.root});
  CHECK(audit.exit_code == 1);
  CHECK_THAT(audit.out, Catch::Contains("MK031") && Catch::Contains("MachineKeys/evil"));

  WriteSave(m.dir.path() / "save.txt", {"MachineKeys\\evil\\target", "D:PAI(A;;FA;;;WD)"});
  const std::string service = std::string(mkeys::test::kNs) + "=" + mkeys::test::kArrayKey;
  for (const char* walk : {"0", "1"}) {
    INFO("MKEYS_FORCE_OPENAT_WALK=" << walk);
    const auto env = Walk(walk);
    // The restore comes first: the journal's key file sits next to the link.
    const auto inside = m.Snapshot();
    auto restore = Run({MKEYS_BINARY, "restore", journal}, "", env);
    CHECK(restore.exit_code == 3);
    CHECK_THAT(restore.err, Catch::Contains("MachineKeys/evil: a symbolic link"));
    CHECK(m.Snapshot() == inside);
    // repair fixes what lies beside the link and leaves the link to a person: exit 1.
    auto repair = Run({MKEYS_BINARY, "repair", m.root, "--service", service, "--apply", "--journal",
                       (m.dir.path() / (std::string("J2-") + walk)).string()},
                      "", env);
    CHECK(repair.exit_code == 1);
    CHECK_THAT(repair.out, Catch::Contains("MK031 MachineKeys/evil"));
    auto create = Run({MKEYS_BINARY, "store", "create", m.root, "new key", "--as", "administrator",
                       "--key", "ec:p256"},
                      "", env);
    CHECK(create.exit_code == 3);
    CHECK_THAT(create.err, Catch::Contains("MachineKeys/evil: a symbolic link"));
    CHECK(Mkeys({"store", "open", m.root, "new key", "--as", "administrator"}).exit_code == 1);
    auto set = Run(
        {MKEYS_BINARY, "sd", "set", (m.keys / "evil/target").string(), "O:SYG:SYD:(A;;FA;;;WD)"},
        "", env);
    CHECK(set.exit_code == 3);
    CHECK_THAT(set.err, Catch::Contains("MachineKeys/evil: a symbolic link"));
    auto icacls = Run({MKEYS_BINARY, "sd", "import-icacls", (m.dir.path() / "save.txt").string(),
                       "--root", m.root},
                      "", env);
    CHECK(icacls.exit_code == 3);
    CHECK_THAT(icacls.err, Catch::Contains("MachineKeys/evil"));
    CHECK(Tree(outside) == before);
  }
}

TEST_CASE(
    "cert import never writes a key through a Crypto symlink or into a Keys folder with a link",
    "[cli][safety][symlink][cert]") {
  mkeys::test::TempDir dir;
  const std::string root = (dir.path() / "m").string();
  REQUIRE(Mkeys({"machine", "init", root}).exit_code == 0);
  const fs::path crypto = fs::path(root) / "ProgramData/Microsoft/Crypto";
  const fs::path pem = dir.path() / "site.pem";
  REQUIRE(mkeys::test::WriteSelfSignedPem(pem, "site.example", true));
  const fs::path outside = dir.path() / "outside";

  SECTION("Crypto is a link to a folder outside the root") {
    fs::rename(crypto, outside);
    fs::create_directory_symlink(outside, crypto);
    const auto before = Tree(outside);
    for (const char* provider : {"cng", "capi"}) {
      INFO(provider);
      auto r = Mkeys({"cert", "import", root, pem.string(), "--provider", provider});
      CHECK(r.exit_code == 3);
      CHECK_THAT(r.err, Catch::Contains("ProgramData/Microsoft/Crypto: a symbolic link"));
      CHECK(Tree(outside) == before);
    }
  }
  SECTION("Crypto/Keys holds a link to a file outside the root") {
    REQUIRE(Mkeys({"cert", "import", root, pem.string(), "--provider", "cng"}).exit_code == 0);
    fs::create_directories(outside);
    { std::ofstream(outside / "victim") << "not a key"; }
    fs::create_symlink(outside / "victim", crypto / "Keys/evil");
    const auto before = Tree(outside);
    const auto keys_before = Tree(crypto / "Keys");
    const fs::path pem2 = dir.path() / "other.pem";
    REQUIRE(mkeys::test::WriteSelfSignedPem(pem2, "other.example", false));
    auto r = Mkeys({"cert", "import", root, pem2.string(), "--provider", "cng"});
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err,
               Catch::Contains("Crypto/Keys/evil: a symbolic link") && Catch::Contains("MK031"));
    CHECK(Tree(outside) == before);
    CHECK(Tree(crypto / "Keys") == keys_before);
  }
}
