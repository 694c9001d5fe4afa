// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/audit.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "internal/engine.hpp"

namespace mkeys::repair {
namespace {

// Per-thread aggregation: exact counts, evidence capped.
struct Tally {
  Tally() : count(Rules().size()), accepted(Rules().size()), examples(Rules().size()) {}
  std::vector<std::uint64_t> count;
  std::vector<std::uint64_t> accepted;
  std::vector<std::vector<Finding>> examples;

  void Add(const Baseline& baseline, Finding finding, std::size_t cap) {
    const auto i = static_cast<std::size_t>(finding.rule);
    if (!baseline.accepted.empty() && baseline.Accepts(finding.rule, finding.object)) {
      ++accepted[i];
      return;
    }
    ++count[i];
    if (examples[i].size() < cap) examples[i].push_back(std::move(finding));
  }
};

}  // namespace

std::uint64_t AuditReport::TotalFindings() const {
  std::uint64_t total = 0;
  for (const auto& r : results) total += r.count;
  return total;
}

bool AuditReport::HasFindingAtOrAbove(Severity severity) const {
  return std::any_of(results.begin(), results.end(), [&](const RuleResult& r) {
    return r.count > 0 && Rule(r.rule).severity >= severity;
  });
}

namespace {

// One worker's tools and tally.
struct AuditWorker {
  AuditWorker(const keystore::MachineRoot& root, const internal::Engine& engine)
      : reader(root), cache(engine, root.security()) {}
  internal::KeyFileReader reader;
  internal::DescriptorCache cache;
  Tally tally;
};

void AuditKeyFile(const internal::Engine& engine, const AuditOptions& options, std::size_t cap,
                  AuditWorker& worker, std::string_view name) {
  // The descriptor first: the content read reuses nothing of it. Decoded and judged once per
  // distinct descriptor (most files share a handful).
  internal::DescriptorVerdict* verdict = nullptr;
  std::string problem;
  auto raw = worker.reader.Descriptor(name);
  if (!raw) {
    problem = raw.error().message();
  } else {
    verdict = &worker.cache.Get(*raw);
    if (!verdict->sd) {
      const Error& e = *verdict->error;
      problem = e.message();
      if (e.position()) problem += fmt::format(" (at offset {})", *e.position());
      verdict = nullptr;
    }
  }
  auto contents = worker.reader.Contents(name);
  auto result = engine.CheckKeyFile(name, contents, verdict, problem);
  for (auto& f : result.findings) worker.tally.Add(options.baseline, std::move(f), cap);
}

// Per rule with findings or accepted deviations: the counts and the first `cap` findings by
// object.
void MergeTallies(std::vector<Tally>& tallies, std::size_t cap, AuditReport& report) {
  for (std::size_t i = 0; i < Rules().size(); ++i) {
    RuleResult rr;
    rr.rule = RuleId(i);
    for (auto& t : tallies) {
      rr.count += t.count[i];
      rr.accepted += t.accepted[i];
      for (auto& f : t.examples[i]) rr.examples.push_back(std::move(f));
    }
    if (rr.count == 0 && rr.accepted == 0) continue;
    std::sort(rr.examples.begin(), rr.examples.end(), [](const Finding& a, const Finding& b) {
      return a.object != b.object ? a.object < b.object : a.evidence < b.evidence;
    });
    if (rr.examples.size() > cap) rr.examples.resize(cap);
    report.results.push_back(std::move(rr));
  }
}

}  // namespace

Result<AuditReport> RunAudit(const keystore::MachineRoot& root, const AuditOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine,
                         internal::Engine::Create(root, options.baseline));
  const std::size_t cap = std::max<std::size_t>(options.evidence_cap, 1);
  AuditReport report;
  report.root = root.root().string();
  report.machine_guid = root.machine_guid();

  Tally main_tally;
  const auto dirs = engine.ReadDirectories();
  report.directories = dirs.size();
  for (auto& f : engine.CheckDirectories(dirs)) main_tally.Add(options.baseline, std::move(f), cap);

  const std::size_t threads = internal::ThreadCount(options.threads);
  std::vector<std::unique_ptr<AuditWorker>> workers;
  for (std::size_t i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<AuditWorker>(root, engine));
  }
  // A symlink in the chain: nothing beneath it is read (MK031 reports the link).
  const bool linked = std::any_of(dirs.begin(), dirs.end(),
                                  [](const DirectoryState& d) { return !d.link.empty(); });
  auto scanned = linked ? Result<std::uint64_t>(std::uint64_t{0})
                        : internal::ParallelScan(
                              root, threads,
                              [&](std::size_t w, std::string_view name) {
                                AuditKeyFile(engine, options, cap, *workers[w], name);
                              },
                              options.progress);
  // MachineKeys not listable because a directory of the chain is unreadable: MK030 says which,
  // and the key files count as not checked rather than failing the whole audit.
  const bool blocked =
      std::any_of(dirs.begin(), dirs.end(), [](const DirectoryState& d) { return d.unreadable; });
  if (!scanned && !blocked) return std::move(scanned).error();
  report.key_files = scanned ? *scanned : 0;
  for (auto& f : engine.CheckStore(report.key_files)) {
    main_tally.Add(options.baseline, std::move(f), cap);
  }
  std::vector<Tally> tallies;
  for (auto& w : workers) tallies.push_back(std::move(w->tally));
  tallies.push_back(std::move(main_tally));
  MergeTallies(tallies, cap, report);
  if (const auto unreadable = ParseRuleId("MK030")) {
    for (const auto& rr : report.results) {
      if (rr.rule == *unreadable) report.unchecked = rr.count;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace mkeys::repair
