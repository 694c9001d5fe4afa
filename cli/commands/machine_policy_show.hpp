// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What `mkeys machine show` says about a root's policy and where each fact came from.

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::cli {

// {"privileges_source", "hives": [...], "users": [...], "groups": [...], "services": [...],
//  "warnings": [...]}, each fact with its "source" (hive and key, or "mkeys default").
nlohmann::json PolicyJson(const keystore::MachineRoot& machine);
// The text form of PolicyJson; warnings go to stderr as notes.
void PrintPolicy(Context& ctx, const nlohmann::json& policy);

}  // namespace mkeys::cli
