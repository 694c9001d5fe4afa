// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The files of a machine root, whatever holds them: a directory (a model machine, an ntfs-3g
// mount) or the NTFS volume inside a disk image read without a mount (docs/images.md).
//
// Every path is a path under the root as MachineRoot hands them out (root() / "ProgramData/...");
// on an image root, root() is the image file and the rest is the path inside the volume.
// The scan's hot paths keep their own POSIX fast path on directories and use this interface
// on images; everything else may use it on both.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/image_volume.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::keystore {

struct VolumeEntry {
  std::string name;
  bool is_directory = false;
  bool is_regular = false;  // a regular file (not a directory, link or reparse point)
};

// One object as lstat(2) would describe it on a mount of the volume (never following a link).
struct VolumeObject {
  bool is_directory = false;
  bool is_regular = false;
  bool is_symlink = false;  // a symbolic link, junction or other reparse point
  bool is_special = false;  // a device, FIFO or socket
  std::uint64_t links = 1;  // hard links
  std::int64_t mtime = 0;   // last data change, seconds since the Unix epoch
  std::string link_target;  // is_symlink: what it points to, if known
  std::string link_kind;    // is_symlink: "symbolic link", "junction", "reparse point 0x…"
};

class MachineVolume {
 public:
  virtual ~MachineVolume() = default;
  // True for a disk image (no file descriptors, no extended attributes).
  virtual bool is_image() const = 0;
  // The entries of a directory, sorted by name, without "." and "..".
  virtual Result<std::vector<VolumeEntry>> List(const std::filesystem::path& dir) const = 0;
  // A regular file's bytes; kUnsupported when larger than max_bytes.
  virtual Result<std::vector<std::uint8_t>> ReadFile(const std::filesystem::path& path,
                                                     std::uint64_t max_bytes) const = 0;
  // Whether the object exists (never following a link or reparse point at the end).
  virtual Result<bool> Exists(const std::filesystem::path& path) const = 0;
  // The object itself (lstat: a link or reparse point at the end is described, not followed).
  virtual Result<VolumeObject> Lstat(const std::filesystem::path& path) const = 0;
};

// The POSIX volume of a directory root.
std::unique_ptr<MachineVolume> MakeDirectoryVolume(std::filesystem::path root);

// A disk image opened as a machine root: its files and its descriptors, both over one
// ImageVolume (serialised by one mutex: ntfs-3g's library is not thread-safe).
struct ImageRoot {
  std::unique_ptr<MachineVolume> volume;
  std::unique_ptr<SecurityStore> security;  // backend kNtfs3g, attribute system.ntfs_acl
  ImageInfo info;
};
Result<ImageRoot> OpenImageRoot(const std::filesystem::path& image,
                                const ImageOpenOptions& options);

// A private copy of one file of the volume (a hive, read whole) in an anonymous memory file:
// path() (/proc/self/fd/N) can be given to APIs that take a file name (hivex). Closed with it.
class PrivateFileCopy final {
 public:
  PrivateFileCopy() = default;
  explicit PrivateFileCopy(int fd) : fd_(fd) {}
  PrivateFileCopy(PrivateFileCopy&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  PrivateFileCopy& operator=(PrivateFileCopy&& other) noexcept;
  PrivateFileCopy(const PrivateFileCopy&) = delete;
  PrivateFileCopy& operator=(const PrivateFileCopy&) = delete;
  ~PrivateFileCopy();
  std::filesystem::path path() const;
  int fd() const { return fd_; }
  // Gives up ownership of the file descriptor.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};
Result<PrivateFileCopy> CopyToPrivateFile(const MachineVolume& volume,
                                          const std::filesystem::path& path,
                                          std::uint64_t max_bytes);

}  // namespace mkeys::keystore
