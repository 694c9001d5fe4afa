// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to mkeys::acl: the attribute of a resource attribute ACE (RA), between its SDDL form
// ("colour",TS,0x0,"blue","red") and CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1 (MS-DTYP 2.4.10.1).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl::internal {

// Compiles the attribute that starts at text[0] == '(' up to its closing ')': returns the
// relative claim bytes (padded with zeros to 4 bytes) and the characters used. Error positions
// are offsets into `text`.
Result<std::pair<std::vector<std::uint8_t>, std::size_t>> CompileResourceAttribute(
    std::string_view text, const std::optional<Sid>& domain_sid);

// The SDDL of relative claim bytes, or an error when they are malformed.
Result<std::string> FormatResourceAttribute(std::span<const std::uint8_t> data,
                                            const std::optional<Sid>& domain_sid);

}  // namespace mkeys::acl::internal
