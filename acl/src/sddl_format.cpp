// SPDX-License-Identifier: GPL-3.0-or-later
// MS-DTYP 2.5.1: SDDL as ConvertSecurityDescriptorToStringSecurityDescriptorW writes it (the
// rules are listed in sddl.cpp, which parses it).
#include <fmt/format.h>

#include "internal/conditional_expression.hpp"
#include "internal/resource_attribute.hpp"
#include "internal/sddl_tables.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"

namespace mkeys::acl {
namespace {

using namespace internal::sddl;

const char* AceTypeText(AceType type) {
  for (const auto& t : kAceTypes) {
    if (t.type == type) return t.text;
  }
  switch (type) {
    case AceType::kSystemAlarmCallback:
      return "XL";
    case AceType::kAccessDeniedCallbackObject:
      return "ZD";
    case AceType::kSystemAuditCallbackObject:
      return "ZU";
    case AceType::kSystemAlarmCallbackObject:
      return "ZL";
    default:
      return "?";
  }
}

std::string FormatAceFlags(std::uint8_t flags) {
  std::string out;
  for (const auto& f : kAceFlags) {
    if ((flags & f.value) != 0) out += f.text;
  }
  return out;
}

std::string FormatAclFlags(std::uint16_t control, bool is_dacl) {
  std::string out;
  if ((control & (is_dacl ? sd_control::kDaclProtected : sd_control::kSaclProtected)) != 0)
    out += "P";
  if ((control & (is_dacl ? sd_control::kDaclAutoInheritReq : sd_control::kSaclAutoInheritReq)) !=
      0)
    out += "AR";
  if ((control & (is_dacl ? sd_control::kDaclAutoInherited : sd_control::kSaclAutoInherited)) != 0)
    out += "AI";
  return out;
}

std::string FormatMask(AccessMask mask, bool label) {
  if (label) {
    std::string out;
    AccessMask rest = mask;
    for (const auto& t : kLabelLetters) {
      if ((mask & t.value) != 0) {
        out += t.text;
        rest &= ~t.value;
      }
    }
    if (rest == 0) return out;
  }
  return FormatSddlRights(mask);
}

}  // namespace

std::string FormatSddlRights(AccessMask mask) {
  std::string out;
  AccessMask rest = mask;
  for (const auto& t : kRightsLetters) {
    if ((mask & t.value) != 0) {
      out += t.text;
      rest &= ~t.value;
    }
  }
  if (rest == 0) return out;
  for (const auto& t : kRightsComposite) {
    if (t.value == mask && t.text[0] == 'F') return t.text;
  }
  return fmt::format("0x{:x}", mask);
}

std::string FormatSddlSid(const Sid& sid, const SddlOptions& options) {
  if (auto alias = AliasForSid(sid, options.domain_sid)) return std::string(*alias);
  return sid.ToString();
}

std::string FormatAceSddl(const Ace& ace, const SddlOptions& options) {
  std::string out = "(";
  out += AceTypeText(ace.type);
  out += ';';
  out += FormatAceFlags(ace.flags);
  out += ';';
  out += FormatMask(ace.mask, ace.type == AceType::kSystemMandatoryLabel);
  out += ';';
  if (ace.object_type) out += ace.object_type->ToString();
  out += ';';
  if (ace.inherited_object_type) out += ace.inherited_object_type->ToString();
  out += ';';
  out += FormatSddlSid(ace.sid, options);
  if (ace.type == AceType::kSystemResourceAttribute && !ace.application_data.empty()) {
    // The attribute as a seventh field; bytes that are no claim attribute have no SDDL form.
    if (auto attribute =
            internal::FormatResourceAttribute(ace.application_data, options.domain_sid)) {
      out += ';';
      out += *attribute;
    }
  } else if (IsCallback(ace.type) && !ace.application_data.empty()) {
    // Windows writes the condition as a seventh field; data that is not a conditional
    // expression has no SDDL form and is left out.
    if (auto condition =
            internal::FormatConditionalExpression(ace.application_data, options.domain_sid)) {
      out += ';';
      out += *condition;
    }
  }
  out += ')';
  return out;
}

std::string FormatSddl(const SecurityDescriptor& sd, const SddlOptions& options) {
  std::string out;
  if (sd.owner) out += "O:" + FormatSddlSid(*sd.owner, options);
  if (sd.group) out += "G:" + FormatSddlSid(*sd.group, options);
  for (const bool is_dacl : {true, false}) {
    const bool present = is_dacl ? sd.HasDacl() : sd.HasSacl();
    if (!present) continue;
    const auto& acl = is_dacl ? sd.dacl : sd.sacl;
    out += is_dacl ? "D:" : "S:";
    out += FormatAclFlags(sd.control, is_dacl);
    if (!acl) {
      out += "NO_ACCESS_CONTROL";
      continue;
    }
    for (const auto& ace : acl->aces) out += FormatAceSddl(ace, options);
  }
  return out;
}

}  // namespace mkeys::acl
