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
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::internal {

// The classification, in the shape of keystore's (field names as keystore::KeyFileVerdict).
struct KeyFileVerdict {
  bool not_a_container_name = false;
  bool foreign_machine_guid = false;
  std::optional<keystore::ContainerFileView> file;  // views into the bytes
  bool name_hash_mismatch = false;
  bool corrupt = false;
  std::string problem;
  std::string_view name() const { return file ? file->name : std::string_view(); }
};

// Classifies MachineKeys/`file_name` from its bytes (`contents`: the read, or why it failed)
// into `facts` (name, contents and container name; the descriptor is the caller's). Files not
// named like containers are not looked into.
void ClassifyKeyFile(const keystore::MachineRoot& root, std::string_view file_name,
                     const Result<std::span<const std::uint8_t>>& contents, KeyFileFacts& facts);

}  // namespace mkeys::repair::internal
