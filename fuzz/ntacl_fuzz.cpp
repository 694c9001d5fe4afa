// SPDX-License-Identifier: GPL-3.0-or-later
// NTACL extended attributes: Samba xattr_NTACL blobs (user.NTACL / security.NTACL) and raw
// system.ntfs_acl descriptors, as the two security stores decode them. Decode or fail cleanly;
// a decoded blob encodes as version 1 and decodes again to the same descriptor.
// fuzz-links: mkeys::keystore
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/security_store.hpp"

using mkeys::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto xattr_store = mkeys::keystore::MakeXattrNtaclStore();
  static const auto ntfs_store = mkeys::keystore::MakeNtfsAclStore();
  const std::span<const std::uint8_t> bytes(data, size);

  if (auto sd = mkeys::keystore::DecodeNtacl(bytes)) {
    const auto blob = mkeys::keystore::EncodeNtaclV1(*sd);
    auto again = mkeys::keystore::DecodeNtacl(blob);
    Check(again.ok(), "an NTACL blob we encoded does not decode");
    Check(*again == *sd, "an NTACL blob does not round-trip");
    Check(xattr_store->EncodeRaw(*sd) == blob, "the xattr store encodes differently");
    (void)mkeys::acl::FormatSddl(*sd);
  }
  auto via_store = xattr_store->DecodeRaw(bytes);
  auto direct = mkeys::keystore::DecodeNtacl(bytes);
  Check(via_store.ok() == direct.ok(), "xattr store and DecodeNtacl disagree");

  if (auto sd = ntfs_store->DecodeRaw(bytes)) {
    auto again = ntfs_store->DecodeRaw(ntfs_store->EncodeRaw(*sd));
    Check(again.ok() && *again == *sd, "a system.ntfs_acl value does not round-trip");
  }
  return 0;
}
