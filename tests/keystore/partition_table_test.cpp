// SPDX-License-Identifier: GPL-3.0-or-later
// Partition tables of disk images, built in memory: bare NTFS, MBR, GPT, and their failures.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/disk_image.hpp"

namespace img = mkeys::keystore::image;

namespace {

using Bytes = std::vector<std::uint8_t>;

void Put(Bytes& b, std::size_t at, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i)
    b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

// An NTFS boot sector at `at` describing a volume of `sectors` 512-byte sectors.
void NtfsBoot(Bytes& b, std::size_t at, std::uint64_t sectors) {
  std::memcpy(&b[at + 3], "NTFS    ", 8);
  Put(b, at + 11, 512, 2);
  b[at + 13] = 8;
  Put(b, at + 40, sectors - 1, 8);
  b[at + 510] = 0x55;
  b[at + 511] = 0xAA;
}

void MbrEntry(Bytes& b, int slot, std::uint8_t type, std::uint32_t first, std::uint32_t count) {
  const std::size_t at = 446 + 16 * static_cast<std::size_t>(slot);
  b[at + 4] = type;
  Put(b, at + 8, first, 4);
  Put(b, at + 12, count, 4);
  b[510] = 0x55;
  b[511] = 0xAA;
}

// GUID text -> on-disk bytes (first three fields little-endian).
void Guid(Bytes& b, std::size_t at, const char* text) {
  unsigned a, b1, c, d[8];
  std::sscanf(text, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &a, &b1, &c, &d[0], &d[1], &d[2],
              &d[3], &d[4], &d[5], &d[6], &d[7]);
  Put(b, at, a, 4);
  Put(b, at + 4, b1, 2);
  Put(b, at + 6, c, 2);
  for (int i = 0; i < 8; ++i)
    b[at + 8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d[i]);
}

constexpr const char* kEfi = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
constexpr const char* kBasic = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

// A GPT disk of `sectors` sectors: EFI at 2048..4095, basic data at 4096..last.
Bytes GptDisk(std::uint64_t sectors, std::uint64_t last) {
  Bytes b(sectors * 512);
  MbrEntry(b, 0, 0xEE, 1, static_cast<std::uint32_t>(sectors - 1));
  const std::size_t array = 2 * 512;
  Guid(b, array, kEfi);
  Put(b, array + 32, 2048, 8);
  Put(b, array + 40, 4095, 8);
  Guid(b, array + 128, kBasic);
  Put(b, array + 128 + 32, 4096, 8);
  Put(b, array + 128 + 40, last, 8);
  auto name = mkeys::text::Utf8ToUtf16Le("Windows");
  std::memcpy(&b[array + 128 + 56], name.data(), name.size());
  const std::size_t h = 512;
  std::memcpy(&b[h], "EFI PART", 8);
  Put(b, h + 8, 0x00010000, 4);
  Put(b, h + 12, 92, 4);
  Put(b, h + 24, 1, 8);
  Put(b, h + 72, 2, 8);
  Put(b, h + 80, 128, 4);
  Put(b, h + 84, 128, 4);
  Put(b, h + 88, img::Crc32(std::span(b).subspan(array, 128 * 128)), 4);
  Put(b, h + 16, img::Crc32(std::span(b).subspan(h, 92)), 4);
  return b;
}

std::string ErrorText(const mkeys::Result<img::PartitionLayout>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().ToString();
}

}  // namespace

TEST_CASE("CRC32 matches the IEEE check value", "[keystore][image]") {
  const std::string s = "123456789";
  CHECK(img::Crc32(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())) ==
        0xCBF43926u);
}

TEST_CASE("A bare NTFS volume is one partition covering the image", "[keystore][image]") {
  Bytes b(64 * 512);
  NtfsBoot(b, 0, 64);
  auto src = img::MemoryImage(b, "vol.img");
  auto layout = img::ReadPartitionLayout(*src);
  REQUIRE(layout.ok());
  CHECK(layout->kind == img::TableKind::kNone);
  REQUIRE(layout->partitions.size() == 1);
  CHECK(layout->partitions[0].offset == 0);
  CHECK(layout->partitions[0].length == b.size());
  CHECK(img::CheckNtfsVolume(*src, layout->partitions[0]).ok());
}

TEST_CASE("A truncated bare NTFS volume says how many bytes it needs", "[keystore][image]") {
  Bytes b(64 * 512);
  NtfsBoot(b, 0, 128);
  auto src = img::MemoryImage(b, "vol.img");
  auto layout = img::ReadPartitionLayout(*src);
  REQUIRE(layout.ok());
  auto check = img::CheckNtfsVolume(*src, layout->partitions[0]);
  REQUIRE_FALSE(check.ok());
  CHECK_THAT(check.error().ToString(), Catch::Contains("truncated image") &&
                                           Catch::Contains("needs 65024 bytes") &&
                                           Catch::Contains("vol.img"));
}

TEST_CASE("An MBR disk lists its NTFS partition", "[keystore][image]") {
  Bytes b(200 * 512);
  MbrEntry(b, 0, 0x0C, 8, 32);
  MbrEntry(b, 1, 0x07, 64, 128);
  NtfsBoot(b, 64 * 512, 128);
  auto src = img::MemoryImage(b);
  auto layout = img::ReadPartitionLayout(*src);
  REQUIRE(layout.ok());
  CHECK(layout->kind == img::TableKind::kMbr);
  REQUIRE(layout->partitions.size() == 2);
  CHECK(layout->partitions[0].type == "mbr-0x0c");
  CHECK_FALSE(layout->partitions[0].ntfs_candidate);
  CHECK(layout->partitions[1].index == 2);
  CHECK(layout->partitions[1].type == "ntfs");
  CHECK(layout->partitions[1].offset == 64 * 512);
  CHECK(img::CheckNtfsVolume(*src, layout->partitions[1]).ok());
  auto not_ntfs = img::CheckNtfsVolume(*src, layout->partitions[0]);
  REQUIRE_FALSE(not_ntfs.ok());
  CHECK_THAT(not_ntfs.error().ToString(), Catch::Contains("partition 1 is not an NTFS volume"));
}

TEST_CASE("An MBR partition past the end of the image is an error", "[keystore][image]") {
  Bytes b(100 * 512);
  MbrEntry(b, 0, 0x07, 64, 128);
  auto src = img::MemoryImage(b, "short.img");
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src)),
             Catch::Contains("partition 1 (ntfs)") &&
                 Catch::Contains("past the end of the image") && Catch::Contains("51200 bytes"));
}

TEST_CASE("A GPT disk lists EFI and basic data partitions with names", "[keystore][image]") {
  auto b = GptDisk(8192, 8000);
  auto src = img::MemoryImage(b);
  auto layout = img::ReadPartitionLayout(*src);
  REQUIRE(layout.ok());
  CHECK(layout->kind == img::TableKind::kGpt);
  REQUIRE(layout->partitions.size() == 2);
  CHECK(layout->partitions[0].type == "efi-system");
  CHECK(layout->partitions[0].offset == 2048u * 512);
  CHECK(layout->partitions[0].length == 2048u * 512);
  CHECK(layout->partitions[1].type == "basic-data");
  CHECK(layout->partitions[1].type_guid == kBasic);
  CHECK(layout->partitions[1].name == "Windows");
  CHECK(layout->partitions[1].ntfs_candidate);
  CHECK(layout->partitions[1].length == (8000u - 4096 + 1) * 512);
}

TEST_CASE("GPT header and entry array CRCs are checked", "[keystore][image]") {
  auto header = GptDisk(8192, 8000);
  header[512 + 24] ^= 1;  // current LBA changed, CRC not updated
  auto src = img::MemoryImage(header);
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src)),
             Catch::Contains("GPT header: bad CRC32") && Catch::Contains("offset 528"));
  auto array = GptDisk(8192, 8000);
  array[2 * 512 + 128 + 56] = 'X';  // partition name changed
  auto src2 = img::MemoryImage(array);
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src2)),
             Catch::Contains("GPT entry array: bad CRC32") && Catch::Contains("offset 1024"));
}

TEST_CASE("A GPT partition past the end of the image is an error", "[keystore][image]") {
  auto b = GptDisk(8192, 9000);
  auto src = img::MemoryImage(b, "gpt.img");
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src)),
             Catch::Contains("gpt.img") && Catch::Contains("partition 2 (basic-data)") &&
                 Catch::Contains("past the end of the image"));
}

TEST_CASE("An image that is neither NTFS nor partitioned says so", "[keystore][image]") {
  Bytes zeros(4096);
  auto src = img::MemoryImage(zeros, "zeros.img");
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src)),
             Catch::Contains("not an NTFS volume and no partition table"));
  Bytes tiny(100);
  auto src2 = img::MemoryImage(tiny, "tiny.img");
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src2)),
             Catch::Contains("truncated image") && Catch::Contains("the image has 100"));
  Bytes protective(8192);
  MbrEntry(protective, 0, 0xEE, 1, 15);
  auto src3 = img::MemoryImage(protective);
  CHECK_THAT(ErrorText(img::ReadPartitionLayout(*src3)),
             Catch::Contains("protective MBR") && Catch::Contains("no \"EFI PART\""));
}
