// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/key_file_class.hpp"

#include <fmt/format.h>

#include "mkeys/keystore/container_name.hpp"

namespace mkeys::repair::internal {
namespace {

// THE call into keystore: what the name and the bytes say. (When keystore has one function for
// classification and integrity, keystore::CheckKeyFileContents(root, file_name, contents), this
// body becomes that call and KeyFileVerdict an alias of keystore::KeyFileVerdict.)
KeyFileVerdict Classify(const keystore::MachineRoot& root, std::string_view file_name,
                        std::span<const std::uint8_t> contents) {
  KeyFileVerdict v;
  const auto parts = keystore::SplitContainerFileNameView(file_name);
  v.not_a_container_name = !parts;
  if (!parts) return v;
  v.foreign_machine_guid =
      !keystore::EqualsIgnoreAsciiCase(parts->machine_guid, root.machine_guid());
  if (contents.empty()) {
    v.corrupt = true;
    v.problem = "zero-length file";
    return v;
  }
  auto file = keystore::ContainerFileView::Parse(contents);
  if (!file) {
    const Error& e = file.error();
    v.corrupt = true;
    v.problem =
        e.position() ? fmt::format("{} (at offset {})", e.message(), *e.position()) : e.message();
    return v;
  }
  v.file = *file;
  v.name_hash_mismatch = !keystore::ContainerHashMatches(file->name, parts->hash);
  return v;
}

}  // namespace

void ClassifyKeyFile(const keystore::MachineRoot& root, std::string_view file_name,
                     const Result<std::span<const std::uint8_t>>& contents, KeyFileFacts& facts) {
  facts.file_name = file_name;
  if (!contents) {
    // Could not be read: only the name can be judged.
    const KeyFileVerdict name_only = Classify(root, file_name, {});
    facts.not_a_container_name = name_only.not_a_container_name;
    facts.foreign_machine_guid = name_only.foreign_machine_guid;
    facts.unreadable = !name_only.not_a_container_name;
    if (facts.unreadable) facts.problem = contents.error().message();
    return;
  }
  KeyFileVerdict v = Classify(root, file_name, *contents);
  facts.not_a_container_name = v.not_a_container_name;
  facts.foreign_machine_guid = v.foreign_machine_guid;
  facts.corrupt = v.corrupt;
  facts.problem = std::move(v.problem);
  facts.name_hash_mismatch = v.name_hash_mismatch;
  facts.container_name = v.name();
}

}  // namespace mkeys::repair::internal
