// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/rules.hpp"

#include <fmt/format.h>
#include <array>
#include <cctype>

namespace mkeys::repair {
namespace {

using enum RuleId;
constexpr Severity kE = Severity::kError;
constexpr Severity kW = Severity::kWarning;
constexpr Severity kN = Severity::kNote;

constexpr std::array<RuleInfo, kRuleCount> kRules = {{
    {kFolderEveryoneMissing, "MK001", kE,
     "MachineKeys: Everyone's special rights are missing, so no one but Administrators can "
     "create or list containers",
     "add (A;;0x12019f;;;WD) to MachineKeys (Everyone: list, read, create files, ... this folder "
     "only), as Windows installs it",
     true},
    {kFolderDiffersFromDefault, "MK002", kW,
     "MachineKeys: the DACL has extra or inheritable ACEs (differs from the Windows default)",
     "remove the extra ACEs and the inheritance flags, keep Administrators' full control", true},
    {kFolderProtectionLost, "MK003", kW,
     "MachineKeys: the DACL is no longer protected, so it inherits from its parent",
     "protect the DACL (P) and keep the inherited ACEs as explicit ones", true},
    {kServiceCannotRead, "MK004", kE, "A declared service identity cannot read its container",
     "grant the service read (A;;FR;;;<SID>) on the container file", true},
    {kDenyHitsService, "MK005", kE, "A deny ACE hits a declared service identity",
     "remove the deny ACE", true},
    {kUnexpectedOwner, "MK006", kW, "Key file owned by an unexpected or unresolvable SID",
     "make SYSTEM the owner", true},
    {kNonCanonicalOrder, "MK007", kW, "ACEs are not in canonical order",
     "reorder the ACEs canonically (explicit deny, explicit allow, inherited)", true},
    {kForeignMachineGuid, "MK008", kE,
     "Key file carries another machine's MachineGuid (cloned image): no CSP on this machine "
     "will find it",
     "re-create or re-import the key on this machine (or rename the file to "
     "<hash>_<this MachineGuid> if the key is meant to move), then delete the stale file",
     false},
    {kNameHashMismatch, "MK009", kE,
     "Key file name hash does not match the container name stored in it",
     "rename the file to the hash of its container name, or delete it", false},
    {kCorruptContainer, "MK010", kE, "Corrupt or zero-length container file",
     "restore the file from a backup or re-create the container", false},
    {kInheritedAcesOnKeyFile, "MK011", kW,
     "Key file has inherited ACEs (Windows writes key file DACLs explicitly)",
     "protect the file's DACL and keep the inherited ACEs as explicit ones", true},
    {kKeyFileTooOpen, "MK012", kW,
     "Key file readable or writable by Everyone, Users or Authenticated Users",
     "remove the ACEs that open the key file to everyone", true},
    {kTraverseDenied, "MK013", kE,
     "Traversal to MachineKeys denied for an identity without SeChangeNotifyPrivilege",
     "grant the identity traverse (A;;0x100020;;;<SID>) on the blocking directory, or give "
     "SeChangeNotifyPrivilege back",
     true},
    {kChangeNotifyRemoved, "MK014", kW,
     "SeChangeNotifyPrivilege (bypass traverse checking) removed from its default holders",
     "assign SeChangeNotifyPrivilege to Everyone, Users, Administrators, Backup Operators, LOCAL "
     "SERVICE and NETWORK SERVICE again (secpol.msc, User Rights Assignment)",
     false},
    {kTooManyContainers, "MK015", kW,
     "More containers than the threshold (keys leaked by applications)",
     "find the application that leaks keys (IIS, AD FS, X509Certificate2 imports without "
     "PersistKeySet handling) and delete the containers no one uses",
     false},
    {kDescriptorUnreadable, "MK016", kE, "Security descriptor missing or malformed",
     "write a valid descriptor (SYSTEM and the creator full control)", false},
    {kNotAContainerName, "MK017", kN, "File in MachineKeys is not named like a key container",
     "remove files that are not key containers from MachineKeys", false},
}};

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kNote:
      return "note";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "error";
}

Result<Severity> ParseSeverity(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "note") return Severity::kNote;
  if (lower == "warning") return Severity::kWarning;
  if (lower == "error") return Severity::kError;
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown severity '{}' (expected note, warning or error)", text));
}

std::span<const RuleInfo> Rules() {
  return kRules;
}

const RuleInfo& Rule(RuleId id) {
  return kRules[static_cast<std::size_t>(id)];
}

Result<RuleId> ParseRuleId(std::string_view code) {
  std::string upper;
  for (char c : code) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& rule : kRules) {
    if (rule.code == upper) return rule.id;
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown rule '{}' (rules are MK001 to MK{:03})", code, kRuleCount));
}

}  // namespace mkeys::repair
