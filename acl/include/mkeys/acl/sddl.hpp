// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.5.1: Security Descriptor Definition Language, parsed and formatted exactly as
// Windows' ConvertStringSecurityDescriptorToSecurityDescriptorW and
// ConvertSecurityDescriptorToStringSecurityDescriptorW do (see the vectors in
// tests/data/windows-sddl).

#include <optional>
#include <string>
#include <string_view>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/ace.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

struct SddlOptions {
  // Expands domain-relative aliases (DA, DU, LA, ...) and formats SIDs in it as aliases.
  std::optional<Sid> domain_sid;
};

// Parses SDDL. Errors carry the character offset of the problem.
Result<SecurityDescriptor> ParseSddl(std::string_view text, const SddlOptions& options = {});
// Windows' canonical SDDL for a descriptor.
std::string FormatSddl(const SecurityDescriptor& sd, const SddlOptions& options = {});

// One ACE as SDDL: "(A;;FR;;;NS)" — used in explanations.
std::string FormatAceSddl(const Ace& ace, const SddlOptions& options = {});
// An access mask as SDDL writes it ("FA", "FR", "CCDCLC...", "0x12019f").
std::string FormatSddlRights(AccessMask mask);
// An SDDL rights field ("FA", "0x1f01ff", "CCDC") to a mask.
Result<AccessMask> ParseSddlRights(std::string_view text);
// An SID as SDDL writes it: its alias when it has one, else the S- string.
std::string FormatSddlSid(const Sid& sid, const SddlOptions& options = {});

}  // namespace mkeys::acl
