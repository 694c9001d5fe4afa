// SPDX-License-Identifier: GPL-3.0-or-later
// Conditional ACE expressions (MS-DTYP 2.4.4.17, acl/src/conditional_format.cpp): the fuzz
// bytes are a callback ACE's application data; formatting the descriptor as SDDL decodes them.
// Whatever the bytes, FormatSddl returns text (what it cannot decode it writes as data), never
// a crash or a read out of bounds. Seed: `(Member_of {SID(BA)})` in its binary form.
// fuzz-links: mkeys::acl
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mkeys::acl::SecurityDescriptor sd;
  sd.owner = *mkeys::acl::Sid::Parse("S-1-5-18");
  sd.group = sd.owner;
  mkeys::acl::Acl dacl;
  mkeys::acl::Ace ace;
  ace.type = mkeys::acl::AceType::kAccessAllowedCallback;
  ace.mask = 0x120089;
  ace.sid = *mkeys::acl::Sid::Parse("S-1-5-20");
  ace.application_data.assign(data, data + size);
  dacl.aces.push_back(std::move(ace));
  sd.dacl = std::move(dacl);
  const std::string text = mkeys::acl::FormatSddl(sd);
  mkeys::fuzz::Check(!text.empty(), "FormatSddl wrote nothing");
  return 0;
}
