// SPDX-License-Identifier: GPL-3.0-or-later
// MachineVolume over a directory (POSIX) and over a disk image (ImageVolume), the image's
// SecurityStore, and private copies of single files (hives) in memory files.
#include "mkeys/keystore/machine_volume.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include <fmt/format.h>

#include "mkeys/core/files.hpp"
#include "mkeys/keystore/reparse_point.hpp"

namespace mkeys::keystore {
namespace fs = std::filesystem;
namespace {

class DirectoryVolume final : public MachineVolume {
 public:
  explicit DirectoryVolume(fs::path root) : root_(std::move(root)) {}
  bool is_image() const override { return false; }

  Result<std::vector<VolumeEntry>> List(const fs::path& dir) const override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return files::IoError(errno, dir, "cannot list directory");
    std::vector<VolumeEntry> out;
    const int dfd = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
      const std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      out.push_back({std::string(name), S_ISDIR(st.st_mode), S_ISREG(st.st_mode)});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(),
              [](const VolumeEntry& a, const VolumeEntry& b) { return a.name < b.name; });
    return out;
  }
  Result<std::vector<std::uint8_t>> ReadFile(const fs::path& path,
                                             std::uint64_t max_bytes) const override {
    return files::ReadFile(path, static_cast<std::size_t>(max_bytes));
  }
  Result<bool> Exists(const fs::path& path) const override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return files::IoError(errno, path, "cannot stat");
  }
  Result<VolumeObject> Lstat(const fs::path& path) const override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return files::IoError(errno, path, "cannot stat");
    VolumeObject o;
    o.is_directory = S_ISDIR(st.st_mode);
    o.is_regular = S_ISREG(st.st_mode);
    o.is_symlink = S_ISLNK(st.st_mode);
    o.is_special = !o.is_directory && !o.is_regular && !o.is_symlink;
    o.links = static_cast<std::uint64_t>(st.st_nlink);
    o.mtime = static_cast<std::int64_t>(st.st_mtime);
    if (o.is_symlink) {
      auto link = DescribeLinkPath(path);
      o.link_target = std::move(link.target);
      o.link_kind = std::move(link.kind);
    }
    return o;
  }

 private:
  fs::path root_;
};

// One ImageVolume shared by the volume view and the security store, behind one mutex.
struct SharedImage {
  std::mutex mutex;
  std::unique_ptr<ImageVolume> volume;
  fs::path image;

  // The path inside the volume ('/'-separated, "" for its root).
  std::string Inside(const fs::path& path) const {
    const fs::path rel = path.lexically_relative(image);
    if (rel.empty() || rel == ".") return {};
    return rel.generic_string();
  }
  // Errors name the object as image/inside, so a message says which file of which image.
  Error Name(Error e, const fs::path& path) const {
    if (e.object()) return e;
    return std::move(e).On(path.string());
  }
};

class ImageFiles final : public MachineVolume {
 public:
  explicit ImageFiles(std::shared_ptr<SharedImage> image) : image_(std::move(image)) {}
  bool is_image() const override { return true; }

  Result<std::vector<VolumeEntry>> List(const fs::path& dir) const override {
    std::lock_guard lock(image_->mutex);
    auto listed = image_->volume->ListDirectory(image_->Inside(dir));
    if (!listed) return image_->Name(std::move(listed).error(), dir);
    std::vector<VolumeEntry> out;
    out.reserve(listed->size());
    for (auto& e : *listed) {
      out.push_back({std::move(e.name), e.is_directory,
                     !e.is_directory && !e.is_reparse_point && !e.is_special});
    }
    return out;
  }
  Result<std::vector<std::uint8_t>> ReadFile(const fs::path& path,
                                             std::uint64_t max_bytes) const override {
    std::lock_guard lock(image_->mutex);
    auto bytes = image_->volume->ReadFile(image_->Inside(path), max_bytes);
    if (!bytes) return image_->Name(std::move(bytes).error(), path);
    return bytes;
  }
  Result<bool> Exists(const fs::path& path) const override {
    std::lock_guard lock(image_->mutex);
    auto exists = image_->volume->Exists(image_->Inside(path));
    if (!exists) return image_->Name(std::move(exists).error(), path);
    return exists;
  }
  Result<VolumeObject> Lstat(const fs::path& path) const override {
    std::lock_guard lock(image_->mutex);
    auto st = image_->volume->Stat(image_->Inside(path));
    if (!st) return image_->Name(std::move(st).error(), path);
    VolumeObject o;
    o.is_symlink = st->special == ImageStat::Special::kSymlink;
    o.is_special = st->special == ImageStat::Special::kOther;
    o.is_directory = st->is_directory && !o.is_symlink;
    o.is_regular = !st->is_directory && !o.is_symlink && !o.is_special;
    o.links = st->links;
    o.mtime = st->mtime;
    o.link_target = std::move(st->link_target);
    o.link_kind = std::move(st->link_kind);
    return o;
  }

 private:
  std::shared_ptr<SharedImage> image_;
};

// Descriptors on the image: the same raw self-relative bytes an ntfs-3g mount shows in
// system.ntfs_acl, so the store presents itself as that backend.
class ImageSecurityStore final : public SecurityStore {
 public:
  explicit ImageSecurityStore(std::shared_ptr<SharedImage> image)
      : image_(std::move(image)), codec_(MakeNtfsAclStore()) {}
  SecurityBackend backend() const override { return SecurityBackend::kNtfs3g; }
  const std::string& attribute() const override { return codec_->attribute(); }
  bool uses_xattrs() const override { return false; }

  Result<acl::SecurityDescriptor> Read(const fs::path& path) const override {
    MKEYS_ASSIGN_OR_RETURN(auto raw, ReadRaw(path));
    auto sd = DecodeRaw(raw);
    if (!sd) {
      Error e = std::move(sd).error();
      return Error(e.code(), fmt::format("{} is malformed: {}", attribute(), e.ToString()))
          .On(path.string());
    }
    return std::move(sd).value();
  }
  Result<std::vector<std::uint8_t>> ReadRaw(const fs::path& path) const override {
    std::lock_guard lock(image_->mutex);
    auto raw = image_->volume->ReadSecurityDescriptor(image_->Inside(path));
    if (!raw) return image_->Name(std::move(raw).error(), path);
    return raw;
  }
  Result<acl::SecurityDescriptor> DecodeRaw(std::span<const std::uint8_t> raw) const override {
    return codec_->DecodeRaw(raw);
  }
  Result<void> Write(const fs::path& path, const acl::SecurityDescriptor& sd) override {
    return WriteRaw(path, EncodeRaw(sd));
  }
  Result<void> WriteFd(int, const fs::path& path, const acl::SecurityDescriptor&) override {
    return Error(ErrorCode::kUnsupported, "a disk image has no open files to write through")
        .On(path.string());
  }
  std::vector<std::uint8_t> EncodeRaw(const acl::SecurityDescriptor& sd) const override {
    return codec_->EncodeRaw(sd);
  }
  // ImageVolume syncs the inode and $Secure and fsyncs the image before returning.
  Result<void> WriteRaw(const fs::path& path, std::span<const std::uint8_t> raw) override {
    std::lock_guard lock(image_->mutex);
    auto written = image_->volume->WriteSecurityDescriptor(image_->Inside(path), raw);
    if (!written) return image_->Name(std::move(written).error(), path);
    return Ok();
  }

 private:
  std::shared_ptr<SharedImage> image_;
  std::unique_ptr<SecurityStore> codec_;
};

}  // namespace

std::unique_ptr<MachineVolume> MakeDirectoryVolume(fs::path root) {
  return std::make_unique<DirectoryVolume>(std::move(root));
}

Result<ImageRoot> OpenImageRoot(const fs::path& image, const ImageOpenOptions& options) {
  auto shared = std::make_shared<SharedImage>();
  shared->image = image;
  MKEYS_ASSIGN_OR_RETURN(shared->volume, ImageVolume::Open(image, options));
  ImageRoot root;
  root.info = shared->volume->info();
  root.volume = std::make_unique<ImageFiles>(shared);
  root.security = std::make_unique<ImageSecurityStore>(shared);
  return root;
}

PrivateFileCopy& PrivateFileCopy::operator=(PrivateFileCopy&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

PrivateFileCopy::~PrivateFileCopy() {
  if (fd_ >= 0) ::close(fd_);
}

fs::path PrivateFileCopy::path() const {
  return fs::path(fmt::format("/proc/self/fd/{}", fd_));
}

Result<PrivateFileCopy> CopyToPrivateFile(const MachineVolume& volume, const fs::path& path,
                                          std::uint64_t max_bytes) {
  MKEYS_ASSIGN_OR_RETURN(auto bytes, volume.ReadFile(path, max_bytes));
  const int fd = ::memfd_create("mkeys-hive", MFD_CLOEXEC);
  if (fd < 0) return files::IoError(errno, path, "cannot create a memory file for a copy of");
  PrivateFileCopy copy(fd);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return files::IoError(errno, path, "cannot copy into a memory file");
    done += static_cast<std::size_t>(n);
  }
  return copy;
}

}  // namespace mkeys::keystore
