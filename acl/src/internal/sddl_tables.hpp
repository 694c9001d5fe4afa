// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to mkeys::acl: the SDDL token tables (MS-DTYP 2.5.1.1) shared by the parser
// (sddl.cpp) and the formatter (sddl_format.cpp).

#include <cstdint>

#include "mkeys/acl/ace.hpp"

namespace mkeys::acl::internal::sddl {

struct SddlToken {
  const char* text;
  std::uint32_t value;
};

// Rights letters in the order Windows writes them.
inline constexpr SddlToken kRightsLetters[] = {
    {"CC", 0x00000001}, {"DC", 0x00000002}, {"LC", 0x00000004}, {"SW", 0x00000008},
    {"RP", 0x00000010}, {"WP", 0x00000020}, {"DT", 0x00000040}, {"LO", 0x00000080},
    {"CR", 0x00000100}, {"SD", 0x00010000}, {"RC", 0x00020000}, {"WD", 0x00040000},
    {"WO", 0x00080000}, {"GA", 0x10000000}, {"GX", 0x20000000}, {"GW", 0x40000000},
    {"GR", 0x80000000},
};
// Composite rights accepted when parsing; Windows writes FA/FR/FW/FX when nothing else fits.
inline constexpr SddlToken kRightsComposite[] = {
    {"FA", 0x001F01FF}, {"FR", 0x00120089}, {"FW", 0x00120116}, {"FX", 0x001200A0},
    {"KA", 0x000F003F}, {"KR", 0x00020019}, {"KW", 0x00020006}, {"KX", 0x00020019},
};
// Mandatory-label policy letters (SYSTEM_MANDATORY_LABEL_NO_WRITE_UP etc.).
inline constexpr SddlToken kLabelLetters[] = {{"NW", 0x1}, {"NR", 0x2}, {"NX", 0x4}};

inline constexpr SddlToken kAceFlags[] = {
    {"OI", ace_flags::kObjectInherit},      {"CI", ace_flags::kContainerInherit},
    {"NP", ace_flags::kNoPropagateInherit}, {"IO", ace_flags::kInheritOnly},
    {"ID", ace_flags::kInherited},          {"CR", ace_flags::kCritical},
    {"SA", ace_flags::kSuccessfulAccess},   {"FA", ace_flags::kFailedAccess},
};

struct AceTypeName {
  const char* text;
  AceType type;
  bool in_dacl;  // may appear in a DACL (else only in a SACL)
};
inline constexpr AceTypeName kAceTypes[] = {
    {"A", AceType::kAccessAllowed, true},
    {"D", AceType::kAccessDenied, true},
    {"OA", AceType::kAccessAllowedObject, true},
    {"OD", AceType::kAccessDeniedObject, true},
    {"XA", AceType::kAccessAllowedCallback, true},
    {"XD", AceType::kAccessDeniedCallback, true},
    {"ZA", AceType::kAccessAllowedCallbackObject, true},
    {"AU", AceType::kSystemAudit, false},
    {"AL", AceType::kSystemAlarm, false},
    {"OU", AceType::kSystemAuditObject, false},
    {"OL", AceType::kSystemAlarmObject, false},
    {"XU", AceType::kSystemAuditCallback, false},
    {"ML", AceType::kSystemMandatoryLabel, false},
    {"RA", AceType::kSystemResourceAttribute, false},
    {"SP", AceType::kSystemScopedPolicyId, false},
};

inline bool IsCallback(AceType t) {
  switch (t) {
    case AceType::kAccessAllowedCallback:
    case AceType::kAccessDeniedCallback:
    case AceType::kAccessAllowedCallbackObject:
    case AceType::kAccessDeniedCallbackObject:
    case AceType::kSystemAuditCallback:
    case AceType::kSystemAlarmCallback:
    case AceType::kSystemAuditCallbackObject:
    case AceType::kSystemAlarmCallbackObject:
    case AceType::kSystemResourceAttribute:
      return true;
    default:
      return false;
  }
}

}  // namespace mkeys::acl::internal::sddl
