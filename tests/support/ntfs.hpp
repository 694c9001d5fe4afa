// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Test helper: a fresh NTFS volume (mkntfs -F -Q on a sparse image) mounted with
// `ntfs-3g -o permissions`, unmounted and removed when the object goes away. Needs root,
// /dev/fuse, mkntfs and ntfs-3g; NtfsMount::Create says why it cannot when one is missing, so
// tests can WARN("SKIPPED: " + reason) and return.

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace mkeys::test {

class NtfsMount {
 public:
  // Creates and mounts a volume of `megabytes`; on failure returns nullptr and sets `why`.
  static std::unique_ptr<NtfsMount> Create(std::string& why, int megabytes = 64) {
    if (::geteuid() != 0) {
      why = "needs root to mount ntfs-3g";
      return nullptr;
    }
    if (::access("/dev/fuse", R_OK | W_OK) != 0) {
      why = "/dev/fuse is not available";
      return nullptr;
    }
    for (const char* tool : {"/usr/sbin/mkntfs", "/usr/bin/ntfs-3g"}) {
      if (::access(tool, X_OK) != 0) {
        why = std::string(tool) + " is not installed (apt-get install ntfs-3g)";
        return nullptr;
      }
    }
    auto mount = std::unique_ptr<NtfsMount>(new NtfsMount());
    const auto image = mount->dir_.path() / "volume.img";
    mount->mnt_ = mount->dir_.path() / "mnt";
    std::filesystem::create_directory(mount->mnt_);
    auto r = Run({"truncate", "-s", std::to_string(megabytes) + "M", image.string()});
    if (r.exit_code != 0) {
      why = "truncate failed: " + r.err;
      return nullptr;
    }
    r = Run({"/usr/sbin/mkntfs", "-F", "-Q", image.string()});
    if (r.exit_code != 0) {
      why = "mkntfs failed: " + r.err;
      return nullptr;
    }
    r = Run({"/usr/bin/ntfs-3g", image.string(), mount->mnt_.string(), "-o", "permissions"});
    if (r.exit_code != 0) {
      why = "ntfs-3g mount failed: " + r.err;
      return nullptr;
    }
    mount->mounted_ = true;
    return mount;
  }

  ~NtfsMount() {
    if (!mounted_) return;
    // fusermount first; umount as the fallback (both are fine as root).
    if (Run({"fusermount", "-u", mnt_.string()}).exit_code != 0) {
      Run({"umount", "-l", mnt_.string()});
    }
  }
  NtfsMount(const NtfsMount&) = delete;
  NtfsMount& operator=(const NtfsMount&) = delete;

  const std::filesystem::path& path() const { return mnt_; }
  // The volume's image file (a bare NTFS volume): read it as a disk image after Unmount().
  std::filesystem::path image() const { return dir_.path() / "volume.img"; }
  // Unmounts now (flushing everything to the image); true when the volume is no longer mounted.
  bool Unmount() {
    if (!mounted_) return true;
    if (Run({"fusermount", "-u", mnt_.string()}).exit_code != 0 &&
        Run({"umount", mnt_.string()}).exit_code != 0) {
      return false;
    }
    mounted_ = false;
    return true;
  }

  // Sets the raw self-relative descriptor of `path` (system.ntfs_acl).
  static bool SetDescriptor(const std::filesystem::path& path, std::span<const std::uint8_t> sd) {
    return ::setxattr(path.c_str(), "system.ntfs_acl", sd.data(), sd.size(), 0) == 0;
  }
  static std::vector<std::uint8_t> GetDescriptor(const std::filesystem::path& path) {
    const ssize_t n = ::getxattr(path.c_str(), "system.ntfs_acl", nullptr, 0);
    if (n <= 0) return {};
    std::vector<std::uint8_t> out(static_cast<std::size_t>(n));
    const ssize_t m = ::getxattr(path.c_str(), "system.ntfs_acl", out.data(), out.size());
    out.resize(m > 0 ? static_cast<std::size_t>(m) : 0);
    return out;
  }

 private:
  NtfsMount() = default;
  TempDir dir_;
  std::filesystem::path mnt_;
  bool mounted_ = false;
};

}  // namespace mkeys::test
