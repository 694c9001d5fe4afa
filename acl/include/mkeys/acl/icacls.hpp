// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// icacls notation: a DACL rendered as icacls prints it, grant specs as administrators type
// them, and `icacls /save` files (UTF-16LE, CRLF, path line + SDDL line per object).

#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/ace.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl {

// One line per ACE as icacls prints it: "NT AUTHORITY\NETWORK SERVICE:(R)",
// "BUILTIN\Administrators:(OI)(CI)(F)", "(I)" for inherited, "(DENY)" for deny ACEs, and the
// special-rights list "(RD,WD,AD,REA,WEA,RA,WA,RC,S)" when no simple right matches.
std::vector<std::string> FormatIcacls(const Acl& dacl);
// The rights part alone: "F", "M", "RX", "R", "W", "D", or "(RD,WD,...)".
std::string FormatIcaclsRights(AccessMask mask);

// Rights as icacls takes them: "F", "M", "RX", "R", "W", "D", "N", a parenthesised or bare
// comma list of specific rights ("RD,WDAC,WO", "(RD,WD)"), GR/GW/GE/GA, or a hex mask
// ("0x40000"). Errors carry the offset.
Result<AccessMask> ParseIcaclsRights(std::string_view text);

// A grant spec as typed after /grant: `"NETWORK SERVICE":(OI)(CI)R` or `NS:R` — the identity
// (resolved with ResolveName), inheritance flags and rights. Quotes are optional.
struct IcaclsGrant {
  Sid sid;
  std::uint8_t flags = 0;
  AccessMask mask = 0;
};
Result<IcaclsGrant> ParseIcaclsGrant(std::string_view text);

// icacls /save files.
struct IcaclsSaveEntry {
  std::string path;  // as written: relative to the parent of the saved directory, '\' separated
  std::string sddl;  // "D:..." (maybe with "S:...")
};
// Decodes UTF-16LE (no BOM expected; a BOM is tolerated), CRLF lines, in pairs. Errors carry
// the byte offset.
Result<std::vector<IcaclsSaveEntry>> ParseIcaclsSave(std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> FormatIcaclsSave(const std::vector<IcaclsSaveEntry>& entries);

}  // namespace mkeys::acl
