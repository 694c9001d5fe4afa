// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What an audit or a repair is told about the machine: the service identities and the
// containers each must read, deviations accepted on purpose, and thresholds. Given on the
// command line (--service IDENTITY=GLOB) or in a baseline file (JSON, docs/audit.md,
// docs/baseline.example.json).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair {

// "NT AUTHORITY\NETWORK SERVICE=TMG*": `identity` must read every container whose name matches
// `container_glob` (case-insensitive; * and ? wildcards).
struct ServiceDeclaration {
  std::string identity;
  std::string container_glob;
};
// Splits "IDENTITY=GLOB" at the first '='. kInvalidArgument when either side is empty.
Result<ServiceDeclaration> ParseServiceDeclaration(std::string_view text);

// A finding of `rule` on an object matching `object_glob` is accepted: counted, not reported.
struct AcceptedDeviation {
  RuleId rule = RuleId::kFolderEveryoneMissing;
  std::string object_glob;  // matched against Finding::object ("MachineKeys/6de9cb26*")
  std::string reason;
};

struct Thresholds {
  std::uint64_t max_containers = 10000;  // MK015 above this many key files
};

struct Baseline {
  std::vector<ServiceDeclaration> services;
  std::vector<AcceptedDeviation> accepted;
  Thresholds thresholds;
  // Owners a key file may have beyond SYSTEM, Administrators, the service accounts and the
  // declared services (MK006); SIDs or names ResolveName takes.
  std::vector<std::string> expected_owners;

  // True when a finding of `rule` on `object` is accepted.
  bool Accepts(RuleId rule, std::string_view object) const;
};

// Parses a baseline file's text. Errors are kParse with the byte offset (bad JSON) or name the
// member that is wrong ("accept[2].rule: unknown rule MK999").
Result<Baseline> ParseBaseline(std::string_view json_text);
// Reads and parses FILE; errors name it.
Result<Baseline> LoadBaseline(const std::filesystem::path& file);

// Glob match, case-insensitive ASCII, '*' = any run, '?' = one character.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace mkeys::repair
