// SPDX-License-Identifier: GPL-3.0-or-later
// CNG key files (Crypto/Keys, Crypto/SystemKeys): parse or fail cleanly with an offset inside
// the input; a file rebuilt from what parsed (name, type, Modified, public blob, private parts)
// parses to the same key; BCRYPT public blobs decode on their own.
// fuzz-links: mkeys::keystore
// fuzz-requires: keystore/src/cng_key_file.cpp
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.hpp"
#include "mkeys/keystore/cng_key_file.hpp"

using mkeys::fuzz::Check;
namespace ks = mkeys::keystore;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  (void)ks::ParseBcryptPublicBlob(bytes);
  (void)ks::LooksLikeCngKeyFile(bytes);
  auto file = ks::ParseCngKeyFile(bytes);
  if (!file) {
    Check(file.error().position().value_or(0) <= size, "an error offset lies past the input");
    return 0;
  }
  (void)file->DescribeKey();
  (void)ks::CngKeyHash(file->name);
  if (!file->public_key || !file->modified) return 0;
  ks::CngKeyFileSpec spec;
  spec.name = file->name;
  spec.type = file->type;
  spec.modified = *file->modified;
  for (const auto& p : file->public_properties) {
    if (p.value.size() >= 4 && ks::ParseBcryptPublicBlob(p.value).ok()) {
      spec.public_blob.assign(p.value.begin(), p.value.end());
    }
  }
  spec.private_properties.assign(file->private_properties.begin(), file->private_properties.end());
  spec.private_key.assign(file->private_key.begin(), file->private_key.end());
  const auto rebuilt = ks::BuildCngKeyFile(spec);
  auto again = ks::ParseCngKeyFile(rebuilt);
  Check(again.ok(), "a CNG key file we rebuilt does not parse");
  Check(again->name == file->name && again->type == file->type,
        "a CNG key file's name or type changed when rebuilt");
  Check(again->DescribeKey() == file->DescribeKey(), "a CNG key file's key changed when rebuilt");
  return 0;
}
