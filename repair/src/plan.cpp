// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/plan.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "internal/engine.hpp"
#include "internal/journal_writer.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::repair {
namespace {

constexpr std::size_t kUnfixableCap = 1000;

std::vector<std::uint8_t> EncodeFor(const keystore::ReadOnlySecurityStore& store,
                                    const acl::SecurityDescriptor& sd) {
  if (store.backend() == keystore::SecurityBackend::kNtfs3g) return sd.Encode();
  return keystore::EncodeNtaclV1(sd);
}

std::string WhyText(const std::vector<Finding>& findings, std::string_view object,
                    const std::vector<RuleId>& rules) {
  std::string why;
  for (RuleId id : rules) {
    bool any = false;
    for (const auto& f : findings) {
      if (f.rule == id && f.object == object) {
        why += fmt::format("{}{}: {}", why.empty() ? "" : "\n", Rule(id).code, f.evidence);
        any = true;
      }
    }
    if (!any)
      why += fmt::format("{}{}: {}", why.empty() ? "" : "\n", Rule(id).code, Rule(id).title);
  }
  return why;
}

struct WorkerOut {
  std::vector<PlanStep> steps;
  std::vector<Finding> unfixable;
  std::uint64_t unfixable_total = 0;
};

}  // namespace

Result<Plan> BuildPlan(const keystore::MachineRoot& root, const RepairOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine,
                         internal::Engine::Create(root, options.baseline));
  const internal::RuleSet rules = internal::RulesFrom(options.only_rules);
  const auto& store = root.security();
  Plan plan;
  plan.root = std::filesystem::absolute(root.root()).lexically_normal().string();
  while (plan.root.size() > 1 && plan.root.back() == '/') plan.root.pop_back();
  plan.machine_guid = root.machine_guid();
  plan.attribute = store.attribute();
  plan.ntfs = store.backend() == keystore::SecurityBackend::kNtfs3g;
  for (const auto& rule : Rules()) {
    if (internal::Has(rules, rule.id)) plan.rules_considered.push_back(rule.id);
  }
  auto consider_unfixable = [&](const Finding& f, WorkerOut& out) {
    const auto& info = Rule(f.rule);
    const bool selected = options.only_rules.empty() ||
                          std::find(options.only_rules.begin(), options.only_rules.end(), f.rule) !=
                              options.only_rules.end();
    if (info.auto_fix || !selected || options.baseline.Accepts(f.rule, f.object)) return;
    ++out.unfixable_total;
    if (out.unfixable.size() < kUnfixableCap) out.unfixable.push_back(f);
  };

  WorkerOut main_out;
  // The directory chain.
  auto dirs = engine.ReadDirectories();
  const auto dir_findings = engine.CheckDirectories(dirs);
  for (const auto& f : dir_findings) consider_unfixable(f, main_out);
  auto fixed_dirs = dirs;
  const auto changed = engine.FixDirectories(fixed_dirs, rules);
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    std::vector<RuleId> applied;
    for (RuleId id : changed[i]) {
      if (!options.baseline.Accepts(id, dirs[i].label)) applied.push_back(id);
    }
    if (applied.empty() || !fixed_dirs[i].sd) continue;
    PlanStep step;
    step.object = dirs[i].label;
    step.relative_path = dirs[i].label;
    step.is_directory = true;
    step.rules = applied;
    step.why = WhyText(dir_findings, dirs[i].label, applied);
    step.before_raw = std::make_shared<const std::vector<std::uint8_t>>(dirs[i].raw);
    step.after_raw =
        std::make_shared<const std::vector<std::uint8_t>>(EncodeFor(store, *fixed_dirs[i].sd));
    if (*step.after_raw != *step.before_raw) plan.steps.push_back(std::move(step));
  }

  // Key files.
  const std::size_t threads =
      options.only_files.empty() ? internal::ThreadCount(options.threads) : 1;
  std::vector<WorkerOut> outs(threads);
  std::vector<std::unique_ptr<internal::KeyFileReader>> readers;
  std::vector<std::unique_ptr<internal::DescriptorCache>> caches;
  for (std::size_t i = 0; i < threads; ++i) {
    readers.push_back(std::make_unique<internal::KeyFileReader>(root));
    caches.push_back(std::make_unique<internal::DescriptorCache>(engine, store));
  }
  const std::string machine_keys_rel = root.Relative(root.machine_keys_dir());
  const bool memoise_fixes = engine.services().size() <= 64;
  auto work = [&](std::size_t w, std::string_view name) {
    auto& reader = *readers[w];
    auto& out = outs[w];
    internal::DescriptorVerdict* verdict = nullptr;
    std::string problem;
    auto raw_span = reader.Descriptor(name);
    if (!raw_span) {
      problem = raw_span.error().message();
    } else {
      // Decoded and judged once per distinct descriptor (most files share a handful).
      verdict = &caches[w]->Get(*raw_span);
      if (!verdict->sd) {
        problem = verdict->error->ToString();
        verdict = nullptr;
      }
    }
    auto contents = reader.Contents(name);
    auto checked = engine.CheckKeyFile(name, contents, verdict, problem);
    for (const auto& f : checked.findings) consider_unfixable(f, out);
    if (verdict == nullptr) return;
    const bool needs_fix =
        std::any_of(checked.findings.begin(), checked.findings.end(), [&](const Finding& f) {
          return internal::Has(rules, f.rule) && Rule(f.rule).auto_fix &&
                 !options.baseline.Accepts(f.rule, f.object);
        });
    if (!needs_fix) return;
    std::string label = keystore::MachineRoot::KeyFileLabel(name);
    // Fix only the rules the baseline does not accept for this object.
    internal::RuleSet effective = rules;
    if (!options.baseline.accepted.empty()) {
      for (const auto& rule : Rules()) {
        if (options.baseline.Accepts(rule.id, label))
          effective[static_cast<std::size_t>(rule.id)] = false;
      }
    }
    // The fix depends on the descriptor, the services whose globs match the container and the
    // rules: the same for most files, so made (and encoded) once.
    const std::uint64_t services = engine.ServicesFor(checked.container_name);
    internal::DescriptorVerdict::Fix* fix = nullptr;
    if (memoise_fixes) {
      for (auto& f : verdict->fixes) {
        if (f.services_mask == services && f.rules == effective) fix = &f;
      }
    }
    internal::DescriptorVerdict::Fix fresh;
    if (fix == nullptr) {
      acl::SecurityDescriptor after = *verdict->sd;
      fresh.services_mask = services;
      fresh.rules = effective;
      fresh.applied = engine.FixKeyFile(after, checked.container_name, effective);
      if (!fresh.applied.empty()) {
        fresh.after = std::make_shared<const std::vector<std::uint8_t>>(EncodeFor(store, after));
      }
      const bool names_container =
          std::any_of(fresh.applied.begin(), fresh.applied.end(), [](RuleId id) {
            return id == RuleId::kServiceCannotRead || id == RuleId::kDenyHitsService;
          });
      if (!names_container && !fresh.applied.empty()) {
        fresh.why = WhyText(checked.findings, label, fresh.applied);
      }
      if (memoise_fixes) {
        verdict->fixes.push_back(std::move(fresh));
        fix = &verdict->fixes.back();
      } else {
        fix = &fresh;
      }
    }
    if (fix->applied.empty() || *fix->after == *verdict->raw) return;
    PlanStep step;
    step.relative_path.reserve(machine_keys_rel.size() + 1 + name.size());
    step.relative_path.append(machine_keys_rel).append("/").append(name);
    step.container_name = checked.container_name;
    step.rules = fix->applied;
    step.why = fix->why ? *fix->why : WhyText(checked.findings, label, fix->applied);
    step.object = std::move(label);
    step.before_raw = verdict->raw;
    step.after_raw = fix->after;
    out.steps.push_back(std::move(step));
  };
  std::uint64_t key_files = 0;
  if (options.only_files.empty()) {
    MKEYS_ASSIGN_OR_RETURN(key_files, internal::ParallelScan(root, threads, work, {}));
  } else {
    for (const auto& name : options.only_files) {
      if (std::filesystem::exists(root.machine_keys_dir() / name)) {
        work(0, name);
        ++key_files;
      }
    }
  }
  if (key_files > options.baseline.thresholds.max_containers) {
    consider_unfixable({RuleId::kTooManyContainers, machine_keys_rel,
                        fmt::format("{} key files; the threshold is {}", key_files,
                                    options.baseline.thresholds.max_containers)},
                       main_out);
  }
  outs.push_back(std::move(main_out));
  // Key-file steps by object: sorted by reference, then each moved once into place.
  std::vector<PlanStep*> file_steps;
  for (auto& o : outs) {
    for (auto& s : o.steps) file_steps.push_back(&s);
    plan.unfixable_total += o.unfixable_total;
    for (auto& f : o.unfixable) {
      if (plan.unfixable.size() < kUnfixableCap) plan.unfixable.push_back(std::move(f));
    }
  }
  std::sort(file_steps.begin(), file_steps.end(),
            [](const PlanStep* a, const PlanStep* b) { return a->object < b->object; });
  plan.steps.reserve(plan.steps.size() + file_steps.size());
  for (PlanStep* s : file_steps) plan.steps.push_back(std::move(*s));
  outs.clear();
  std::sort(plan.unfixable.begin(), plan.unfixable.end(), [](const Finding& a, const Finding& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.object < b.object;
  });
  return plan;
}

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
  // 1. The journal: every change, before and after, then the sealed marker; one fsync.
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

  // 2. The changes, one attribute write each.
  long fault_after = -1;
  if (const char* env = std::getenv("MKEYS_FAULT_AFTER_N"); env != nullptr && *env != '\0') {
    fault_after = std::atol(env);
  }
  auto& store = root.writable_security();
  const std::filesystem::path base = plan.root;
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
  {
    const int dfd = ::open(root.machine_keys_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::syncfs(dfd);
      ::close(dfd);
    }
  }
  internal::AppendCountRecord(writer.buffer(), internal::RecordType::kCompleted, plan.steps.size());
  MKEYS_TRY(writer.Sync());

  // 3. Read back and run the fixed rules again over what changed.
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine,
                         internal::Engine::Create(root, options.baseline));
  bool any_directory = false;
  internal::DescriptorCache cache(engine, store);
  keystore::RawDescriptorReader reader(base, store.attribute());
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
      if (std::find(step.rules.begin(), step.rules.end(), f.rule) != step.rules.end()) {
        report.remaining.push_back(std::move(f));
      }
    }
  }
  if (any_directory) {
    std::vector<RuleId> dir_rules;
    for (const auto& step : plan.steps) {
      if (step.is_directory)
        dir_rules.insert(dir_rules.end(), step.rules.begin(), step.rules.end());
    }
    for (auto& f : engine.CheckDirectories(engine.ReadDirectories())) {
      if (std::find(dir_rules.begin(), dir_rules.end(), f.rule) != dir_rules.end() &&
          !options.baseline.Accepts(f.rule, f.object)) {
        report.remaining.push_back(std::move(f));
      }
    }
  }
  return report;
}

}  // namespace mkeys::repair
