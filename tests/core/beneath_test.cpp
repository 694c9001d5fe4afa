// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "mkeys/core/beneath.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using mkeys::files::RootDir;

namespace {

// root/a/b/file, root/link-out -> outside (a directory), root/a/file-link -> outside/secret.
struct Tree {
  mkeys::test::TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path outside = tmp.path() / "outside";
  Tree() {
    fs::create_directories(root / "a" / "b");
    fs::create_directories(outside);
    std::ofstream(root / "a" / "b" / "file") << "inside";
    std::ofstream(outside / "secret") << "outside";
    fs::create_directory_symlink(outside, root / "link-out");
    fs::create_symlink(outside / "secret", root / "a" / "file-link");
  }
};

void CheckBothWays(void (*check)(const Tree&)) {
  Tree tree;
  SECTION("openat2 where the kernel has it") {
    ::unsetenv("MKEYS_FORCE_OPENAT_WALK");
    check(tree);
  }
  SECTION("the component walk (forced)") {
    ::setenv("MKEYS_FORCE_OPENAT_WALK", "1", 1);
    check(tree);
    ::unsetenv("MKEYS_FORCE_OPENAT_WALK");
  }
}

}  // namespace

TEST_CASE("paths beneath the root open - symlinks and escapes are refused by name",
          "[core][beneath]") {
  CheckBothWays([](const Tree& tree) {
    auto root = RootDir::Open(tree.root.string());
    REQUIRE(root);
    auto file = root->OpenBeneath("a/b/file", O_RDONLY);
    REQUIRE(file);
    char buf[16] = {};
    CHECK(::read(file->get(), buf, sizeof buf) == 6);

    auto via_link = root->OpenBeneath("link-out/secret", O_RDONLY);
    REQUIRE_FALSE(via_link);
    CHECK(via_link.error().object().value_or("") == "link-out");
    CHECK_THAT(via_link.error().message(), Catch::Contains("symbolic link"));

    auto file_link = root->OpenBeneath("a/file-link", O_RDONLY);
    REQUIRE_FALSE(file_link);
    CHECK(file_link.error().object().value_or("") == "a/file-link");

    CHECK_FALSE(root->OpenBeneath("../outside/secret", O_RDONLY));
    CHECK_FALSE(root->OpenBeneath("a/../../outside/secret", O_RDONLY));
    CHECK_FALSE(root->OpenBeneath("/etc/passwd", O_RDONLY));
    CHECK(root->OpenBeneath("a/../a/b/file", O_RDONLY));

    // Creating through a link never writes outside.
    CHECK_FALSE(root->OpenBeneath("link-out/new", O_WRONLY | O_CREAT | O_EXCL, 0600));
    CHECK_FALSE(fs::exists(tree.outside / "new"));
    CHECK(root->OpenBeneath("a/new", O_WRONLY | O_CREAT | O_EXCL, 0600));
    CHECK(fs::exists(tree.root / "a" / "new"));

    CHECK(root->FirstSymlink("link-out/secret").value() == "link-out");
    CHECK_FALSE(root->FirstSymlink("a/b/file").has_value());
  });
}

TEST_CASE("the lexical check rejects absolute paths and climbs above the start",
          "[core][beneath]") {
  using mkeys::files::StaysBeneath;
  CHECK(StaysBeneath("ProgramData/Microsoft/Crypto"));
  CHECK(StaysBeneath(""));
  CHECK(StaysBeneath("a/../b"));
  CHECK_FALSE(StaysBeneath("../outside"));
  CHECK_FALSE(StaysBeneath("a/../../outside"));
  CHECK_FALSE(StaysBeneath("/abs"));
}
