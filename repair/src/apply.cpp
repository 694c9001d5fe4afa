// SPDX-License-Identifier: GPL-3.0-or-later
// ApplyPlan: the journal, the writes, the read-back; DecodeStep.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "internal/engine.hpp"
#include "internal/journal_writer.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/keystore/security_store.hpp"
#include "mkeys/repair/plan.hpp"

namespace mkeys::repair {
namespace {

// 1. The journal: every change, before and after, then the sealed marker; one fsync.
Result<internal::JournalWriter> WriteJournal(const Plan& plan, const std::filesystem::path& journal,
                                             std::string root_identity,
                                             std::optional<JournalPartition> partition) {
  MKEYS_ASSIGN_OR_RETURN(internal::JournalWriter writer, internal::JournalWriter::Create(journal));
  internal::AppendFileHeader(writer.buffer());
  JournalHeader header;
  header.root = plan.root;
  header.machine_guid = plan.machine_guid;
  header.root_identity = std::move(root_identity);
  header.attribute = plan.attribute;
  header.ntfs = plan.ntfs;
  header.planned = plan.steps.size();
  header.partition = partition;
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

// 0. Every object opened beneath the root before anything is written: a symlink on the way
// (Crypto -> elsewhere, a linked key file) refuses the whole apply, naming the link.
Result<void> CheckBeneath(const files::RootDir& root_dir, const Plan& plan) {
  for (const auto& step : plan.steps) {
    auto fd = root_dir.OpenBeneath(step.relative_path, O_RDONLY | O_NONBLOCK);
    if (!fd) {
      return Error(fd.error().code(), fmt::format("{}; nothing was written", fd.error().ToString()))
          .On(step.object);
    }
  }
  return Ok();
}

// One attribute write through a descriptor opened beneath the root; on a disk image
// (`root_dir` null) through the image's volume, which syncs the image after each write.
Result<void> WriteBeneath(const files::RootDir* root_dir, const keystore::MachineRoot& root,
                          keystore::SecurityStore& store, const std::string& relative,
                          std::span<const std::uint8_t> raw) {
  if (root_dir == nullptr) return store.WriteRaw(root.root() / relative, raw);
  MKEYS_ASSIGN_OR_RETURN(const files::UniqueFd fd,
                         root_dir->OpenBeneath(relative, O_RDONLY | O_NONBLOCK));
  return store.WriteRawFd(fd.get(), relative, raw);
}

// 2. The changes, one attribute write each; on a failure the earlier ones are undone.
Result<void> WriteSteps(keystore::MachineRoot& root, const files::RootDir* root_dir,
                        const Plan& plan, const std::filesystem::path& journal,
                        ApplyReport& report) {
  const long fault_after = FaultAfter();
  auto& store = root.writable_security();
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (fault_after >= 0 && static_cast<long>(i) == fault_after) ::kill(::getpid(), SIGKILL);
    const auto& step = plan.steps[i];
    auto written = WriteBeneath(root_dir, root, store, step.relative_path, *step.after_raw);
    if (!written) {
      // Undo what this run changed; the journal stays for `mkeys restore` if that fails too.
      for (std::size_t j = i; j-- > 0;) {
        (void)WriteBeneath(root_dir, root, store, plan.steps[j].relative_path,
                           *plan.steps[j].before_raw);
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
  if (root_dir != nullptr) ::syncfs(root_dir->fd());
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
  std::optional<files::RootDir> root_dir;
  std::string identity;
  if (root.is_image()) {  // the image file's identity; its volume resolves every path itself
    MKEYS_ASSIGN_OR_RETURN(identity, RootIdentityOf(root.root()));
  } else {
    MKEYS_ASSIGN_OR_RETURN(root_dir, files::RootDir::Open(plan.root));
    MKEYS_TRY(CheckBeneath(*root_dir, plan));
    identity = RootIdentity(root_dir->fd());
  }
  // A disk image: the partition written, so that restore opens that very one.
  std::optional<JournalPartition> partition;
  if (const auto* info = root.image_info()) {
    partition =
        JournalPartition{info->partition.index, info->partition.offset, info->partition.length};
  }
  MKEYS_ASSIGN_OR_RETURN(internal::JournalWriter writer,
                         WriteJournal(plan, journal, std::move(identity), partition));
  MKEYS_TRY(WriteSteps(root, root_dir ? &*root_dir : nullptr, plan, journal, report));
  internal::AppendCountRecord(writer.buffer(), internal::RecordType::kCompleted, plan.steps.size());
  MKEYS_TRY(writer.Sync());
  MKEYS_TRY(Verify(root, plan, options, report));
  return report;
}

}  // namespace mkeys::repair
