// SPDX-License-Identifier: GPL-3.0-or-later
// The registry values mkeys decodes from SAM and SECURITY hives (keystore/hive_values.hpp):
// byte 0 picks the decoder, the rest is the value. Decode or fail cleanly; what decodes
// re-encodes to something that decodes to the same value (Privilgs and ActSysAc byte for byte).
// fuzz-links: mkeys::keystore
#include <cstdint>
#include <span>

#include "fuzz_check.hpp"
#include "mkeys/keystore/hive_values.hpp"

using mkeys::fuzz::Check;
namespace hive = mkeys::keystore::hive;

namespace {

template <typename Decode, typename Encode>
void RoundTrip(std::span<const std::uint8_t> bytes, Decode decode, Encode encode,
               const char* what) {
  auto value = decode(bytes);
  if (!value) {
    Check(value.error().position().has_value(), "a decode error names no offset");
    return;
  }
  const auto encoded = encode(*value);
  auto again = decode(encoded);
  Check(again.ok() && *again == *value, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0: {
      if (auto set = hive::DecodePrivilgs(bytes)) {
        const auto encoded = hive::EncodePrivilgs(*set);
        Check(std::equal(encoded.begin(), encoded.end(), bytes.begin(), bytes.end()),
              "Privilgs does not re-encode byte for byte");
        for (const auto& e : set->entries) (void)hive::PrivilegeName(e.luid_low);
      }
      break;
    }
    case 1:
      if (auto mask = hive::DecodeActSysAc(bytes)) {
        Check(hive::EncodeActSysAc(*mask).size() == 4, "ActSysAc is not 4 bytes");
        (void)hive::LogonRightNames(*mask);
      }
      break;
    case 2:
      RoundTrip(bytes, hive::DecodeDomainV, hive::EncodeDomainV, "domain V does not round-trip");
      break;
    case 3:
      RoundTrip(bytes, hive::DecodeUserV, hive::EncodeUserV, "user V does not round-trip");
      break;
    case 4:
      RoundTrip(bytes, hive::DecodeAliasC, hive::EncodeAliasC, "alias C does not round-trip");
      break;
    case 5:
      RoundTrip(bytes, hive::DecodeRegMultiString, hive::EncodeRegMultiString,
                "REG_MULTI_SZ does not round-trip");
      break;
    default:
      RoundTrip(bytes, hive::DecodeRegString, hive::EncodeRegString, "REG_SZ does not round-trip");
      break;
  }
  return 0;
}
