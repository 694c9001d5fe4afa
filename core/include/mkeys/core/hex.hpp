// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Lower-case hex encoding and a strict decoder that says where the input went wrong.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys {

std::string HexEncode(std::span<const std::uint8_t> bytes);
// Accepts upper or lower case; rejects odd lengths and non-hex characters, naming the offset.
Result<std::vector<std::uint8_t>> HexDecode(std::string_view text);

}  // namespace mkeys
