// SPDX-License-Identifier: GPL-3.0-or-later
// ntfs-3g's library on mkeys' own device operations: the volume is a window (partition offset,
// length) on a BlockSource; no block device, no FUSE, no privilege.
#include <fcntl.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <vector>

#include "image/ntfs_glue.hpp"
#include "mkeys/core/log.hpp"

namespace mkeys::keystore::image {
namespace {

PartitionWindow& Window(struct ntfs_device* dev) {
  return *static_cast<PartitionWindow*>(dev->d_private);
}

// Keeps [offset, offset+count) inside the partition; returns the count that fits.
s64 Clamp(const PartitionWindow& w, s64 count, s64 offset) {
  if (offset < 0 || count < 0) return -1;
  const auto len = static_cast<s64>(w.length);
  if (offset >= len) return 0;
  return count < len - offset ? count : len - offset;
}

int DevOpen(struct ntfs_device* dev, int flags) {
  if (NDevOpen(dev)) {
    errno = EBUSY;
    return -1;
  }
  const bool rw = (flags & O_ACCMODE) != O_RDONLY;
  if (rw && !Window(dev).source->writable()) {
    errno = EROFS;
    return -1;
  }
  if (!rw) NDevSetReadOnly(dev);
  NDevSetOpen(dev);
  return 0;
}

int DevClose(struct ntfs_device* dev) {
  if (!NDevOpen(dev)) {
    errno = EBADF;
    return -1;
  }
  if (NDevDirty(dev) && !Window(dev).source->Sync()) {
    errno = EIO;
    return -1;
  }
  NDevClearOpen(dev);
  return 0;
}

s64 DevPread(struct ntfs_device* dev, void* buf, s64 count, s64 offset) {
  auto& w = Window(dev);
  const s64 n = Clamp(w, count, offset);
  if (n <= 0) return n;
  auto r = w.source->ReadAt(w.offset + static_cast<std::uint64_t>(offset),
                            std::span(static_cast<std::uint8_t*>(buf), static_cast<size_t>(n)));
  if (!r) {
    errno = EIO;
    return -1;
  }
  return n;
}

s64 DevPwrite(struct ntfs_device* dev, const void* buf, s64 count, s64 offset) {
  auto& w = Window(dev);
  if (NDevReadOnly(dev)) {
    errno = EROFS;
    return -1;
  }
  const s64 n = Clamp(w, count, offset);
  if (n < 0) return n;
  if (n < count) {
    errno = ENOSPC;  // never write past the partition
    return -1;
  }
  auto r =
      w.source->WriteAt(w.offset + static_cast<std::uint64_t>(offset),
                        std::span(static_cast<const std::uint8_t*>(buf), static_cast<size_t>(n)));
  if (!r) {
    errno = EIO;
    return -1;
  }
  NDevSetDirty(dev);
  return n;
}

s64 DevSeek(struct ntfs_device* dev, s64 offset, int whence) {
  auto& w = Window(dev);
  s64 base = 0;
  if (whence == SEEK_CUR) base = w.position;
  if (whence == SEEK_END) base = static_cast<s64>(w.length);
  if (base + offset < 0) {
    errno = EINVAL;
    return -1;
  }
  w.position = base + offset;
  return w.position;
}

s64 DevRead(struct ntfs_device* dev, void* buf, s64 count) {
  const s64 n = DevPread(dev, buf, count, Window(dev).position);
  if (n > 0) Window(dev).position += n;
  return n;
}

s64 DevWrite(struct ntfs_device* dev, const void* buf, s64 count) {
  const s64 n = DevPwrite(dev, buf, count, Window(dev).position);
  if (n > 0) Window(dev).position += n;
  return n;
}

int DevSync(struct ntfs_device* dev) {
  if (NDevReadOnly(dev)) return 0;
  if (!Window(dev).source->Sync()) {
    errno = EIO;
    return -1;
  }
  NDevClearDirty(dev);
  return 0;
}

int DevStat(struct ntfs_device* dev, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_mode = S_IFREG | 0600;
  st->st_size = static_cast<off_t>(Window(dev).length);
  st->st_blksize = 4096;
  return 0;
}

int DevIoctl(struct ntfs_device*, unsigned long, void*) {
  errno = ENOTTY;  // not a block device: no geometry, no BLKGETSIZE
  return -1;
}

struct ntfs_device_operations kOps = {DevOpen,  DevClose,  DevSeek, DevRead, DevWrite,
                                      DevPread, DevPwrite, DevSync, DevStat, DevIoctl};

// ntfs-3g logs through a global handler: keep the last error for our messages and pass
// everything to the keystore logger at debug level.
std::mutex g_log_mutex;
std::string g_last_error;

int LogHandler(const char* function, const char*, int, u32 level, void*, const char* format,
               va_list args) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, format, args);
  std::string text(buf);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR | NTFS_LOG_LEVEL_CRITICAL)) {
    std::lock_guard lock(g_log_mutex);
    g_last_error = text;
  }
  Logger("keystore")->debug("ntfs-3g {}: {}", function ? function : "?", text);
  return static_cast<int>(text.size());
}

void InstallLogHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    ntfs_log_set_handler(LogHandler);
    ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR | NTFS_LOG_LEVEL_CRITICAL |
                        NTFS_LOG_LEVEL_WARNING | NTFS_LOG_LEVEL_INFO);
  });
}

Error Refused(const std::string& name, const std::string& why) {
  return Error(ErrorCode::kUnsupported,
               "NTFS volume refused: " + why +
                   " (nothing was changed; boot Windows and shut it down fully — Fast Startup "
                   "off — or run chkdsk, then take the image again)")
      .On(name);
}

// Same test as ntfs-3g's read-write mount, made for read-only mounts too: an unclean
// $LogFile holds changes the volume does not show yet; a 2.0 restart page means Windows kept
// metadata cached (Fast Startup) or was cut off.
Result<void> CheckLogFile(ntfs_volume* vol, const std::string& name) {
  ntfs_inode* ni = ntfs_inode_open(vol, FILE_LogFile);
  if (ni == nullptr) return Refused(name, "$LogFile cannot be opened");
  ntfs_attr* na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
  RESTART_PAGE_HEADER* rp = nullptr;
  std::string why;
  if (na == nullptr) {
    why = "$LogFile has no data";
  } else if (!ntfs_check_logfile(na, &rp) || !ntfs_is_logfile_clean(na, rp)) {
    why = "its $LogFile is not clean (Windows did not shut down cleanly)";
  }
  if (rp != nullptr && rp->major_ver == const_cpu_to_le16(2) &&
      rp->minor_ver == const_cpu_to_le16(0)) {
    why = "Windows kept its metadata cached (Fast Startup or an abrupt stop)";
  }
  free(rp);
  if (na != nullptr) ntfs_attr_close(na);
  ntfs_inode_close(ni);
  if (!why.empty()) return Refused(name, why);
  return Ok();
}

Result<void> CheckClean(ntfs_volume* vol, const std::string& name) {
  if (vol->flags & VOLUME_IS_DIRTY) return Refused(name, "it is marked dirty");
  MKEYS_TRY(CheckLogFile(vol, name));
  errno = 0;
  if (ntfs_volume_check_hiberfile(vol, 0) < 0) {
    if (errno == EPERM) return Refused(name, "Windows is hibernated on it (hiberfil.sys)");
    return Refused(name, "hiberfil.sys cannot be read");
  }
  return Ok();
}

}  // namespace

void VolumeCloser::operator()(ntfs_volume* vol) const {
  if (vol != nullptr) ntfs_umount(vol, FALSE);
}

std::string TakeNtfsLogMessage() {
  std::lock_guard lock(g_log_mutex);
  return std::exchange(g_last_error, std::string());
}

namespace {

Result<VolumePtr> MountOnce(PartitionWindow& window, bool writable) {
  const std::string& name = window.source->name();
  window.position = 0;
  const long state = writable ? 0 : (1L << ND_ReadOnly);  // NOLINT(runtime/int): ntfs-3g's type
  struct ntfs_device* dev = ntfs_device_alloc(name.c_str(), state, &kOps, &window);
  if (dev == nullptr) return Error(ErrorCode::kInternal, "ntfs_device_alloc failed").On(name);
  TakeNtfsLogMessage();
  const unsigned long flags = writable ? NTFS_MNT_NONE : NTFS_MNT_RDONLY;  // NOLINT
  ntfs_volume* vol = ntfs_device_mount(dev, flags);
  if (vol == nullptr) {
    const int err = errno;
    ntfs_device_free(dev);
    std::string detail = TakeNtfsLogMessage();
    if (detail.empty()) detail = std::strerror(err);
    return Error(ErrorCode::kCorrupt, "partition at byte " + std::to_string(window.offset) +
                                          ": the NTFS volume cannot be opened: " + detail)
        .On(name);
  }
  return VolumePtr(vol);
}

}  // namespace

Result<VolumePtr> MountPartition(PartitionWindow& window, bool writable) {
  InstallLogHandler();
  const std::string& name = window.source->name();
  {
    // Checked on a read-only mount first: a read-write mount of an unclean volume would
    // fail with a bare errno, and nothing may be written to one.
    MKEYS_ASSIGN_OR_RETURN(auto probe, MountOnce(window, false));
    MKEYS_TRY(CheckClean(probe.get(), name));
    if (!writable) {
      if (ntfs_set_ignore_case(probe.get()) != 0)
        return Error(ErrorCode::kCorrupt, "the volume has no usable $UpCase table").On(name);
      return probe;
    }
  }
  MKEYS_ASSIGN_OR_RETURN(auto vol, MountOnce(window, true));
  if (ntfs_set_ignore_case(vol.get()) != 0)
    return Error(ErrorCode::kCorrupt, "the volume has no usable $UpCase table").On(name);
  return vol;
}

}  // namespace mkeys::keystore::image
