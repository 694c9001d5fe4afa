// SPDX-License-Identifier: GPL-3.0-or-later
// SDDL parser: any text either parses or fails with an error; what parses formats to SDDL
// that parses again to the same descriptor, and encodes to bytes that decode again.
// fuzz-links: mkeys::acl
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mkeys/acl/sddl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto sd = mkeys::acl::ParseSddl(text);
  if (!sd) return 0;
  const std::string formatted = mkeys::acl::FormatSddl(*sd);
  auto again = mkeys::acl::ParseSddl(formatted);
  if (!again) std::abort();  // our own output must parse
  const auto bytes = sd->Encode();
  auto decoded = mkeys::acl::SecurityDescriptor::Decode(bytes);
  if (!decoded) std::abort();  // our own bytes must decode
  if (decoded->Encode() != bytes) std::abort();
  return 0;
}
