// SPDX-License-Identifier: GPL-3.0-or-later
// ApplyPlan: the journal, the writes, the read-back; DecodeStep.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "internal/engine.hpp"
#include "internal/journal_writer.hpp"
#include "mkeys/keystore/security_store.hpp"
#include "mkeys/repair/plan.hpp"

namespace mkeys::repair {
namespace {

// 1. The journal: every change, before and after, then the sealed marker; one fsync.
Result<internal::JournalWriter> WriteJournal(const Plan& plan,
                                             const std::filesystem::path& journal) {
  MKEYS_ASSIGN_OR_RETURN(internal::JournalWriter writer, internal::JournalWriter::Create(journal));
  internal::AppendFileHeader(writer.buffer());
  JournalHeader header;
  header.root = plan.root;
  header.machine_guid = plan.machine_guid;
  header.attribute = plan.attribute;
  header.ntfs = plan.ntfs;
  header.planned = plan.steps.size();
  internal::AppendHeaderRecord(writer.buffer(), header);
  for (const auto& step : plan.steps) {
    internal::AppendEntryRecord(writer.buffer(), step.relative_path, *step.before_raw,
                                *step.after_raw);
    MKEYS_TRY(writer.Flush());
  }
  internal::AppendCountRecord(writer.buffer(), internal::RecordType::kSealed, plan.steps.size());
  MKEYS_TRY(writer.Sync());
  return writer;
}

// MKEYS_FAULT_AFTER_N=k: crash tests kill the process after k writes (-1: never).
long FaultAfter() {
  const char* env = std::getenv("MKEYS_FAULT_AFTER_N");
  return env != nullptr && *env != '\0' ? std::atol(env) : -1;
}

// 2. The changes, one attribute write each; on a failure the earlier ones are undone.
Result<void> WriteSteps(keystore::MachineRoot& root, const Plan& plan,
                        const std::filesystem::path& journal, ApplyReport& report) {
  const long fault_after = FaultAfter();
  auto& store = root.writable_security();
  // root + "/" + relative path, as a string: cheaper than path::operator/ per step.
  std::string full_path;
  const auto full = [&](const PlanStep& step) -> std::filesystem::path {
    full_path.assign(plan.root);
    if (full_path.empty() || full_path.back() != '/') full_path += '/';
    full_path += step.relative_path;
    return std::filesystem::path(full_path);
  };
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (fault_after >= 0 && static_cast<long>(i) == fault_after) ::kill(::getpid(), SIGKILL);
    const auto& step = plan.steps[i];
    auto written = store.WriteRaw(full(step), *step.after_raw);
    if (!written) {
      // Undo what this run changed; the journal stays for `mkeys restore` if that fails too.
      for (std::size_t j = i; j-- > 0;) {
        (void)store.WriteRaw(full(plan.steps[j]), *plan.steps[j].before_raw);
      }
      return Error(written.error().code(),
                   fmt::format("{}; the {} change(s) made before were undone (journal: {})",
                               written.error().ToString(), i, journal.string()));
    }
    ++report.applied;
  }
  if (fault_after >= 0 && static_cast<std::size_t>(fault_after) == plan.steps.size()) {
    ::kill(::getpid(), SIGKILL);
  }
  // (An image's store fsyncs the image after every write.)
  const int dfd = root.is_image()
                      ? -1
                      : ::open(root.machine_keys_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::syncfs(dfd);
    ::close(dfd);
  }
  return Ok();
}

bool Contains(const std::vector<RuleId>& rules, RuleId id) {
  return std::find(rules.begin(), rules.end(), id) != rules.end();
}

// 3. Every changed descriptor read back; the fixed rules run again over what changed.
Result<void> Verify(keystore::MachineRoot& root, const Plan& plan, const RepairOptions& options,
                    ApplyReport& report) {
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine,
                         internal::Engine::Create(root, options.baseline));
  const auto& store = root.security();
  internal::DescriptorCache cache(engine, store);
  keystore::RawDescriptorReader reader(std::filesystem::path(plan.root), store);
  bool any_directory = false;  // a directory step was written as planned
  std::vector<Finding> findings;
  for (const auto& step : plan.steps) {
    auto now = reader.Read(step.relative_path);
    if (!now ||
        !std::equal(now->begin(), now->end(), step.after_raw->begin(), step.after_raw->end())) {
      report.mismatched.push_back(step.object);
      continue;
    }
    if (step.is_directory) {
      any_directory = true;
      continue;
    }
    // The fixed rules again, judged once per distinct descriptor written.
    auto& verdict = cache.Get(*now);
    if (!verdict.sd) {
      report.mismatched.push_back(step.object);
      continue;
    }
    findings.clear();
    engine.CheckKeyFileDescriptor(step.object, step.container_name, verdict, findings);
    for (auto& f : findings) {
      if (Contains(step.rules, f.rule)) report.remaining.push_back(std::move(f));
    }
  }
  if (!any_directory) return Ok();
  std::vector<RuleId> dir_rules;
  for (const auto& step : plan.steps) {
    if (step.is_directory) dir_rules.insert(dir_rules.end(), step.rules.begin(), step.rules.end());
  }
  for (auto& f : engine.CheckDirectories(engine.ReadDirectories())) {
    if (Contains(dir_rules, f.rule) && !options.baseline.Accepts(f.rule, f.object)) {
      report.remaining.push_back(std::move(f));
    }
  }
  return Ok();
}

}  // namespace

Result<DecodedStep> DecodeStep(const keystore::MachineRoot& root, const PlanStep& step) {
  const auto& store = root.security();
  auto before = store.DecodeRaw(*step.before_raw);
  if (!before) return Error(before.error()).On(step.object);
  auto after = store.DecodeRaw(*step.after_raw);
  if (!after) return Error(after.error()).On(step.object);
  return DecodedStep{std::move(*before), std::move(*after)};
}

Result<ApplyReport> ApplyPlan(keystore::MachineRoot& root, const Plan& plan,
                              const std::filesystem::path& journal, const RepairOptions& options) {
  ApplyReport report;
  report.journal = journal;
  MKEYS_ASSIGN_OR_RETURN(internal::JournalWriter writer, WriteJournal(plan, journal));
  MKEYS_TRY(WriteSteps(root, plan, journal, report));
  internal::AppendCountRecord(writer.buffer(), internal::RecordType::kCompleted, plan.steps.size());
  MKEYS_TRY(writer.Sync());
  MKEYS_TRY(Verify(root, plan, options, report));
  return report;
}

}  // namespace mkeys::repair
