// SPDX-License-Identifier: GPL-3.0-or-later
// SID strings and SID bytes: parse or fail cleanly; what parses round-trips.
// fuzz-links: mkeys::acl
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/sid_names.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto sid = mkeys::acl::Sid::Parse(text)) {
    auto again = mkeys::acl::Sid::Parse(sid->ToString());
    if (!again || !(*again == *sid)) std::abort();
  }
  (void)mkeys::acl::ResolveName(text);
  if (auto sid = mkeys::acl::Sid::Decode(std::span<const std::uint8_t>(data, size))) {
    if (sid->ByteSize() > size) std::abort();
    auto again = mkeys::acl::Sid::Decode(sid->ToBytes());
    if (!again || !(*again == *sid)) std::abort();
  }
  return 0;
}
