// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The baseline that audit and repair share: --baseline FILE, then each --service IDENTITY=GLOB
// added to its declared services.

#include <string>
#include <vector>

#include "mkeys/core/error.hpp"
#include "mkeys/repair/baseline.hpp"
#include "output/output.hpp"

namespace mkeys::cli {

// Fills `baseline`; on a bad file (exit 3) or a bad --service (exit 2) prints the error and
// returns the exit code, else returns kExitOk.
inline int LoadBaselineArgs(const Output& out, const std::string& baseline_file,
                            const std::vector<std::string>& services, repair::Baseline& baseline) {
  if (!baseline_file.empty()) {
    auto loaded = repair::LoadBaseline(baseline_file);
    if (!loaded) {
      out.PrintError(loaded.error());
      return kExitInput;
    }
    baseline = std::move(*loaded);
  }
  for (const auto& s : services) {
    auto decl = repair::ParseServiceDeclaration(s);
    if (!decl) {
      out.PrintError(decl.error());
      return kExitUsage;
    }
    baseline.services.push_back(std::move(*decl));
  }
  return kExitOk;
}

}  // namespace mkeys::cli
