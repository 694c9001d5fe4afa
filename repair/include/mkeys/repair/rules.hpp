// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The rules mkeys checks a machine root against (docs/audit.md has the table): each has a stable
// code ("MK004"), a severity, a one-line title, a description, a rationale and the fix it stands
// for. A Finding is one rule hitting one object, with the evidence that shows it.
//
// Each rule lives in one file under repair/src/rules/ with its check and its fix
// (mkeys/repair/rule_definition.hpp is the interface); more rules can be registered at run time
// (RegisterRule), which is how tests add a rule of their own.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "mkeys/core/result.hpp"

namespace mkeys::repair {

enum class Severity : std::uint8_t { kNote = 0, kWarning = 1, kError = 2 };
std::string_view SeverityName(Severity severity);  // "note", "warning", "error"
// "note" | "warning" | "error" (case-insensitive); kInvalidArgument otherwise.
Result<Severity> ParseSeverity(std::string_view text);

// A rule, by its place in Rules() (rules are ordered by code). The built-in rules have named
// constants; a rule registered at run time gets its RuleId from RegisterRule.
class RuleId {
 public:
  constexpr RuleId() = default;
  constexpr explicit RuleId(std::size_t index) : index_(static_cast<std::uint16_t>(index)) {}
  constexpr std::size_t index() const { return index_; }
  constexpr explicit operator std::size_t() const { return index_; }
  constexpr explicit operator int() const { return index_; }
  constexpr auto operator<=>(const RuleId&) const = default;

  static const RuleId kFolderEveryoneMissing;     // MK001
  static const RuleId kFolderDiffersFromDefault;  // MK002
  static const RuleId kFolderProtectionLost;      // MK003
  static const RuleId kServiceCannotRead;         // MK004
  static const RuleId kDenyHitsService;           // MK005
  static const RuleId kUnexpectedOwner;           // MK006
  static const RuleId kNonCanonicalOrder;         // MK007
  static const RuleId kForeignMachineGuid;        // MK008
  static const RuleId kNameHashMismatch;          // MK009
  static const RuleId kCorruptContainer;          // MK010
  static const RuleId kInheritedAcesOnKeyFile;    // MK011
  static const RuleId kKeyFileTooOpen;            // MK012
  static const RuleId kTraverseDenied;            // MK013
  static const RuleId kChangeNotifyRemoved;       // MK014
  static const RuleId kTooManyContainers;         // MK015
  static const RuleId kDescriptorUnreadable;      // MK016
  static const RuleId kNotAContainerName;         // MK017

 private:
  std::uint16_t index_ = 0;
};
inline constexpr RuleId RuleId::kFolderEveryoneMissing{0};
inline constexpr RuleId RuleId::kFolderDiffersFromDefault{1};
inline constexpr RuleId RuleId::kFolderProtectionLost{2};
inline constexpr RuleId RuleId::kServiceCannotRead{3};
inline constexpr RuleId RuleId::kDenyHitsService{4};
inline constexpr RuleId RuleId::kUnexpectedOwner{5};
inline constexpr RuleId RuleId::kNonCanonicalOrder{6};
inline constexpr RuleId RuleId::kForeignMachineGuid{7};
inline constexpr RuleId RuleId::kNameHashMismatch{8};
inline constexpr RuleId RuleId::kCorruptContainer{9};
inline constexpr RuleId RuleId::kInheritedAcesOnKeyFile{10};
inline constexpr RuleId RuleId::kKeyFileTooOpen{11};
inline constexpr RuleId RuleId::kTraverseDenied{12};
inline constexpr RuleId RuleId::kChangeNotifyRemoved{13};
inline constexpr RuleId RuleId::kTooManyContainers{14};
inline constexpr RuleId RuleId::kDescriptorUnreadable{15};
inline constexpr RuleId RuleId::kNotAContainerName{16};

// The built-in rules (MK001 to MK017, MK030 to MK033, MK040 to MK043). Rules().size() also counts
// rules registered at run time.
inline constexpr std::size_t kRuleCount = 25;
// At most this many rules (built-in and registered).
inline constexpr std::size_t kMaxRules = 256;

// What reports say about a rule. The strings are static (they outlive every report).
struct RuleInfo {
  RuleId id{};
  std::string_view code{};  // "MK001"
  Severity severity = Severity::kError;
  std::string_view title{};        // one line
  std::string_view description{};  // what is checked, 1-3 sentences
  std::string_view rationale{};    // why it matters
  std::string_view fix{};          // what the fix does (or what a person must do)
  bool auto_fix = false;           // `mkeys repair` can fix it by changing a descriptor
};

// Every rule, ordered by code; iterate as `for (const RuleInfo& rule : Rules())`. References
// stay valid for the life of the process (registering a rule appends).
using RuleTable = std::deque<RuleInfo>;
const RuleTable& Rules();
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
