// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys restore` writes only into the machine the journal was written on, and only valid
// descriptors: a journal whose root was changed, another machine's root, or "before" bytes that
// are not a descriptor (with a valid checksum) are refused with exit 3 and nothing changes;
// --dry-run prints the plan and changes nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/repair_cli_support.hpp"
#include "mkeys/repair/journal.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using mkeys::test::Mkeys;

namespace {

struct Repaired {
  mkeys::test::SeedMachine m;
  std::map<std::string, std::string> broken;  // before the repair
  std::map<std::string, std::string> fixed;   // after it
  std::string journal;

  Repaired() {
    broken = m.Snapshot();
    journal = (m.dir.path() / "J").string();
    const std::string service = std::string(mkeys::test::kNs) + "=" + mkeys::test::kArrayKey;
    REQUIRE(Mkeys({"repair", m.root, "--service", service, "--apply", "--journal", journal})
                .exit_code == 0);
    fixed = m.Snapshot();
    REQUIRE(fixed != broken);
  }

  // The journal with `edit` applied, re-encoded (every record's checksum valid), as a file.
  template <typename Edit>
  std::string Edited(const std::string& name, Edit edit) const {
    auto j = mkeys::repair::ReadJournal(journal);
    REQUIRE(j);
    edit(*j);
    const auto bytes = mkeys::repair::EncodeJournal(*j);
    const auto path = m.dir.path() / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }
};

}  // namespace

TEST_CASE("restore refuses a journal whose root names another machine", "[restore][safety]") {
  Repaired r;
  const auto other = r.m.dir.path() / "other";
  REQUIRE(Mkeys({"machine", "init", other.string()}).exit_code == 0);
  const std::string other_guid = [&] {
    auto show = Mkeys({"--json", "machine", "show", other.string()});
    REQUIRE(show.exit_code == 0);
    const auto at = show.out.find("\"machine_guid\"");
    REQUIRE(at != std::string::npos);
    const auto start = show.out.find('"', show.out.find(':', at)) + 1;
    return show.out.substr(start, show.out.find('"', start) - start);
  }();
  const std::string other_before = Mkeys({"sd", "get", (other / "ProgramData").string()}).out;

  // The root field pointed at another machine.
  const auto moved =
      r.Edited("moved.journal", [&](mkeys::repair::Journal& j) { j.header.root = other.string(); });
  auto refused = Mkeys({"restore", moved});
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.err, Catch::Contains(mkeys::test::kSeedGuid) && Catch::Contains(other_guid));
  // --root naming another machine explicitly: refused the same way.
  auto explicit_other = Mkeys({"restore", r.journal, "--root", other.string()});
  CHECK(explicit_other.exit_code == 3);
  CHECK_THAT(explicit_other.err,
             Catch::Contains(mkeys::test::kSeedGuid) && Catch::Contains(other_guid));
  // The root field pointed at a folder that is no machine root.
  const auto plain = r.m.dir.path() / "plain";
  fs::create_directories(plain);
  const auto nowhere =
      r.Edited("plain.journal", [&](mkeys::repair::Journal& j) { j.header.root = plain.string(); });
  auto not_root = Mkeys({"restore", nowhere});
  CHECK(not_root.exit_code == 3);
  CHECK_THAT(not_root.err, Catch::Contains("not a machine root"));
  CHECK(fs::is_empty(plain));
  CHECK(r.m.Snapshot() == r.fixed);
  CHECK(Mkeys({"sd", "get", (other / "ProgramData").string()}).out == other_before);
}

TEST_CASE("restore into a copy of the root needs --root and the same MachineGuid",
          "[restore][safety]") {
  Repaired r;
  const auto copy = r.m.dir.path() / "copy";
  REQUIRE(mkeys::test::Run({"cp", "-a", r.m.root, copy.string()}).exit_code == 0);
  // The journal's root field edited to name the copy: not the directory the repair wrote into.
  const auto edited =
      r.Edited("copy.journal", [&](mkeys::repair::Journal& j) { j.header.root = copy.string(); });
  const auto keys = copy / "ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  const std::string fixed_sd = Mkeys({"sd", "get", keys.string()}).out;
  auto refused = Mkeys({"restore", edited});
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.err, Catch::Contains("not the directory the repair wrote into"));
  CHECK(Mkeys({"sd", "get", keys.string()}).out == fixed_sd);
  // Named explicitly, with the journal's MachineGuid: restored there, the original untouched.
  auto ok = Mkeys({"restore", r.journal, "--root", copy.string()});
  CHECK(ok.exit_code == 0);
  CHECK(Mkeys({"sd", "get", keys.string()}).out == "O:SYG:SYD:PAI(A;;FA;;;BA)\n");
  CHECK(r.m.Snapshot() == r.fixed);
}

TEST_CASE("restore refuses before bytes that are no descriptor and writes nothing",
          "[restore][safety]") {
  Repaired r;
  const auto garbage = r.Edited("garbage.journal", [](mkeys::repair::Journal& j) {
    REQUIRE(j.entries.size() == 2u);
    j.entries.back().before = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};
  });
  auto refused = Mkeys({"restore", garbage});
  CHECK(refused.exit_code == 3);
  CHECK_THAT(refused.err, Catch::Contains("not a valid descriptor"));
  CHECK_THAT(refused.err, Catch::Contains("nothing written"));
  CHECK(r.m.Snapshot() == r.fixed);
  auto dry = Mkeys({"restore", garbage, "--dry-run"});
  CHECK(dry.exit_code == 3);
}

TEST_CASE("restore --dry-run prints the plan and changes nothing", "[restore]") {
  Repaired r;
  auto dry = Mkeys({"restore", r.journal, "--dry-run"});
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::Contains("Would restore 2 descriptor(s)"));
  CHECK_THAT(dry.out,
             Catch::Contains("restore ProgramData/Microsoft/Crypto/RSA/MachineKeys/" + r.m.file));
  CHECK(r.m.Snapshot() == r.fixed);
  auto json = Mkeys({"--json", "restore", r.journal, "--dry-run"});
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"dry_run\": true") && Catch::Contains("\"actions\""));
  CHECK(r.m.Snapshot() == r.fixed);
  // The real restore then puts back exactly the bytes before the repair.
  auto restore = Mkeys({"restore", r.journal});
  CHECK(restore.exit_code == 0);
  CHECK(r.m.Snapshot() == r.broken);
}
