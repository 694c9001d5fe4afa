// SPDX-License-Identifier: GPL-3.0-or-later
// Image files as block sources: raw images over pread/pwrite, VHD/VHDX through libvhdi.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <libvhdi.h>

#include "mkeys/keystore/disk_image.hpp"

namespace mkeys::keystore::image {
namespace {

Error IoError(const std::string& name, std::string what, int err) {
  return Error(ErrorCode::kIo, std::move(what) + ": " + std::strerror(err)).On(name);
}

class RawImage final : public BlockSource {
 public:
  RawImage(int fd, std::uint64_t size, bool writable, std::string name)
      : fd_(fd), size_(size), writable_(writable), name_(std::move(name)) {}
  ~RawImage() override { ::close(fd_); }
  RawImage(const RawImage&) = delete;
  RawImage& operator=(const RawImage&) = delete;

  ImageFormat format() const override { return ImageFormat::kRaw; }
  std::uint64_t size() const override { return size_; }
  bool writable() const override { return writable_; }
  const std::string& name() const override { return name_; }

  Result<void> ReadAt(std::uint64_t offset, std::span<std::uint8_t> out) override {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return IoError(name_, "read at byte " + std::to_string(offset + done), errno);
      if (n == 0) {
        return Error(ErrorCode::kCorrupt, "truncated image: read past its end")
            .At(static_cast<std::size_t>(offset + done))
            .On(name_);
      }
      done += static_cast<std::size_t>(n);
    }
    return Ok();
  }

  Result<void> WriteAt(std::uint64_t offset, std::span<const std::uint8_t> in) override {
    if (!writable_) return Error(ErrorCode::kInternal, "image opened read-only").On(name_);
    std::size_t done = 0;
    while (done < in.size()) {
      const ssize_t n =
          ::pwrite(fd_, in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return IoError(name_, "write at byte " + std::to_string(offset + done), errno);
      done += static_cast<std::size_t>(n);
    }
    return Ok();
  }

  Result<void> Sync() override {
    if (writable_ && ::fsync(fd_) != 0) return IoError(name_, "fsync", errno);
    return Ok();
  }

 private:
  int fd_;
  std::uint64_t size_;
  bool writable_;
  std::string name_;
};

std::string VhdiMessage(libvhdi_error_t* error) {
  std::array<char, 512> buf{};
  if (error == nullptr) return "libvhdi failed";
  libvhdi_error_sprint(error, buf.data(), buf.size());
  libvhdi_error_free(&error);
  std::string text(buf.data());
  // libvhdi chains messages with newlines; keep the first, most specific line.
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text;
}

class VhdiImage final : public BlockSource {
 public:
  VhdiImage(libvhdi_file_t* file, std::uint64_t size, ImageFormat format, std::string name)
      : file_(file), size_(size), format_(format), name_(std::move(name)) {}
  ~VhdiImage() override {
    libvhdi_file_close(file_, nullptr);
    libvhdi_file_free(&file_, nullptr);
  }
  VhdiImage(const VhdiImage&) = delete;
  VhdiImage& operator=(const VhdiImage&) = delete;

  ImageFormat format() const override { return format_; }
  std::uint64_t size() const override { return size_; }
  bool writable() const override { return false; }
  const std::string& name() const override { return name_; }

  Result<void> ReadAt(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > size_ || out.size() > size_ - offset) {
      return Error(ErrorCode::kCorrupt, "read past the end of the virtual disk")
          .At(static_cast<std::size_t>(offset))
          .On(name_);
    }
    std::size_t done = 0;
    while (done < out.size()) {
      libvhdi_error_t* error = nullptr;
      const ssize_t n = libvhdi_file_read_buffer_at_offset(
          file_, out.data() + done, out.size() - done, static_cast<off64_t>(offset + done), &error);
      if (n <= 0) {
        return Error(ErrorCode::kIo,
                     "read at byte " + std::to_string(offset + done) + ": " + VhdiMessage(error))
            .On(name_);
      }
      done += static_cast<std::size_t>(n);
    }
    return Ok();
  }

  Result<void> WriteAt(std::uint64_t, std::span<const std::uint8_t>) override {
    return Error(ErrorCode::kUnsupported, "VHD/VHDX images are read-only").On(name_);
  }
  Result<void> Sync() override { return Ok(); }

 private:
  libvhdi_file_t* file_;
  std::uint64_t size_;
  ImageFormat format_;
  std::string name_;
};

// "vhdxfile" at offset 0 (VHDX), "conectix" in the footer (VHD; dynamic disks also at 0).
std::optional<ImageFormat> VirtualDiskFormat(int fd, std::uint64_t file_size) {
  std::array<char, 8> sig{};
  if (file_size >= 512 && ::pread(fd, sig.data(), sig.size(), 0) == 8) {
    if (std::string_view(sig.data(), 8) == "vhdxfile") return ImageFormat::kVhdx;
    if (std::string_view(sig.data(), 8) == "conectix") return ImageFormat::kVhd;
    if (::pread(fd, sig.data(), sig.size(), static_cast<off_t>(file_size - 512)) == 8 &&
        std::string_view(sig.data(), 8) == "conectix")
      return ImageFormat::kVhd;
  }
  return std::nullopt;
}

Result<std::unique_ptr<BlockSource>> OpenVhdi(const std::string& name, ImageFormat format) {
  libvhdi_file_t* file = nullptr;
  libvhdi_error_t* error = nullptr;
  if (libvhdi_file_initialize(&file, &error) != 1)
    return Error(ErrorCode::kInternal, VhdiMessage(error)).On(name);
  if (libvhdi_file_open(file, name.c_str(), LIBVHDI_OPEN_READ, &error) != 1) {
    libvhdi_file_free(&file, nullptr);
    return Error(ErrorCode::kCorrupt, "not a readable VHD/VHDX: " + VhdiMessage(error)).On(name);
  }
  std::uint32_t disk_type = 0;
  size64_t media = 0;
  const bool typed = libvhdi_file_get_disk_type(file, &disk_type, &error) == 1;
  const bool sized = typed && libvhdi_file_get_media_size(file, &media, &error) == 1;
  if (!sized || disk_type == LIBVHDI_DISK_TYPE_DIFFERENTIAL) {
    std::string why = !sized ? VhdiMessage(error)
                             : "a differencing disk needs its parent: convert it first "
                               "(qemu-img convert -O raw)";
    libvhdi_file_close(file, nullptr);
    libvhdi_file_free(&file, nullptr);
    return Error(ErrorCode::kUnsupported, why).On(name);
  }
  return std::unique_ptr<BlockSource>(new VhdiImage(file, media, format, name));
}

}  // namespace

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kRaw:
      return "raw";
    case ImageFormat::kVhd:
      return "vhd";
    case ImageFormat::kVhdx:
      return "vhdx";
    case ImageFormat::kMemory:
      return "memory";
  }
  return "?";
}

Result<std::unique_ptr<BlockSource>> OpenImageFile(const std::filesystem::path& path,
                                                   bool writable) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 std::string("cannot open the image: ") + std::strerror(errno))
        .On(name);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::kUnsupported, "not a regular file (block devices are not images)")
        .On(name);
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (auto virt = VirtualDiskFormat(fd, size)) {
    ::close(fd);
    if (writable) {
      return Error(ErrorCode::kUnsupported, std::string(ImageFormatName(*virt)) +
                                                " images are read-only: convert to raw to repair "
                                                "(qemu-img convert -O raw IMAGE disk.img)")
          .On(name);
    }
    return OpenVhdi(name, *virt);
  }
  return std::unique_ptr<BlockSource>(new RawImage(fd, size, writable, name));
}

}  // namespace mkeys::keystore::image
