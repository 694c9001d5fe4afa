// SPDX-License-Identifier: GPL-3.0-or-later
// MK015: more key files than the baseline's threshold.
#include <fmt/format.h>

#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void Check(RuleId self, const RuleContext& ctx, std::uint64_t key_files, std::string_view object,
           std::vector<Finding>& out) {
  const std::uint64_t threshold = ctx.baseline->thresholds.max_containers;
  if (key_files <= threshold) return;
  out.push_back({self, std::string(object),
                 fmt::format("{} key files; the threshold is {}", key_files, threshold)});
}

}  // namespace

const RuleDefinition& TooManyContainers() {
  static const RuleDefinition rule{
      .info = {.code = "MK015",
               .severity = Severity::kWarning,
               .title = "More containers than the threshold (keys leaked by applications)",
               .description = "Counts the files in MachineKeys against the baseline's "
                              "thresholds.max_containers.",
               .rationale = "Applications that import certificates with their private keys "
                            "(X509Certificate2 without PersistKeySet handling, IIS, AD FS) leave a "
                            "container behind at every import; hundreds of thousands of files slow "
                            "every key lookup and fill the volume.",
               .fix = "find the application that leaks keys (IIS, AD FS, X509Certificate2 "
                      "imports without PersistKeySet handling) and delete the containers no one "
                      "uses",
               .auto_fix = false},
      .check_store = &Check};
  return rule;
}

}  // namespace mkeys::repair::rules
