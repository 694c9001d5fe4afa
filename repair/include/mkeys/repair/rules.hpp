// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The rules mkeys checks a machine root against (docs/audit.md has the table): each has a stable
// ID, a severity, a one-line title and the fix it stands for. A Finding is one rule hitting one
// object, with the evidence that shows it.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mkeys/core/result.hpp"

namespace mkeys::repair {

enum class Severity : std::uint8_t { kNote = 0, kWarning = 1, kError = 2 };
std::string_view SeverityName(Severity severity);  // "note", "warning", "error"
// "note" | "warning" | "error" (case-insensitive); kInvalidArgument otherwise.
Result<Severity> ParseSeverity(std::string_view text);

enum class RuleId : std::uint8_t {
  kFolderEveryoneMissing = 0,  // MK001
  kFolderDiffersFromDefault,   // MK002
  kFolderProtectionLost,       // MK003
  kServiceCannotRead,          // MK004
  kDenyHitsService,            // MK005
  kUnexpectedOwner,            // MK006
  kNonCanonicalOrder,          // MK007
  kForeignMachineGuid,         // MK008
  kNameHashMismatch,           // MK009
  kCorruptContainer,           // MK010
  kInheritedAcesOnKeyFile,     // MK011
  kKeyFileTooOpen,             // MK012
  kTraverseDenied,             // MK013
  kChangeNotifyRemoved,        // MK014
  kTooManyContainers,          // MK015
  kDescriptorUnreadable,       // MK016
  kNotAContainerName,          // MK017
};
inline constexpr std::size_t kRuleCount = 17;

struct RuleInfo {
  RuleId id;
  std::string_view code;  // "MK001"
  Severity severity;
  std::string_view title;  // one line
  std::string_view fix;    // what the fix does (or what a person must do)
  bool auto_fix;           // `mkeys repair` can fix it by changing a descriptor
};

// Every rule, in ID order.
std::span<const RuleInfo> Rules();
const RuleInfo& Rule(RuleId id);
// "MK004" (case-insensitive) -> RuleId; kInvalidArgument naming the unknown ID otherwise.
Result<RuleId> ParseRuleId(std::string_view code);

// One rule hitting one object.
struct Finding {
  RuleId rule = RuleId::kFolderEveryoneMissing;
  // The object, as messages name it: "ProgramData/Microsoft/Crypto/RSA/MachineKeys",
  // "MachineKeys/<file>", or "machine policy" for machine-wide facts.
  std::string object;
  std::string evidence;  // what was seen: "no ACE grants NETWORK SERVICE read; owner SYSTEM"
};

}  // namespace mkeys::repair
