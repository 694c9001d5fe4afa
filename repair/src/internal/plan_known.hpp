// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Planning from objects the caller has read already: diagnose walks the open path (every
// directory's descriptor, the key file's descriptor and bytes) and then plans the fix from
// those same bytes instead of reading them again. Private to the repair library.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "internal/engine.hpp"
#include "mkeys/repair/plan.hpp"

namespace mkeys::repair::internal {

struct KnownObjects {
  std::vector<DirectoryState> directories;  // the whole chain, outermost first
  std::string file_name;                    // "": no key file was read
  // The key file's descriptor attribute as stored; nullopt: unreadable (`descriptor_problem`).
  std::optional<std::vector<std::uint8_t>> descriptor_raw;
  std::string descriptor_problem;
  std::optional<std::span<const std::uint8_t>> contents;  // nullopt: not read
};

// BuildPlan with `engine` (made for options.baseline) and what `known` holds; objects it does
// not hold are read as BuildPlan reads them.
Result<Plan> BuildPlanFrom(const keystore::MachineRoot& root, const RepairOptions& options,
                           const Engine& engine, const KnownObjects& known);

}  // namespace mkeys::repair::internal
