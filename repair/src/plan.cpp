// SPDX-License-Identifier: GPL-3.0-or-later
// BuildPlan: scan the root (read-only) and plan the fix of every finding of the selected rules.
#include "mkeys/repair/plan.hpp"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "internal/engine.hpp"
#include "internal/plan_known.hpp"
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

// What one worker thread planned.
struct WorkerOut {
  std::vector<PlanStep> steps;
  std::vector<Finding> unfixable;
  std::uint64_t unfixable_total = 0;
};

// One worker's tools: its reader and descriptor cache.
struct Worker {
  Worker(const keystore::MachineRoot& root, const internal::Engine& engine)
      : reader(root), cache(engine, root.security()) {}
  internal::KeyFileReader reader;
  internal::DescriptorCache cache;
  WorkerOut out;
};

class Planner {
 public:
  Planner(const keystore::MachineRoot& root, const RepairOptions& options,
          const internal::Engine& engine, const internal::KnownObjects* known = nullptr)
      : root_(root),
        options_(options),
        engine_(engine),
        store_(root.security()),
        rules_(internal::RulesFrom(options.only_rules)),
        machine_keys_rel_(root.Relative(root.machine_keys_dir())),
        memoise_fixes_(engine.services().size() <= 64),
        known_(known) {}

  Result<Plan> Run();

 private:
  void Describe(Plan& plan) const;
  void ConsiderUnfixable(const Finding& f, WorkerOut& out) const;
  void PlanDirectories(Plan& plan, WorkerOut& out) const;
  Result<std::uint64_t> ScanKeyFiles(std::vector<std::unique_ptr<Worker>>& workers) const;
  void PlanKeyFile(Worker& worker, std::string_view name) const;
  internal::RuleSet EffectiveRules(const std::string& label) const;
  const internal::DescriptorVerdict::Fix& FixFor(internal::DescriptorVerdict& verdict,
                                                 const internal::Engine::KeyFileResult& checked,
                                                 const std::string& label,
                                                 internal::DescriptorVerdict::Fix& fresh) const;
  static void Merge(std::vector<std::unique_ptr<Worker>>& workers, WorkerOut main_out, Plan& plan);

  const keystore::MachineRoot& root_;
  const RepairOptions& options_;
  const internal::Engine& engine_;
  const keystore::ReadOnlySecurityStore& store_;
  const internal::RuleSet rules_;
  const std::string machine_keys_rel_;
  const bool memoise_fixes_;
  const internal::KnownObjects* known_;  // what the caller read already (nullptr: nothing)
};

void Planner::Describe(Plan& plan) const {
  plan.root = std::filesystem::absolute(root_.root()).lexically_normal().string();
  while (plan.root.size() > 1 && plan.root.back() == '/') plan.root.pop_back();
  plan.machine_guid = root_.machine_guid();
  plan.attribute = store_.attribute();
  plan.ntfs = store_.backend() == keystore::SecurityBackend::kNtfs3g;
  for (const auto& rule : Rules()) {
    if (internal::Has(rules_, rule.id)) plan.rules_considered.push_back(rule.id);
  }
}

// Findings no descriptor change fixes, of the selected rules, not accepted: for a person.
void Planner::ConsiderUnfixable(const Finding& f, WorkerOut& out) const {
  const auto& only = options_.only_rules;
  const bool selected = only.empty() || std::find(only.begin(), only.end(), f.rule) != only.end();
  if (Rule(f.rule).auto_fix || !selected || options_.baseline.Accepts(f.rule, f.object)) return;
  ++out.unfixable_total;
  if (out.unfixable.size() < kUnfixableCap) out.unfixable.push_back(f);
}

void Planner::PlanDirectories(Plan& plan, WorkerOut& out) const {
  auto dirs = known_ != nullptr && !known_->directories.empty() ? known_->directories
                                                                : engine_.ReadDirectories();
  const auto findings = engine_.CheckDirectories(dirs);
  for (const auto& f : findings) ConsiderUnfixable(f, out);
  auto fixed = dirs;
  const auto changed = engine_.FixDirectories(fixed, rules_);
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    std::vector<RuleId> applied;
    for (RuleId id : changed[i]) {
      if (!options_.baseline.Accepts(id, dirs[i].label)) applied.push_back(id);
    }
    if (applied.empty() || !fixed[i].sd) continue;
    PlanStep step;
    step.object = dirs[i].label;
    step.relative_path = dirs[i].label;
    step.is_directory = true;
    step.rules = applied;
    step.why = WhyText(findings, dirs[i].label, applied);
    step.before_raw = std::make_shared<const std::vector<std::uint8_t>>(dirs[i].raw);
    step.after_raw =
        std::make_shared<const std::vector<std::uint8_t>>(EncodeFor(store_, *fixed[i].sd));
    if (*step.after_raw != *step.before_raw) plan.steps.push_back(std::move(step));
  }
}

// The selected rules minus those the baseline accepts for this object.
internal::RuleSet Planner::EffectiveRules(const std::string& label) const {
  internal::RuleSet effective = rules_;
  if (options_.baseline.accepted.empty()) return effective;
  for (const auto& rule : Rules()) {
    if (options_.baseline.Accepts(rule.id, label)) effective.reset(rule.id.index());
  }
  return effective;
}

// The fix depends on the descriptor, the services whose globs match the container and the
// rules: the same for most files, so made (and encoded) once per verdict.
const internal::DescriptorVerdict::Fix& Planner::FixFor(
    internal::DescriptorVerdict& verdict, const internal::Engine::KeyFileResult& checked,
    const std::string& label, internal::DescriptorVerdict::Fix& fresh) const {
  const internal::RuleSet effective = EffectiveRules(label);
  const std::uint64_t services = engine_.ServicesFor(checked.container_name);
  if (memoise_fixes_) {
    for (auto& f : verdict.fixes) {
      if (f.services_mask == services && f.rules == effective) return f;
    }
  }
  acl::SecurityDescriptor after = *verdict.sd;
  fresh.services_mask = services;
  fresh.rules = effective;
  fresh.applied = engine_.FixKeyFile(after, checked.container_name, effective);
  if (!fresh.applied.empty()) {
    fresh.after = std::make_shared<const std::vector<std::uint8_t>>(EncodeFor(store_, after));
  }
  const bool names_container = std::any_of(
      fresh.applied.begin(), fresh.applied.end(),
      [](RuleId id) { return id == RuleId::kServiceCannotRead || id == RuleId::kDenyHitsService; });
  if (!names_container && !fresh.applied.empty()) {
    fresh.why = WhyText(checked.findings, label, fresh.applied);
  }
  if (!memoise_fixes_) return fresh;
  verdict.fixes.push_back(std::move(fresh));
  return verdict.fixes.back();
}

void Planner::PlanKeyFile(Worker& worker, std::string_view name) const {
  // The descriptor, decoded and judged once per distinct value (most files share a handful).
  internal::DescriptorVerdict* verdict = nullptr;
  std::string problem;
  const bool known = known_ != nullptr && !known_->file_name.empty() && known_->file_name == name;
  Result<std::span<const std::uint8_t>> raw =
      !known                   ? worker.reader.Descriptor(name)
      : known_->descriptor_raw ? Result<std::span<const std::uint8_t>>(
                                     std::span<const std::uint8_t>(*known_->descriptor_raw))
                               : Result<std::span<const std::uint8_t>>(
                                     Error(ErrorCode::kIo, known_->descriptor_problem));
  if (!raw) {
    problem = raw.error().message();
  } else {
    verdict = &worker.cache.Get(*raw);
    if (!verdict->sd) {
      problem = verdict->error->ToString();
      verdict = nullptr;
    }
  }
  const auto contents = known && known_->contents
                            ? Result<std::span<const std::uint8_t>>(*known_->contents)
                            : worker.reader.Contents(name);
  auto checked = engine_.CheckKeyFile(name, contents, verdict, problem);
  for (const auto& f : checked.findings) ConsiderUnfixable(f, worker.out);
  if (verdict == nullptr) return;
  const bool needs_fix =
      std::any_of(checked.findings.begin(), checked.findings.end(), [&](const Finding& f) {
        return internal::Has(rules_, f.rule) && Rule(f.rule).auto_fix &&
               !options_.baseline.Accepts(f.rule, f.object);
      });
  if (!needs_fix) return;
  std::string label = keystore::MachineRoot::KeyFileLabel(name);
  internal::DescriptorVerdict::Fix fresh;
  const auto& fix = FixFor(*verdict, checked, label, fresh);
  if (fix.applied.empty() || *fix.after == *verdict->raw) return;
  PlanStep step;
  step.relative_path.reserve(machine_keys_rel_.size() + 1 + name.size());
  step.relative_path.append(machine_keys_rel_).append("/").append(name);
  step.container_name = checked.container_name;
  step.rules = fix.applied;
  step.why = fix.why ? *fix.why : WhyText(checked.findings, label, fix.applied);
  step.object = std::move(label);
  step.before_raw = verdict->raw;
  step.after_raw = fix.after;
  worker.out.steps.push_back(std::move(step));
}

// Every key file (in parallel), or only options.only_files (in this thread).
Result<std::uint64_t> Planner::ScanKeyFiles(std::vector<std::unique_ptr<Worker>>& workers) const {
  if (options_.only_files.empty()) {
    return internal::ParallelScan(
        root_, workers.size(),
        [&](std::size_t w, std::string_view name) { PlanKeyFile(*workers[w], name); }, {});
  }
  std::uint64_t key_files = 0;
  for (const auto& name : options_.only_files) {
    const bool known = known_ != nullptr && known_->file_name == name;
    const auto exists =
        known ? Result<bool>(true) : root_.volume().Exists(root_.machine_keys_dir() / name);
    if (exists && *exists) {
      PlanKeyFile(*workers[0], name);
      ++key_files;
    }
  }
  return key_files;
}

// Directory steps first (as planned), then key-file steps by object; the unfixable findings
// by rule and object.
void Planner::Merge(std::vector<std::unique_ptr<Worker>>& workers, WorkerOut main_out, Plan& plan) {
  std::vector<WorkerOut*> outs;
  for (auto& w : workers) outs.push_back(&w->out);
  outs.push_back(&main_out);
  // Sorted by reference, then each moved once into place.
  std::vector<PlanStep*> file_steps;
  for (WorkerOut* o : outs) {
    for (auto& s : o->steps) file_steps.push_back(&s);
    plan.unfixable_total += o->unfixable_total;
    for (auto& f : o->unfixable) {
      if (plan.unfixable.size() < kUnfixableCap) plan.unfixable.push_back(std::move(f));
    }
  }
  std::sort(file_steps.begin(), file_steps.end(),
            [](const PlanStep* a, const PlanStep* b) { return a->object < b->object; });
  plan.steps.reserve(plan.steps.size() + file_steps.size());
  for (PlanStep* s : file_steps) plan.steps.push_back(std::move(*s));
  workers.clear();
  std::sort(plan.unfixable.begin(), plan.unfixable.end(), [](const Finding& a, const Finding& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.object < b.object;
  });
}

Result<Plan> Planner::Run() {
  Plan plan;
  Describe(plan);
  WorkerOut main_out;
  PlanDirectories(plan, main_out);
  const std::size_t threads =
      options_.only_files.empty() ? internal::ThreadCount(options_.threads) : 1;
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(root_, engine_));
  }
  MKEYS_ASSIGN_OR_RETURN(const std::uint64_t key_files, ScanKeyFiles(workers));
  for (const auto& f : engine_.CheckStore(key_files)) ConsiderUnfixable(f, main_out);
  Merge(workers, std::move(main_out), plan);
  return plan;
}

}  // namespace

Result<Plan> BuildPlan(const keystore::MachineRoot& root, const RepairOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine,
                         internal::Engine::Create(root, options.baseline));
  return Planner(root, options, engine).Run();
}

Result<Plan> internal::BuildPlanFrom(const keystore::MachineRoot& root,
                                     const RepairOptions& options, const Engine& engine,
                                     const KnownObjects& known) {
  return Planner(root, options, engine, &known).Run();
}

}  // namespace mkeys::repair
