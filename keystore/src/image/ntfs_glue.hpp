// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Private: ntfs-3g's C headers (they need the libc headers included first and are not
// self-contained in C++), and the mount of a partition on mkeys' own device operations.
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <memory>
#include <string>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/disk_image.hpp"

extern "C" {
#include <ntfs-3g/types.h>
// (types.h first: the others use its typedefs)
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/ntfstime.h>
#include <ntfs-3g/reparse.h>
#include <ntfs-3g/security.h>
#include <ntfs-3g/volume.h>
}

// ntfs-3g's support.h defines min() and max() macros, which break the C++ library.
#undef min
#undef max

namespace mkeys::keystore::image {

// The device behind a mounted volume: the block source and the partition's window on it.
struct PartitionWindow {
  BlockSource* source = nullptr;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::int64_t position = 0;  // for seek/read/write
};

// A mounted volume; unmounting (ntfs_umount) frees the device too.
struct VolumeCloser {
  void operator()(ntfs_volume* vol) const;
};
using VolumePtr = std::unique_ptr<ntfs_volume, VolumeCloser>;

// Mounts the NTFS volume in `window` (which must outlive the volume) read-only or read-write,
// then refuses (kUnsupported) a volume marked dirty, with an unclean $LogFile, with Fast
// Startup metadata cached, or hibernated: nothing is reset. Paths are looked up ignoring case.
Result<VolumePtr> MountPartition(PartitionWindow& window, bool writable);

// The last error message ntfs-3g logged (for error text), then cleared.
std::string TakeNtfsLogMessage();

}  // namespace mkeys::keystore::image
