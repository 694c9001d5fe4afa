// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to mkeys::acl: the SID string parser used by Sid::Parse and by the SDDL parser,
// which needs to know where a SID ends inside a longer string.

#include <cstddef>
#include <string_view>
#include <utility>

#include "mkeys/acl/sid.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::acl::internal {

// Parses an "S-..." string at the start of `text` and returns the SID and the number of
// characters it used. Stops at the first character that cannot continue the SID. Error
// positions are offsets into `text`.
Result<std::pair<Sid, std::size_t>> ParseSidPrefix(std::string_view text);

}  // namespace mkeys::acl::internal
