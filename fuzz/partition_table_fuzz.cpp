// SPDX-License-Identifier: GPL-3.0-or-later
// Disk image partition tables (bare NTFS, MBR, GPT): parse or fail cleanly; every partition
// listed lies inside the image, and the NTFS volume check never reads outside it.
// fuzz-links: mkeys::core
// fuzz-sources: keystore/src/image/partition_table.cpp keystore/src/image/memory_image.cpp
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "mkeys/keystore/disk_image.hpp"

namespace img = mkeys::keystore::image;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto src = img::MemoryImage(std::vector<std::uint8_t>(data, data + size), "fuzz.img");
  auto layout = img::ReadPartitionLayout(*src);
  if (!layout) return 0;
  for (const auto& p : layout->partitions) {
    mkeys::fuzz::Check(p.offset <= size && p.length <= size - p.offset,
                       "a listed partition lies outside the image");
    (void)img::CheckNtfsVolume(*src, p);
  }
  auto again = img::ReadPartitionLayout(*src);
  mkeys::fuzz::Check(again.ok() && again->partitions.size() == layout->partitions.size(),
                     "parsing the same image twice gave different answers");
  return 0;
}
