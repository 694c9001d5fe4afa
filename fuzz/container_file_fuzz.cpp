// SPDX-License-Identifier: GPL-3.0-or-later
// Key container files (Windows CAPI and mkeys' own): parse or fail cleanly; what parses
// serialises to bytes that parse to the same file; public key blobs and sealed private parts
// are decoded as the key store does.
// fuzz-links: mkeys::keystore
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_check.hpp"
#include "mkeys/core/secret_bytes.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/keys.hpp"

using mkeys::fuzz::Check;
namespace ks = mkeys::keystore;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mkeys::SecretBytes master_key(std::vector<std::uint8_t>(32, 0x5a));
  const std::span<const std::uint8_t> bytes(data, size);
  (void)ks::ParsePublicBlob(bytes);

  auto file = ks::ContainerFile::Parse(bytes);
  if (!file) return 0;
  (void)file->DescribeKeys();
  const auto serialized = file->Serialize();
  auto again = ks::ContainerFile::Parse(serialized);
  Check(again.ok(), "a container file we serialised does not parse");
  Check(again->Serialize() == serialized, "a container file does not round-trip");
  Check(again->name == file->name && again->format == file->format,
        "a container file's name or format changed in a round trip");
  for (const auto* slot : {&file->signature, &file->exchange}) {
    if (!slot->has_value()) continue;
    if (!(*slot)->public_blob.empty()) {
      Check(ks::ParsePublicBlob((*slot)->public_blob).ok(),
            "a parsed container holds a public blob that does not parse");
    }
    if (file->format == ks::ContainerFormat::kMkeys) {
      (void)ks::UnsealPrivatePart(master_key, file->name, (*slot)->private_blob);
    }
  }
  return 0;
}
