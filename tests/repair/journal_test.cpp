// SPDX-License-Identifier: GPL-3.0-or-later
// The journal format, apply with a journal, and restore byte for byte.
#include <catch2/catch.hpp>
#include <fstream>

#include "mkeys/repair/journal.hpp"
#include "mkeys/repair/plan.hpp"
#include "repair/model_machine.hpp"

using namespace mkeys;
using namespace mkeys::repair;
using test::ModelMachine;

namespace {
Journal Sample() {
  Journal j;
  j.header.root = "/tmp/root";
  j.header.machine_guid = test::kGuid;
  j.header.attribute = "user.NTACL";
  j.header.planned = 2;
  j.header.created = "2024-01-01T00:00:00Z";
  j.entries.push_back({"ProgramData/x", {1, 2, 3}, {4, 5}});
  j.entries.push_back({"ProgramData/y", {}, {9}});
  j.sealed = true;
  j.completed = true;
  return j;
}
}  // namespace

TEST_CASE("CRC-32 matches the IEEE check value", "[repair][journal]") {
  const std::string text = "123456789";
  CHECK(Crc32({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}) == 0xCBF43926u);
}

TEST_CASE("journals round-trip - a torn tail is reported, corruption is an error with its offset",
          "[repair][journal]") {
  const auto bytes = EncodeJournal(Sample());
  auto decoded = DecodeJournal(bytes);
  REQUIRE(decoded);
  CHECK(decoded->entries.size() == 2u);
  CHECK(decoded->entries[0].before == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(decoded->entries[1].after == std::vector<std::uint8_t>{9});
  CHECK(decoded->sealed);
  CHECK(decoded->completed);
  CHECK_FALSE(decoded->torn_tail);

  // Every truncation decodes (torn) or fails cleanly; never crashes.
  std::size_t torn = 0;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto cut = DecodeJournal(std::span<const std::uint8_t>(bytes.data(), n));
    if (cut) {
      CHECK_FALSE(cut->completed);  // only the whole journal carries the completion marker
      if (cut->torn_tail) {
        ++torn;
        CHECK(cut->torn_tail->find("torn record at offset") != std::string::npos);
      }
    } else {
      CHECK(cut.error().position().has_value());
    }
  }
  CHECK(torn > bytes.size() / 2);
  // A flipped byte inside a record: checksum mismatch at that record's offset.
  auto flipped = bytes;
  flipped[40] ^= 0x01;
  auto bad = DecodeJournal(flipped);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == ErrorCode::kCorrupt);
  CHECK(bad.error().position() == 16u);
  CHECK(bad.error().message().find("checksum") != std::string::npos);
  // Not a journal at all.
  const std::vector<std::uint8_t> junk(64, 0x41);
  auto not_journal = DecodeJournal(junk);
  REQUIRE_FALSE(not_journal);
  CHECK(not_journal.error().message().find("magic") != std::string::npos);
}

TEST_CASE("journal entries with unsafe paths are rejected", "[repair][journal]") {
  auto j = Sample();
  j.entries[1].relative_path = "ProgramData/../../etc/passwd";
  auto decoded = DecodeJournal(EncodeJournal(j));
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().message().find("unsafe path") != std::string::npos);
}

TEST_CASE("apply writes the journal first, fixes, verifies - restore is byte for byte",
          "[repair][apply]") {
  ModelMachine m;
  const auto file = m.Create("TMG array key", "NT AUTHORITY\\NETWORK SERVICE");
  const auto other = m.Create("other", "administrator");
  m.SetFolder("O:SYG:SYD:PAI(A;;FA;;;BA)");
  m.SetFile(file, "O:SYG:SYD:P(A;;FA;;;SY)");
  const auto before = m.Snapshot();

  RepairOptions options;
  options.baseline.services.push_back({"NT AUTHORITY\\NETWORK SERVICE", "TMG array key"});
  auto plan = BuildPlan(m.root(), options);
  REQUIRE(plan);
  REQUIRE(plan->steps.size() == 2u);
  const test::TempDir jdir;
  const auto journal = jdir.path() / "j";
  auto applied = ApplyPlan(m.root(), *plan, journal, options);
  REQUIRE(applied);
  CHECK(applied->applied == 2u);
  CHECK(applied->remaining.empty());
  CHECK(applied->mismatched.empty());
  CHECK(m.Sddl(m.keys()) == "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)");
  CHECK(m.Sddl(m.keys() / file) == "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  const auto after = m.Snapshot();
  // Nothing else changed.
  std::size_t changed = 0;
  for (const auto& [path, bytes] : before) changed += after.at(path) != bytes ? 1 : 0;
  CHECK(changed == 2u);
  CHECK(after.at((m.keys() / other).string()) == before.at((m.keys() / other).string()));
  // A second plan is empty: the fixes are idempotent.
  CHECK(BuildPlan(m.root(), options)->empty());
  // The journal exists: a second apply to it refuses.
  CHECK(ApplyPlan(m.root(), *plan, journal, options).error().code() == ErrorCode::kExists);

  auto j = ReadJournal(journal);
  REQUIRE(j);
  CHECK(j->sealed);
  CHECK(j->completed);
  CHECK(j->entries.size() == 2u);
  auto restored = RestoreJournal(journal);
  REQUIRE(restored);
  CHECK(restored->restored == 2u);
  CHECK(m.Snapshot() == before);
  // Restoring again changes nothing.
  auto again = RestoreJournal(journal);
  REQUIRE(again);
  CHECK(again->restored == 0u);
  CHECK(again->unchanged == 2u);
}

TEST_CASE("emit icacls takes ownership first and grants NETWORK SERVICE read on the file",
          "[repair][emit]") {
  ModelMachine m;
  const auto file = m.Create("TMG array key", "NT AUTHORITY\\NETWORK SERVICE");
  m.SetFolder("O:SYG:SYD:PAI(A;;FA;;;BA)");
  m.SetFile(file, "O:SYG:SYD:P(A;;FA;;;SY)");
  RepairOptions options;
  options.baseline.services.push_back({"NT AUTHORITY\\NETWORK SERVICE", "TMG array key"});
  auto plan = BuildPlan(m.root(), options);
  REQUIRE(plan);
  auto script = EmitIcaclsScript(m.root(), *plan);
  REQUIRE(script);
  const std::string path = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys\\" + file;
  // The first command (after @echo and REM lines) is the ownership step for the key file.
  std::istringstream lines(*script);
  std::string line, first;
  while (std::getline(lines, line)) {
    if (line.rfind("REM", 0) == 0 || line.rfind("@echo", 0) == 0) continue;
    first = line;
    break;
  }
  CHECK(first == "takeown /F \"" + path + "\" /A");
  CHECK(script->find("icacls \"" + path + "\" /grant \"NT AUTHORITY\\NETWORK SERVICE:(R)\"") !=
        std::string::npos);
  CHECK(script->find("/setowner \"NT AUTHORITY\\SYSTEM\"") > script->find("/grant"));
  // MachineKeys: Administrators hold full control, so no ownership step there.
  CHECK(script->find("takeown /F \"C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys\" ") ==
        std::string::npos);
  auto ps = EmitPowershellScript(m.root(), *plan);
  REQUIRE(ps);
  CHECK(ps->find("SetSecurityDescriptorSddlForm('D:P(A;;FA;;;SY)(A;;FR;;;NS)', 'Access')") !=
        std::string::npos);
}

TEST_CASE("baseline files: the documented example parses - errors say where",
          "[repair][baseline]") {
  std::ifstream in(std::string(MKEYS_SOURCE_DIR) + "/docs/baseline.example.json");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  auto example = ParseBaseline(text.str());
  REQUIRE(example);
  CHECK_FALSE(example->services.empty());
  CHECK_FALSE(example->accepted.empty());
  auto bad_json = ParseBaseline("{\"services\": [}");
  REQUIRE_FALSE(bad_json);
  CHECK(bad_json.error().position().has_value());
  auto bad_rule = ParseBaseline(R"({"accept": [{"rule": "MK999"}]})");
  REQUIRE_FALSE(bad_rule);
  CHECK(bad_rule.error().message().find("accept[0].rule") != std::string::npos);
  auto unknown = ParseBaseline(R"({"servics": []})");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message().find("servics") != std::string::npos);
  CHECK(GlobMatch("TMG*", "tmg array key"));
  CHECK_FALSE(GlobMatch("TMG?", "TMG12"));
}
