// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A key file's name and bytes, classified by keystore: the one place the audit engine asks
// keystore what a key file is. Private to the repair library.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/key_file_check.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::internal {

// Classifies MachineKeys/`file_name` from its bytes (`contents`: the read, or why it failed)
// with keystore's one key-file check (name, parse, name hash, private parts decrypt under the
// machine key) into `facts` (name, contents and container name; the descriptor is the caller's).
// Files not named like containers are not looked into.
void ClassifyKeyFile(const keystore::KeyFileChecker& checker, std::string_view file_name,
                     const Result<std::span<const std::uint8_t>>& contents, KeyFileFacts& facts);

}  // namespace mkeys::repair::internal
