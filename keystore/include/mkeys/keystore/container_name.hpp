// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Container file names as the Microsoft CSPs derive them (docs/formats.md, "File name of a
// container"): <MD5 of the lower-cased name + NUL as 4 LE words>_<MachineGuid>.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mkeys/core/result.hpp"

namespace mkeys::keystore {

// The 32 lower-case hex digits Windows uses for `container_name`
// ("MyCoolContainer" -> "52ab417621a9d74c73e3e0f1bc374e0a").
std::string ContainerHash(std::string_view container_name);

// ContainerHash without allocating: the same 32 lower-case hex digits, written to `out`.
void ContainerHashTo(std::string_view container_name, std::span<char, 32> out);

// Whether `hash_hex` (32 hex digits, either case) is ContainerHash(container_name). Allocates
// nothing: for scans that check every file's name against its contents.
bool ContainerHashMatches(std::string_view container_name, std::string_view hash_hex);

// A container name CryptAcquireContext accepts: 1..260 printable ASCII characters. Errors are
// kInvalidArgument with the offset of a bad byte.
Result<void> ValidateContainerName(std::string_view name);

// "<hash>_<machine_guid>" (the unique container name, PP_UNIQUE_CONTAINER). `machine_guid` is
// used as given; pass it through NormalizeMachineGuid first.
std::string ContainerFileName(std::string_view container_name, std::string_view machine_guid);

// Accepts "c49c7513-8b86-4d0e-90bf-4805804a9318", upper or lower case, with or without braces;
// returns it lower-cased without braces. Errors carry the offset of the first bad character.
Result<std::string> NormalizeMachineGuid(std::string_view text);

// The two halves of a MachineKeys file name, or nullopt when `file_name` does not have the
// form <32 hex>_<guid> (such files are reported, never parsed as containers by name).
struct ContainerFileNameParts {
  std::string hash;          // 32 lower-case hex digits
  std::string machine_guid;  // lower-case
};
std::optional<ContainerFileNameParts> SplitContainerFileName(std::string_view file_name);

// The same check as SplitContainerFileName, allocation-free: views into `file_name`, in the case
// the file name has them (compare with text::EqualsIgnoreAsciiCase, or lower-case them through
// SplitContainerFileName when a message needs them).
struct ContainerFileNameView {
  std::string_view hash;          // 32 hex digits
  std::string_view machine_guid;  // 36 characters, GUID-shaped
};
std::optional<ContainerFileNameView> SplitContainerFileNameView(std::string_view file_name);

}  // namespace mkeys::keystore
