// SPDX-License-Identifier: GPL-3.0-or-later
// The certificate store's Blob values and CRYPT_KEY_PROV_INFO: parse or fail cleanly with an
// offset inside the input; what parses re-encodes to what parses the same.
// fuzz-links: mkeys::keystore
// fuzz-requires: keystore/src/cert_store.cpp
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "mkeys/keystore/cert_store.hpp"

using mkeys::fuzz::Check;
namespace ks = mkeys::keystore;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  if (auto info = ks::ParseKeyProvInfo(bytes)) {
    auto again = ks::ParseKeyProvInfo(ks::EncodeKeyProvInfo(*info));
    Check(again.ok(), "an encoded CRYPT_KEY_PROV_INFO does not parse");
    Check(again->container == info->container && again->provider == info->provider &&
              again->provider_type == info->provider_type && again->key_spec == info->key_spec,
          "CRYPT_KEY_PROV_INFO changed in a round trip");
  }
  auto props = ks::ParseCertBlob(bytes);
  if (!props) {
    Check(props.error().position().value_or(0) <= size, "an error offset lies past the input");
    return 0;
  }
  std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> copy;
  for (const auto& p : *props) {
    copy.emplace_back(p.id, std::vector<std::uint8_t>(p.value.begin(), p.value.end()));
    if (p.id == ks::kCertPropKeyProvInfo) (void)ks::ParseKeyProvInfo(p.value);
  }
  auto again = ks::ParseCertBlob(ks::EncodeCertBlob(copy));
  Check(again.ok() && again->size() == props->size(), "a re-encoded Blob differs");
  return 0;
}
