// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Disk images read without a mount: the bytes of an image file (raw, VHD, VHDX) as a block
// source, and the partition table on it (none for a bare NTFS volume, MBR, GPT).
// The parsers read only through BlockSource::ReadAt and check every offset against the
// image size; they are pure otherwise (fuzzed by fuzz/partition_table_fuzz.cpp).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys::keystore::image {

enum class ImageFormat { kRaw, kVhd, kVhdx, kMemory };
std::string_view ImageFormatName(ImageFormat format);

// The bytes of a disk image. Not thread-safe.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  virtual ImageFormat format() const = 0;
  // Size of the disk the image holds (the virtual disk for VHD/VHDX), in bytes.
  virtual std::uint64_t size() const = 0;
  virtual bool writable() const = 0;
  // Name used in error messages (the image path).
  virtual const std::string& name() const = 0;
  // Reads exactly out.size() bytes at `offset`; reading past the end is an error.
  virtual Result<void> ReadAt(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  // Writes exactly in.size() bytes at `offset` (raw images opened writable only).
  virtual Result<void> WriteAt(std::uint64_t offset, std::span<const std::uint8_t> in) = 0;
  // fsync of the image file.
  virtual Result<void> Sync() = 0;
};

// Opens an image file: VHDX ("vhdxfile" at 0) and VHD ("conectix" footer) through libvhdi,
// read-only always (writable=true on them is refused with kUnsupported, saying how to convert);
// anything else as a raw image, opened O_RDONLY unless `writable`.
Result<std::unique_ptr<BlockSource>> OpenImageFile(const std::filesystem::path& path,
                                                   bool writable);

// A block source over bytes in memory (tests, fuzzing). Writes change the buffer.
std::unique_ptr<BlockSource> MemoryImage(std::vector<std::uint8_t> bytes,
                                         std::string name = "memory");

enum class TableKind { kNone, kMbr, kGpt };  // kNone: the image is a bare volume
std::string_view TableKindName(TableKind kind);

struct Partition {
  int index = 0;                // 1-based, as in the table (MBR slot 1..4, GPT entry number)
  std::uint64_t offset = 0;     // byte offset of the first sector in the image
  std::uint64_t length = 0;     // bytes
  std::string type;             // "ntfs" (MBR 0x07), "basic-data", "efi-system", "msr",
                                // "windows-recovery", "mbr-0x0c", "gpt-<guid>" ...
  std::string type_guid;        // GPT only, canonical text form (upper case)
  std::string name;             // GPT only, the partition name (UTF-8)
  bool ntfs_candidate = false;  // type allows NTFS (MBR 0x07, GPT basic data / recovery)
};

struct PartitionLayout {
  TableKind kind = TableKind::kNone;
  std::uint32_t sector_size = 512;
  std::vector<Partition> partitions;  // for kNone: one entry covering the whole image
};

// True when `boot_sector` (at least 512 bytes) is an NTFS boot sector: "NTFS    " at offset 3,
// a power-of-two sector size 256..4096 at 11, and 0x55AA at 510.
bool IsNtfsBootSector(std::span<const std::uint8_t> boot_sector);

// Reads the partition table of `source`: a bare NTFS volume, an MBR (four primary entries;
// extended partitions are listed, not followed) or a GPT behind a protective MBR (header at
// LBA 1 with 512- or 4096-byte sectors; header and entry-array CRC32s checked).
// Errors (kCorrupt/kUnsupported, with the byte offset): not NTFS and no partition table, an
// image shorter than its table, a bad CRC, a partition ending past the end of the image.
Result<PartitionLayout> ReadPartitionLayout(BlockSource& source);

// Checks the NTFS boot sector at partition `p`: kCorrupt when it is not NTFS or when the
// volume it describes is longer than the partition or the image (a truncated image).
Result<void> CheckNtfsVolume(BlockSource& source, const Partition& p);

// CRC-32 (IEEE 802.3, as in GPT and zlib).
std::uint32_t Crc32(std::span<const std::uint8_t> bytes);

}  // namespace mkeys::keystore::image
