// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to mkeys::acl: conditional-ACE expressions (MS-DTYP 2.4.4.17), between the SDDL text
// "(@User.Title == \"PM\")" and the binary "artx" application data of callback ACEs.

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

// Compiles the expression that starts at text[0] == '(' and returns the application data
// ("artx", tokens, zero padding to 4 bytes) and how many characters the expression used.
// Error positions are offsets into `text`.
Result<std::pair<std::vector<std::uint8_t>, std::size_t>> CompileConditionalExpression(
    std::string_view text, const std::optional<Sid>& domain_sid);

// The SDDL text of a conditional expression, or an error if the bytes are not a well-formed
// "artx" program.
Result<std::string> FormatConditionalExpression(std::span<const std::uint8_t> data,
                                                const std::optional<Sid>& domain_sid);

}  // namespace mkeys::acl::internal
