// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The NTFS volume inside a disk image, read (and, for raw images, written) through ntfs-3g's
// library on mkeys' own device operations over pread/pwrite at the partition's offset:
// no mount, no FUSE, no loop device, no root. See docs/images.md.
//
// Paths are relative to the volume root, '/'-separated ("Windows/System32/config/SOFTWARE"),
// looked up case-insensitively through the volume's $UpCase table as Windows does. An
// intermediate component that is a reparse point (junction, symbolic link) is never
// followed: the lookup fails with kUnsupported naming it (FindReparsePoint reports it).
//
// ntfs-3g's library is not thread-safe: one ImageVolume is used by one thread at a time.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/disk_image.hpp"
#include "mkeys/keystore/reparse_point.hpp"

namespace mkeys::keystore {

struct ImageOpenOptions {
  // 1-based partition number as in the table (MBR slot, GPT entry); 0 for a bare volume.
  // Unset: the NTFS partition holding Windows/System32/config/SOFTWARE, or the only NTFS one.
  std::optional<int> partition;
  // Open the image read-write (raw images only; VHD/VHDX are refused with kUnsupported).
  bool writable = false;
};

struct ImageInfo {
  image::ImageFormat format = image::ImageFormat::kRaw;
  image::PartitionLayout layout;
  image::Partition partition;  // the one opened
  bool has_windows = false;    // Windows/System32/config/SOFTWARE exists on it
  std::string volume_label;
};

struct ImageEntry {
  std::string name;  // long (Win32/POSIX) name, UTF-8; DOS 8.3 aliases are left out
  bool is_directory = false;
  bool is_reparse_point = false;  // also an Interix symlink (what `ln -s` on a mount makes)
  bool is_special = false;        // an Interix device, FIFO or socket
};

struct ImageStat {
  bool is_directory = false;
  std::uint32_t attributes = 0;              // FILE_ATTRIBUTE_* of $STANDARD_INFORMATION
  std::optional<std::uint32_t> reparse_tag;  // set for reparse points
  std::uint64_t size = 0;                    // unnamed $DATA size (0 for directories)
  std::uint64_t mft_record = 0;
  std::uint32_t links = 1;  // the MFT record's hard-link count (what a mount's st_nlink shows)
  std::int64_t mtime = 0;   // last data change, seconds since the Unix epoch
  // What an ntfs-3g mount shows in its place: a symbolic link (a reparse point it translates,
  // or an Interix "IntxLNK" file as `ln -s` on a mount makes), or a device, FIFO or socket
  // (Interix special files). Target: the link's text as the mount would show it, if known.
  enum class Special : std::uint8_t { kNone, kSymlink, kOther };
  Special special = Special::kNone;
  std::string link_target;
  std::string link_kind = "symbolic link";  // or "junction", "reparse point 0x…"
};

class ImageVolume final {
 public:
  // Opens the image, reads its partition table, picks the partition and opens its NTFS volume.
  // Errors (exit 3 material): not NTFS, truncated, partition past the end, bad CRC
  // (kCorrupt); an unclean volume, Windows hibernated or with Fast Startup metadata cached
  // (kUnsupported, "refused: ... boot Windows and shut down fully, or run chkdsk"); no
  // Windows partition among several NTFS ones (kInvalidArgument: name one).
  static Result<std::unique_ptr<ImageVolume>> Open(const std::filesystem::path& image,
                                                   const ImageOpenOptions& options = {});
  ~ImageVolume();
  ImageVolume(const ImageVolume&) = delete;
  ImageVolume& operator=(const ImageVolume&) = delete;

  const ImageInfo& info() const;
  bool writable() const;

  Result<ImageStat> Stat(std::string_view rel);
  Result<bool> Exists(std::string_view rel);
  // Entries of a directory, sorted by name, without "." and ".." and (at the root) without
  // the NTFS metadata files ($MFT, $Secure, ...).
  Result<std::vector<ImageEntry>> ListDirectory(std::string_view rel);
  // The unnamed $DATA stream; kUnsupported when it is larger than max_bytes.
  Result<std::vector<std::uint8_t>> ReadFile(std::string_view rel, std::uint64_t max_bytes);
  // Self-relative SECURITY_DESCRIPTOR bytes, exactly what `getfattr -n system.ntfs_acl`
  // shows on an ntfs-3g mount.
  Result<std::vector<std::uint8_t>> ReadSecurityDescriptor(std::string_view rel);
  // Replaces the descriptor (must be a valid self-relative descriptor), syncs the inode and
  // $Secure and fsyncs the image before returning: when it returns, the change is on disk.
  Result<void> WriteSecurityDescriptor(std::string_view rel, std::span<const std::uint8_t> sd);
  // True when the object itself is a reparse point.
  Result<bool> IsReparsePoint(std::string_view rel);
  // The first component of `rel` (a path prefix, e.g. "ProgramData/Microsoft") that is a
  // reparse point, if any, in the caller's spelling; the object itself included. The walk
  // stops there: what lies behind a junction is another place.
  Result<std::optional<std::string>> FindReparsePoint(std::string_view rel);

 private:
  struct Impl;
  explicit ImageVolume(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkeys::keystore
