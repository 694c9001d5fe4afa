// SPDX-License-Identifier: GPL-3.0-or-later
// An auditor that may not read a key file (run as `nobody`) is told so (MK030, "cannot read
// (permission denied)"), never that the key is corrupt or should be re-created; the summary
// counts the file as unchecked and the audit exits non-zero. Staging leftovers, subfolders and
// hard-linked key files in MachineKeys are reported (MK032, MK033).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/repair_cli_support.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using mkeys::test::Mkeys;
using mkeys::test::Run;

TEST_CASE("as nobody an unreadable key file is unchecked and not called corrupt",
          "[cli][audit][unreadable]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root to create the store and run the audit as nobody (setpriv)");
    return;
  }
  mkeys::test::SeedMachine m;
  // Everything readable to others except one key file.
  REQUIRE(Run({"chmod", "-R", "a+rX", m.dir.path().string()}).exit_code == 0);
  fs::permissions(m.keys / m.file, fs::perms::owner_read | fs::perms::owner_write);
  const std::vector<std::string> as_nobody = {"setpriv", "--reuid=nobody", "--regid=nogroup",
                                              "--clear-groups", MKEYS_BINARY};
  auto cmd = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = as_nobody;
    argv.insert(argv.end(), args.begin(), args.end());
    return Run(argv);
  };
  auto text = cmd({"audit", m.root});
  CHECK(text.exit_code == 1);
  CHECK_THAT(text.out,
             Catch::Contains("MK030") &&
                 Catch::Contains("MachineKeys/" + m.file + ": cannot read (permission denied)"));
  CHECK_THAT(text.out, Catch::Contains("1 object(s) could not be read and were not checked"));
  CHECK(text.out.find("MK010") == std::string::npos);
  CHECK(text.out.find("re-create") == std::string::npos);
  // Not readable is not "no descriptor" either.
  CHECK(text.out.find("MK016") == std::string::npos);

  auto json = cmd({"--json", "audit", m.root, "--fail-on", "error"});
  CHECK(json.exit_code == 1);
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["unchecked"] == 1);
  // As root, the same store has nothing unreadable.
  auto root_audit = Mkeys({"--json", "audit", m.root});
  CHECK(nlohmann::json::parse(root_audit.out)["unchecked"] == 0);
}

TEST_CASE("staging leftovers subfolders and hard-linked key files in MachineKeys are reported",
          "[cli][audit]") {
  mkeys::test::SeedMachine m;
  std::ofstream(m.keys / ".mkeys-staging-0123456789abcdef") << "a key copy";
  fs::create_directory(m.keys / "hidden");
  fs::create_hard_link(m.keys / m.file, m.dir.path() / "second-name");
  auto audit = Mkeys({"audit", m.root});
  CHECK(audit.exit_code == 1);
  CHECK_THAT(audit.out, Catch::Contains("MK032") &&
                            Catch::Contains("MachineKeys/.mkeys-staging-0123456789abcdef: staging "
                                            "file of an interrupted key creation"));
  CHECK_THAT(audit.out, Catch::Contains("MachineKeys/hidden: subfolder in MachineKeys"));
  CHECK_THAT(audit.out, Catch::Contains("MK033") &&
                            Catch::Contains("MachineKeys/" + m.file + ": 2 hard links"));
}
