// SPDX-License-Identifier: GPL-3.0-or-later
// Self-relative descriptor bytes: decode or fail cleanly; a decoded descriptor encodes and
// formats as SDDL without trouble, and re-decodes to the same value.
// fuzz-links: mkeys::acl
#include <cstdint>
#include <cstdlib>
#include <span>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto sd = mkeys::acl::SecurityDescriptor::Decode(std::span<const std::uint8_t>(data, size));
  if (!sd) return 0;
  const auto bytes = sd->Encode();
  auto again = mkeys::acl::SecurityDescriptor::Decode(bytes);
  if (!again || !(*again == *sd)) std::abort();
  (void)mkeys::acl::FormatSddl(*sd);
  mkeys::acl::Token token(mkeys::acl::sids::NetworkService(),
                          {{mkeys::acl::sids::Everyone(), false}}, {});
  (void)mkeys::acl::CheckAccess(*sd, token, mkeys::acl::rights::kMaximumAllowed);
  return 0;
}
