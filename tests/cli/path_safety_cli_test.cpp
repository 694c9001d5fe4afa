// SPDX-License-Identifier: GPL-3.0-or-later
// sd import-icacls, sd get and sd set never write outside the machine root: a symlink in a path,
// a --parent that climbs out or an empty --parent refuse before anything is written.
#include <catch2/catch.hpp>

#include <sys/xattr.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/process.hpp"

namespace fs = std::filesystem;
using mkeys::test::Mkeys;
using mkeys::test::Run;

namespace {

// An icacls /save file: UTF-16LE lines, path then SDDL, CRLF.
void WriteSave(const fs::path& file, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\r\n";
  std::ofstream out(file, std::ios::binary);
  for (char c : text) out.put(c).put('\0');
}

std::string Attr(const fs::path& p) {
  char buf[4096];
  const ssize_t n = ::lgetxattr(p.c_str(), "user.NTACL", buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

TEST_CASE("import-icacls refuses a saved path through a symlink and writes nothing",
          "[cli][safety]") {
  mkeys::test::TempDir tmp;
  const auto root = tmp.path() / "root";
  const auto outside = tmp.path() / "outside";
  REQUIRE(Mkeys({"machine", "init", root.string()}).exit_code == 0);
  fs::create_directories(outside / "target");
  const auto mk = root / "ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  fs::create_directory_symlink(outside, mk / "evil");
  const std::string mk_before = Mkeys({"sd", "get", mk.string()}).out;
  const std::string outside_before = Attr(outside / "target");

  WriteSave(tmp.path() / "save.txt",
            {"MachineKeys", "D:PAI(A;;FA;;;WD)", "MachineKeys\\evil\\target", "D:PAI(A;;FA;;;WD)"});
  for (const char* walk : {"0", "1"}) {
    INFO("MKEYS_FORCE_OPENAT_WALK=" << walk);
    auto r = Run({MKEYS_BINARY, "sd", "import-icacls", (tmp.path() / "save.txt").string(), "--root",
                  root.string()},
                 "", {std::string("MKEYS_FORCE_OPENAT_WALK=") + walk});
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Catch::Contains("MachineKeys/evil") && Catch::Contains("symbolic link"));
    // Nothing written: not the outside target, and not the valid first entry either.
    CHECK(Attr(outside / "target") == outside_before);
    CHECK(Mkeys({"sd", "get", mk.string()}).out == mk_before);
  }
}

TEST_CASE("import-icacls refuses a --parent outside the root or empty", "[cli][safety]") {
  mkeys::test::TempDir tmp;
  const auto root = tmp.path() / "root";
  REQUIRE(Mkeys({"machine", "init", root.string()}).exit_code == 0);
  fs::create_directories(tmp.path() / "outside" / "MachineKeys");
  WriteSave(tmp.path() / "save.txt", {"MachineKeys", "D:PAI(A;;FA;;;WD)"});
  const std::string save = (tmp.path() / "save.txt").string();
  auto up = Mkeys({"sd", "import-icacls", save, "--root", root.string(), "--parent", "../outside"});
  CHECK(up.exit_code == 3);
  CHECK_THAT(up.err, Catch::Contains("leaves the machine root"));
  CHECK(Attr(tmp.path() / "outside" / "MachineKeys") == "<none>");
  auto empty = Mkeys({"sd", "import-icacls", save, "--root", root.string(), "--parent", ""});
  CHECK(empty.exit_code == 2);
  CHECK_THAT(empty.err, Catch::Contains("--parent is empty"));
  // The same file applies where it should.
  auto ok = Mkeys({"sd", "import-icacls", save, "--root", root.string()});
  CHECK(ok.exit_code == 0);
  CHECK(
      Mkeys({"sd", "get", (root / "ProgramData/Microsoft/Crypto/RSA/MachineKeys").string()}).out ==
      "O:SYG:SYD:PAI(A;;FA;;;WD)\n");
}

TEST_CASE("sd get and sd set stay beneath the machine root above the path", "[cli][safety]") {
  mkeys::test::TempDir tmp;
  const auto root = tmp.path() / "root";
  const auto outside = tmp.path() / "outside";
  REQUIRE(Mkeys({"machine", "init", root.string()}).exit_code == 0);
  fs::create_directories(outside / "dir");
  const auto crypto = root / "ProgramData/Microsoft/Crypto";
  // Crypto replaced by a link to a folder outside the root.
  fs::rename(crypto, tmp.path() / "crypto-moved");
  fs::create_directory_symlink(outside, crypto);
  for (const char* walk : {"0", "1"}) {
    INFO("MKEYS_FORCE_OPENAT_WALK=" << walk);
    const std::vector<std::string> env = {std::string("MKEYS_FORCE_OPENAT_WALK=") + walk};
    auto set = Run({MKEYS_BINARY, "sd", "set", (crypto / "dir").string(), "O:SYG:SYD:(A;;FA;;;WD)"},
                   "", env);
    CHECK(set.exit_code == 3);
    CHECK_THAT(set.err, Catch::Contains("ProgramData/Microsoft/Crypto: a symbolic link"));
    CHECK(Attr(outside / "dir") == "<none>");
    auto get = Run({MKEYS_BINARY, "sd", "get", (crypto / "dir").string()}, "", env);
    CHECK(get.exit_code == 3);
  }
  // Outside any machine root: said so, exit 3.
  auto lone = Mkeys({"sd", "get", (outside / "dir").string()});
  CHECK(lone.exit_code == 3);
  CHECK_THAT(lone.err, Catch::Contains("not under a machine root"));
}
