// SPDX-License-Identifier: GPL-3.0-or-later
// icacls /save files (UTF-16LE) and icacls grant specs: parse or fail cleanly.
// fuzz-links: mkeys::acl
#include <cstdint>
#include <span>
#include <string_view>

#include "mkeys/acl/icacls.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)mkeys::acl::ParseIcaclsSave(std::span<const std::uint8_t>(data, size));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mkeys::acl::ParseIcaclsGrant(text);
  (void)mkeys::acl::ParseIcaclsRights(text);
  return 0;
}
