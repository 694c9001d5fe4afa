// SPDX-License-Identifier: GPL-3.0-or-later
// Each rule against a model machine damaged on purpose: the audit reports it with its ID and
// evidence, and the plan fixes exactly what the rule needs.
#include <sys/xattr.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "mkeys/repair/audit.hpp"
#include "mkeys/repair/plan.hpp"
#include "repair/model_machine.hpp"

using namespace mkeys;
using namespace mkeys::repair;
using test::ModelMachine;

namespace {

const RuleResult* Find(const AuditReport& report, RuleId id) {
  for (const auto& r : report.results) {
    if (r.rule == id) return &r;
  }
  return nullptr;
}

AuditReport Audit(ModelMachine& m, Baseline baseline = {}) {
  AuditOptions options;
  options.baseline = std::move(baseline);
  const keystore::MachineRoot& root = m.root();
  auto report = RunAudit(root, options);
  REQUIRE(report);
  return std::move(*report);
}

Baseline Service(const std::string& identity, const std::string& glob) {
  Baseline b;
  b.services.push_back({identity, glob});
  return b;
}

Plan PlanFor(ModelMachine& m, Baseline baseline = {}, std::vector<RuleId> rules = {}) {
  RepairOptions options;
  options.baseline = std::move(baseline);
  options.only_rules = std::move(rules);
  auto plan = BuildPlan(m.root(), options);
  REQUIRE(plan);
  return std::move(*plan);
}

std::string AfterSddl(ModelMachine& m, const PlanStep& step) {
  auto sds = DecodeStep(m.root(), step);
  REQUIRE(sds);
  return acl::FormatSddl(sds->after);
}

}  // namespace

TEST_CASE("a default machine with CSP-created containers has no findings", "[repair][rules]") {
  ModelMachine m;
  m.Create("a", "SYSTEM");
  m.Create("b", "administrator");
  m.Create("c", "NT AUTHORITY\\NETWORK SERVICE");
  const auto report = Audit(m, Service("NT AUTHORITY\\NETWORK SERVICE", "c"));
  CHECK(report.key_files == 3u);
  CHECK(report.results.empty());
  CHECK(PlanFor(m, Service("NT AUTHORITY\\NETWORK SERVICE", "c")).empty());
}

TEST_CASE("MK001: Everyone's folder rights removed - the fix restores the Windows default",
          "[repair][rules]") {
  ModelMachine m;
  m.SetFolder("O:SYG:SYD:PAI(A;;FA;;;BA)");
  const auto report = Audit(m);
  const auto* r = Find(report, RuleId::kFolderEveryoneMissing);
  REQUIRE(r);
  CHECK(r->count == 1u);
  CHECK(r->examples[0].object == "ProgramData/Microsoft/Crypto/RSA/MachineKeys");
  CHECK(report.HasFindingAtOrAbove(Severity::kError));
  const auto plan = PlanFor(m);
  REQUIRE(plan.steps.size() == 1u);
  CHECK(AfterSddl(m, plan.steps[0]) == "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)");
}

TEST_CASE("MK002 and MK003: extra inheritable ACEs and lost protection on MachineKeys",
          "[repair][rules]") {
  ModelMachine m;
  m.SetFolder("O:SYG:SYD:AI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;OICI;FA;;;BU)(A;OICIID;FA;;;SY)");
  const auto report = Audit(m);
  REQUIRE(Find(report, RuleId::kFolderDiffersFromDefault));
  REQUIRE(Find(report, RuleId::kFolderProtectionLost));
  CHECK(Find(report, RuleId::kFolderEveryoneMissing) == nullptr);
  const auto plan = PlanFor(m);
  REQUIRE(plan.steps.size() == 1u);
  CHECK(AfterSddl(m, plan.steps[0]) == "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)");
}

TEST_CASE("MK004: a declared service cannot read its container - the fix adds one ACE",
          "[repair][rules]") {
  ModelMachine m;
  const auto file = m.Create("TMG array key", "SYSTEM");
  m.Create("unrelated", "SYSTEM");
  const auto report = Audit(m, Service("NT AUTHORITY\\NETWORK SERVICE", "TMG*"));
  const auto* r = Find(report, RuleId::kServiceCannotRead);
  REQUIRE(r);
  REQUIRE(r->count == 1u);
  CHECK(r->examples[0].object == "MachineKeys/" + file);
  CHECK(r->examples[0].evidence.find("no ACE grants NETWORK SERVICE read") != std::string::npos);
  const auto plan = PlanFor(m, Service("NT AUTHORITY\\NETWORK SERVICE", "TMG*"));
  REQUIRE(plan.steps.size() == 1u);
  CHECK(plan.steps[0].object == "MachineKeys/" + file);
  CHECK(AfterSddl(m, plan.steps[0]) == "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;NS)");
  // Without the declaration nothing is wrong with it.
  CHECK(Find(Audit(m), RuleId::kServiceCannotRead) == nullptr);
}

TEST_CASE("MK005: a deny ACE hits the declared identity - the fix removes it", "[repair][rules]") {
  ModelMachine m;
  const auto file = m.Create("svc", "SYSTEM");
  m.SetFile(file, "O:SYG:SYD:P(D;;FR;;;WD)(A;;FA;;;SY)(A;;FR;;;NS)");
  const auto report = Audit(m, Service("NETWORK SERVICE", "svc"));
  REQUIRE(Find(report, RuleId::kDenyHitsService));
  const auto* cannot = Find(report, RuleId::kServiceCannotRead);
  REQUIRE(cannot);
  CHECK(cannot->examples[0].evidence.find("denies NETWORK SERVICE read") != std::string::npos);
  const auto plan = PlanFor(m, Service("NETWORK SERVICE", "svc"));
  REQUIRE(plan.steps.size() == 1u);
  CHECK(AfterSddl(m, plan.steps[0]) == "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
}

TEST_CASE("MK006: unexpected and unresolvable owners", "[repair][rules]") {
  ModelMachine m;
  const auto a = m.Create("a");
  const auto b = m.Create("b");
  m.Create("by-admin", "administrator");  // the machine's Administrator account: expected
  m.SetFile(a, "O:BGG:SYD:P(A;;FA;;;SY)");
  m.SetFile(b, "O:S-1-5-21-1-2-3-1107G:SYD:P(A;;FA;;;SY)");
  const auto report = Audit(m);
  const auto* r = Find(report, RuleId::kUnexpectedOwner);
  REQUIRE(r);
  REQUIRE(r->count == 2u);
  std::string all;
  for (const auto& f : r->examples) all += f.evidence + "\n";
  CHECK(all.find("BUILTIN\\Guests is not SYSTEM") != std::string::npos);
  CHECK(all.find("S-1-5-21-1-2-3-1107 cannot be resolved") != std::string::npos);
  const auto plan = PlanFor(m, {}, {RuleId::kUnexpectedOwner});
  REQUIRE(plan.steps.size() == 2u);
  for (const auto& s : plan.steps) CHECK(AfterSddl(m, s) == "O:SYG:SYD:P(A;;FA;;;SY)");
}

TEST_CASE("MK007: non-canonical ACE order is reported and reordered", "[repair][rules]") {
  ModelMachine m;
  const auto f = m.Create("x");
  m.SetFile(f, "O:SYG:SYD:P(A;;FA;;;SY)(D;;FA;;;BG)");
  const auto report = Audit(m);
  const auto* r = Find(report, RuleId::kNonCanonicalOrder);
  REQUIRE(r);
  CHECK(r->examples[0].evidence.find("ACE #1 (D;;FA;;;BG)") != std::string::npos);
  const auto plan = PlanFor(m);
  REQUIRE(plan.steps.size() == 1u);
  CHECK(AfterSddl(m, plan.steps[0]) == "O:SYG:SYD:P(D;;FA;;;BG)(A;;FA;;;SY)");
}

TEST_CASE("MK008/MK009/MK010/MK017: cloned, misnamed, corrupt and stray files", "[repair][rules]") {
  ModelMachine m;
  const auto cloned = m.Create("cloned");
  const auto moved = keystore::ContainerFileName("cloned", test::kOtherGuid);
  std::filesystem::rename(m.keys() / cloned, m.keys() / moved);
  const auto misnamed = m.Create("misnamed");
  const auto wrong = keystore::ContainerFileName("something else", test::kGuid);
  std::filesystem::rename(m.keys() / misnamed, m.keys() / wrong);
  const auto empty = m.Create("empty");
  std::filesystem::resize_file(m.keys() / empty, 0);
  const auto cut = m.Create("cut");
  std::filesystem::resize_file(m.keys() / cut, 30);
  std::ofstream(m.keys() / "desktop.ini") << "[.ShellClassInfo]\n";
  m.SetFile("desktop.ini", "O:SYG:SYD:P(A;;FA;;;SY)");

  const auto report = Audit(m);
  const auto* foreign = Find(report, RuleId::kForeignMachineGuid);
  REQUIRE(foreign);
  CHECK(foreign->examples[0].object == "MachineKeys/" + moved);
  CHECK(foreign->examples[0].evidence.find(test::kOtherGuid) != std::string::npos);
  const auto* hash = Find(report, RuleId::kNameHashMismatch);
  REQUIRE(hash);
  CHECK(hash->examples[0].evidence.find("\"misnamed\"") != std::string::npos);
  const auto* corrupt = Find(report, RuleId::kCorruptContainer);
  REQUIRE(corrupt);
  CHECK(corrupt->count == 2u);
  std::string texts;
  for (const auto& f : corrupt->examples) texts += f.evidence + "\n";
  CHECK(texts.find("zero-length") != std::string::npos);
  CHECK(texts.find("offset") != std::string::npos);
  REQUIRE(Find(report, RuleId::kNotAContainerName));
  // No descriptor change fixes these: the plan lists them for a person.
  const auto plan = PlanFor(m);
  CHECK(plan.steps.empty());
  CHECK(plan.unfixable_total == 5u);
}

TEST_CASE("MK011 and MK012: inherited ACEs and key files open to everyone", "[repair][rules]") {
  ModelMachine m;
  const auto inherited = m.Create("inh");
  m.SetFile(inherited, "O:SYG:SYD:AI(A;;FA;;;SY)(A;ID;FA;;;BA)");
  const auto open = m.Create("open");
  m.SetFile(open, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;WD)(A;;FW;;;BU)");
  const auto report = Audit(m);
  REQUIRE(Find(report, RuleId::kInheritedAcesOnKeyFile));
  const auto* too_open = Find(report, RuleId::kKeyFileTooOpen);
  REQUIRE(too_open);
  CHECK(too_open->count == 2u);
  const auto plan = PlanFor(m);
  REQUIRE(plan.steps.size() == 2u);
  std::map<std::string, std::string> after;
  for (const auto& s : plan.steps) after[s.object] = AfterSddl(m, s);
  CHECK(after["MachineKeys/" + inherited] == "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)");
  CHECK(after["MachineKeys/" + open] == "O:SYG:SYD:P(A;;FA;;;SY)");
}

TEST_CASE("MK013 and MK014: SeChangeNotifyPrivilege removed and traversal denied",
          "[repair][rules]") {
  ModelMachine m;
  m.Create("svc", "NT AUTHORITY\\NETWORK SERVICE");
  // Hardening took the privilege from everyone but Administrators.
  m.SetChangeNotifyHolders({"S-1-5-32-544"});
  const auto report = Audit(m);
  const auto* privilege = Find(report, RuleId::kChangeNotifyRemoved);
  REQUIRE(privilege);
  CHECK(privilege->examples[0].evidence.find("NT AUTHORITY\\NETWORK SERVICE") != std::string::npos);
  const auto* traverse = Find(report, RuleId::kTraverseDenied);
  REQUIRE(traverse);
  // Users may traverse ProgramData...RSA; MachineKeys grants Everyone no FILE_TRAVERSE.
  CHECK(traverse->examples[0].object == "ProgramData/Microsoft/Crypto/RSA/MachineKeys");
  CHECK(traverse->examples[0].evidence.find("does not hold SeChangeNotifyPrivilege") !=
        std::string::npos);
  const auto plan = PlanFor(m, {}, {RuleId::kTraverseDenied});
  REQUIRE(plan.steps.size() == 1u);
  CHECK(AfterSddl(m, plan.steps[0]) ==
        "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;;0x100020;;;NS)(A;;0x100020;;;LS)");
}

TEST_CASE("MK015 and MK016: container count threshold and unreadable descriptors",
          "[repair][rules]") {
  ModelMachine m;
  m.Create("one");
  const auto two = m.Create("two");
  REQUIRE(::removexattr((m.keys() / two).c_str(), "user.NTACL") == 0);
  Baseline baseline;
  baseline.thresholds.max_containers = 1;
  const auto report = Audit(m, baseline);
  REQUIRE(Find(report, RuleId::kTooManyContainers));
  const auto* unreadable = Find(report, RuleId::kDescriptorUnreadable);
  REQUIRE(unreadable);
  CHECK(unreadable->examples[0].object == "MachineKeys/" + two);
}

TEST_CASE("the baseline accepts deviations: counted, not reported, not repaired",
          "[repair][rules][baseline]") {
  ModelMachine m;
  const auto open = m.Create("open");
  m.SetFile(open, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;WD)");
  auto baseline = ParseBaseline(R"({"version": 1, "accept": [{"rule": "MK012",
      "object": "MachineKeys/*", "reason": "vendor requirement"}]})");
  REQUIRE(baseline);
  const auto report = Audit(m, *baseline);
  const auto* r = Find(report, RuleId::kKeyFileTooOpen);
  REQUIRE(r);
  CHECK(r->count == 0u);
  CHECK(r->accepted == 1u);
  CHECK_FALSE(report.HasFindingAtOrAbove(Severity::kNote));
  CHECK(PlanFor(m, *baseline).empty());
}
