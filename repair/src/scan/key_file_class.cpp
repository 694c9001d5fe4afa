// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/key_file_class.hpp"

namespace mkeys::repair::internal {
void ClassifyKeyFile(const keystore::KeyFileChecker& checker, std::string_view file_name,
                     const Result<std::span<const std::uint8_t>>& contents, KeyFileFacts& facts) {
  facts.file_name = file_name;
  if (!contents) {
    // Could not be read: only the name can be judged.
    const keystore::KeyFileVerdict name_only = checker.Check(file_name, {});
    facts.not_a_container_name = name_only.not_a_container_name;
    facts.foreign_machine_guid = name_only.foreign_machine_guid;
    // Too large to be a container is corrupt; a permission or I/O error is only unreadable.
    const bool io = contents.error().code() == ErrorCode::kIo;
    facts.unreadable = io && !name_only.not_a_container_name;
    facts.corrupt = !io && !name_only.not_a_container_name;
    if (facts.unreadable || facts.corrupt) facts.problem = contents.error().message();
    return;
  }
  // Files not named like containers are not looked into (MK017 says what they are).
  keystore::KeyFileVerdict v = checker.Check(file_name, {});
  if (!v.not_a_container_name) v = checker.Check(file_name, *contents);
  facts.not_a_container_name = v.not_a_container_name;
  facts.foreign_machine_guid = v.foreign_machine_guid;
  // A file that parses but sits under another MachineGuid or another name cannot decrypt here
  // (the seal binds both): MK008/MK009 say why, so that is not called corruption as well.
  const bool moved = v.foreign_machine_guid || v.name_hash_mismatch;
  facts.corrupt = v.corrupt && !v.not_a_container_name && !(moved && v.file.has_value());
  facts.problem = std::move(v.problem);
  facts.name_hash_mismatch = v.name_hash_mismatch;
  facts.container_name = v.name();
}

}  // namespace mkeys::repair::internal
