// SPDX-License-Identifier: GPL-3.0-or-later
// Partition tables of disk images: bare NTFS volume, MBR, GPT (UEFI spec, chapter 5).
#include <array>
#include <cstdio>
#include <string>

#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/disk_image.hpp"

namespace mkeys::keystore::image {
namespace {

constexpr std::size_t kSector = 512;
constexpr std::size_t kMbrEntries = 446;
constexpr std::uint8_t kMbrTypeNtfs = 0x07;
constexpr std::uint8_t kMbrTypeProtective = 0xEE;
constexpr std::size_t kGptMinHeader = 92;
constexpr std::uint64_t kGptMaxArrayBytes = 1u << 20;  // 1 MiB: 8192 entries of 128 bytes

Error Corrupt(const BlockSource& src, std::string message, std::uint64_t offset) {
  return Error(ErrorCode::kCorrupt, std::move(message))
      .At(static_cast<std::size_t>(offset))
      .On(src.name());
}

// Reads `len` bytes at `offset`, or says the image is too short to hold what it names.
Result<std::vector<std::uint8_t>> ReadRange(BlockSource& src, std::uint64_t offset,
                                            std::uint64_t len, std::string_view what) {
  if (offset > src.size() || len > src.size() - offset) {
    return Corrupt(src,
                   "truncated image: " + std::string(what) + " needs bytes " +
                       std::to_string(offset) + ".." + std::to_string(offset + len) +
                       " but the image has " + std::to_string(src.size()),
                   offset);
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
  MKEYS_TRY(src.ReadAt(offset, out));
  return out;
}

std::string GuidText(std::span<const std::uint8_t> g) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
                le::Read32(g, 0), le::Read16(g, 4), le::Read16(g, 6), g[8], g[9], g[10], g[11],
                g[12], g[13], g[14], g[15]);
  return buf;
}

struct KnownGuid {
  const char* guid;
  const char* type;
  bool ntfs;
};
constexpr std::array<KnownGuid, 5> kGptTypes{{
    {"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "basic-data", true},
    {"DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "windows-recovery", true},
    {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "efi-system", false},
    {"E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "msr", false},
    {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "linux-data", false},
}};

bool AllZero(std::span<const std::uint8_t> b) {
  for (auto x : b)
    if (x != 0) return false;
  return true;
}

std::string Hex8(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// Every partition must lie inside the image: one pointing past the end means a truncated
// image or a damaged table, and reading it would fail half-way.
Result<void> CheckInside(BlockSource& src, const Partition& p, std::uint64_t table_offset) {
  if (p.offset > src.size() || p.length > src.size() - p.offset) {
    return Corrupt(src,
                   "partition " + std::to_string(p.index) + " (" + p.type + ") spans bytes " +
                       std::to_string(p.offset) + ".." + std::to_string(p.offset + p.length) +
                       ", past the end of the image (" + std::to_string(src.size()) +
                       " bytes): truncated image or bad partition table",
                   table_offset);
  }
  return Ok();
}

Result<PartitionLayout> ReadMbr(BlockSource& src, std::span<const std::uint8_t> mbr) {
  PartitionLayout layout;
  layout.kind = TableKind::kMbr;
  for (int i = 0; i < 4; ++i) {
    const std::size_t at = kMbrEntries + 16 * static_cast<std::size_t>(i);
    const std::uint8_t type = mbr[at + 4];
    const std::uint64_t first = le::Read32(mbr, at + 8);
    const std::uint64_t count = le::Read32(mbr, at + 12);
    if (type == 0 || count == 0) continue;
    Partition p;
    p.index = i + 1;
    p.offset = first * kSector;
    p.length = count * kSector;
    char name[16];
    std::snprintf(name, sizeof name, "mbr-0x%02x", type);
    p.type = type == kMbrTypeNtfs ? "ntfs" : name;
    p.ntfs_candidate = type == kMbrTypeNtfs || type == 0x27;  // 0x27: Windows recovery
    MKEYS_TRY(CheckInside(src, p, at));
    layout.partitions.push_back(std::move(p));
  }
  return layout;
}

Result<Partition> ParseGptEntry(std::span<const std::uint8_t> e, int index, std::uint32_t sector) {
  Partition p;
  p.index = index;
  p.type_guid = GuidText(e.subspan(0, 16));
  p.type = "gpt-" + text::ToLowerAscii(p.type_guid);
  for (const auto& known : kGptTypes) {
    if (p.type_guid == known.guid) {
      p.type = known.type;
      p.ntfs_candidate = known.ntfs;
    }
  }
  const std::uint64_t first = le::Read64(e, 32);
  const std::uint64_t last = le::Read64(e, 40);
  if (last < first || last >= (UINT64_MAX / sector) - 1) {
    return Error(ErrorCode::kCorrupt, "GPT entry " + std::to_string(index) + ": last LBA " +
                                          std::to_string(last) + " before first LBA " +
                                          std::to_string(first));
  }
  p.offset = first * sector;
  p.length = (last - first + 1) * sector;
  // Name: 36 UTF-16LE code units, NUL-padded.
  auto raw = e.subspan(56, 72);
  std::size_t units = 0;
  while (units < 36 && le::Read16(raw, units * 2) != 0) ++units;
  p.name = text::Utf16LeToUtf8(raw.first(units * 2)).value_or("?");
  return p;
}

Result<void> CheckGptHeaderCrc(BlockSource& src, std::vector<std::uint8_t> header,
                               std::uint64_t at) {
  const std::uint32_t stored = le::Read32(header, 16);
  le::Set32(header, 16, 0);
  const std::uint32_t computed = Crc32(header);
  if (stored != computed) {
    return Corrupt(
        src, "GPT header: bad CRC32 (stored " + Hex8(stored) + ", computed " + Hex8(computed) + ")",
        at + 16);
  }
  return Ok();
}

Result<PartitionLayout> ReadGpt(BlockSource& src, std::uint32_t sector) {
  const std::uint64_t at = sector;
  MKEYS_ASSIGN_OR_RETURN(auto lba1, ReadRange(src, at, sector, "the GPT header"));
  const std::uint32_t header_size = le::Read32(lba1, 12);
  if (header_size < kGptMinHeader || header_size > sector) {
    return Corrupt(src, "GPT header: size " + std::to_string(header_size) + " out of range",
                   at + 12);
  }
  std::vector<std::uint8_t> header(lba1.begin(), lba1.begin() + header_size);
  MKEYS_TRY(CheckGptHeaderCrc(src, header, at));
  const std::uint64_t entries_lba = le::Read64(header, 72);
  const std::uint32_t count = le::Read32(header, 80);
  const std::uint32_t entry_size = le::Read32(header, 84);
  if (entry_size < 128 || entry_size % 8 != 0 ||
      static_cast<std::uint64_t>(count) * entry_size > kGptMaxArrayBytes) {
    return Corrupt(src,
                   "GPT header: " + std::to_string(count) + " entries of " +
                       std::to_string(entry_size) + " bytes is not a valid entry array",
                   at + 80);
  }
  if (entries_lba >= UINT64_MAX / sector) {
    return Corrupt(src, "GPT header: entry array LBA out of range", at + 72);
  }
  const std::uint64_t array_at = entries_lba * sector;
  MKEYS_ASSIGN_OR_RETURN(
      auto array, ReadRange(src, array_at, std::uint64_t{count} * entry_size, "the GPT entries"));
  const std::uint32_t stored = le::Read32(header, 88);
  const std::uint32_t computed = Crc32(array);
  if (stored != computed) {
    return Corrupt(
        src,
        "GPT entry array: bad CRC32 (stored " + Hex8(stored) + ", computed " + Hex8(computed) + ")",
        array_at);
  }
  PartitionLayout layout;
  layout.kind = TableKind::kGpt;
  layout.sector_size = sector;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto e = std::span<const std::uint8_t>(array).subspan(std::size_t{i} * entry_size, 128);
    if (AllZero(e.first(16))) continue;
    const std::uint64_t entry_at = array_at + std::uint64_t{i} * entry_size;
    auto p = ParseGptEntry(e, static_cast<int>(i) + 1, sector);
    if (!p) return Corrupt(src, p.error().message(), entry_at);
    MKEYS_TRY(CheckInside(src, *p, entry_at));
    layout.partitions.push_back(std::move(*p));
  }
  return layout;
}

bool HasGptSignature(BlockSource& src, std::uint32_t sector) {
  std::array<std::uint8_t, 8> sig{};
  if (src.size() < std::uint64_t{sector} + sig.size()) return false;
  if (!src.ReadAt(sector, sig)) return false;
  return std::string_view(reinterpret_cast<const char*>(sig.data()), sig.size()) == "EFI PART";
}

}  // namespace

std::string_view TableKindName(TableKind kind) {
  switch (kind) {
    case TableKind::kNone:
      return "none";
    case TableKind::kMbr:
      return "mbr";
    case TableKind::kGpt:
      return "gpt";
  }
  return "?";
}

std::uint32_t Crc32(std::span<const std::uint8_t> bytes) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (auto b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

bool IsNtfsBootSector(std::span<const std::uint8_t> s) {
  if (s.size() < kSector) return false;
  if (std::string_view(reinterpret_cast<const char*>(s.data()) + 3, 8) != "NTFS    ") return false;
  const std::uint16_t bps = le::Read16(s, 11);
  if (bps < 256 || bps > 4096 || (bps & (bps - 1)) != 0) return false;
  return s[510] == 0x55 && s[511] == 0xAA;
}

Result<void> CheckNtfsVolume(BlockSource& src, const Partition& p) {
  MKEYS_ASSIGN_OR_RETURN(auto boot, ReadRange(src, p.offset, kSector, "the NTFS boot sector"));
  if (!IsNtfsBootSector(boot)) {
    return Corrupt(src, "partition " + std::to_string(p.index) + " is not an NTFS volume",
                   p.offset);
  }
  const std::uint64_t bps = le::Read16(boot, 11);
  const std::uint64_t sectors = le::Read64(boot, 40);
  // The boot sector's count excludes the backup boot sector at the end of the volume.
  if (sectors >= UINT64_MAX / bps) {
    return Corrupt(src, "NTFS boot sector: sector count out of range", p.offset + 40);
  }
  const std::uint64_t needed = sectors * bps;
  if (needed > p.length) {
    return Corrupt(src,
                   "truncated image: the NTFS volume" +
                       (p.index == 0 ? std::string() : " of partition " + std::to_string(p.index)) +
                       " needs " + std::to_string(needed) + " bytes, the " +
                       (p.offset == 0 && p.length == src.size() ? "image" : "partition") + " has " +
                       std::to_string(p.length),
                   p.offset + 40);
  }
  return Ok();
}

Result<PartitionLayout> ReadPartitionLayout(BlockSource& src) {
  MKEYS_ASSIGN_OR_RETURN(auto first, ReadRange(src, 0, kSector, "a boot sector or MBR"));
  if (IsNtfsBootSector(first)) {
    PartitionLayout layout;
    Partition whole;
    whole.index = 0;
    whole.length = src.size();
    whole.type = "ntfs";
    whole.ntfs_candidate = true;
    layout.partitions.push_back(whole);
    return layout;
  }
  if (first[510] != 0x55 || first[511] != 0xAA) {
    return Corrupt(src,
                   "not an NTFS volume and no partition table (no \"NTFS    \" at offset 3, "
                   "no 0x55AA boot signature at offset 510)",
                   0);
  }
  bool protective = false;
  for (int i = 0; i < 4; ++i)
    if (first[kMbrEntries + 16 * static_cast<std::size_t>(i) + 4] == kMbrTypeProtective)
      protective = true;
  if (!protective) return ReadMbr(src, first);
  for (std::uint32_t sector : {512u, 4096u})
    if (HasGptSignature(src, sector)) return ReadGpt(src, sector);
  return Corrupt(src, "protective MBR (type 0xEE) but no \"EFI PART\" GPT header at LBA 1", 512);
}

}  // namespace mkeys::keystore::image
