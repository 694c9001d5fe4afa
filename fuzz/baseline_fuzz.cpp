// SPDX-License-Identifier: GPL-3.0-or-later
// Baseline files (repair's JSON: services, accepted deviations, thresholds, expected owners):
// parse or fail with an error naming the offset or member, never throw. The input is tried as
// it is and spliced into a valid baseline (json_splice.hpp).
// fuzz-links: mkeys::repair
// fuzz-requires: repair/src/baseline.cpp
#include <cstdint>
#include <span>
#include <string_view>

#include "json_splice.hpp"
#include "mkeys/repair/baseline.hpp"

namespace {

void Parse(std::string_view text) {
  if (auto baseline = mkeys::repair::ParseBaseline(text)) {
    for (const auto& accepted : baseline->accepted) {
      (void)baseline->Accepts(accepted.rule, accepted.object_glob);
      (void)mkeys::repair::GlobMatch(accepted.object_glob, text);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mkeys::fuzz::JsonSplicer splicer(nlohmann::json::parse(R"({
    "version": 1,
    "description": "web farm",
    "services": [{"identity": "NT AUTHORITY\\NETWORK SERVICE", "containers": "TMG*"},
                 {"identity": "IIS APPPOOL\\DefaultAppPool", "containers": "iis?config*"}],
    "accept": [{"rule": "MK006", "object": "MachineKeys/6de9cb26*", "reason": "vendor agent"}],
    "thresholds": {"max_containers": 20000},
    "expected_owners": ["S-1-5-21-1-2-3-500", "BUILTIN\\Administrators"]})"));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Parse(text);
  if (auto spliced = splicer.Apply(std::span<const std::uint8_t>(data, size))) Parse(*spliced);
  // The --service IDENTITY=GLOB form, and globs against themselves (backtracking worst cases).
  if (auto service = mkeys::repair::ParseServiceDeclaration(text)) {
    (void)mkeys::repair::GlobMatch(service->container_glob, service->identity);
  }
  const std::size_t half = size / 2;
  (void)mkeys::repair::GlobMatch(text.substr(0, half), text.substr(half));
  return 0;
}
