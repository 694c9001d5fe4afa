// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/key_file_reader.hpp"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "mkeys/core/beneath.hpp"

namespace mkeys::repair::internal {
namespace {

constexpr std::size_t kMaxKeyFileBytes = 1 << 20;

}  // namespace

KeyFileReader::KeyFileReader(const keystore::MachineRoot& root)
    : attribute_(root.security().attribute()), reader_(root.machine_keys_dir(), root.security()) {
  if (root.is_image()) {
    image_ = &root;
    return;
  }
  // MachineKeys opened beneath the root: never through a symlink.
  if (auto root_dir = files::RootDir::Open(root.root().string())) {
    auto dir =
        root_dir->OpenBeneath(root.Relative(root.machine_keys_dir()), O_RDONLY | O_DIRECTORY);
    if (dir) dir_fd_ = dir->Release();
  }
  buffer_.resize(16 * 1024);
  sd_buffer_.resize(4096);
}

KeyFileReader::~KeyFileReader() {
  CloseFile();
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void KeyFileReader::CloseFile() {
  if (file_fd_ >= 0) ::close(file_fd_);
  file_fd_ = -1;
  open_name_.clear();
}

void KeyFileReader::OpenFile(std::string_view file_name) {
  if (!open_name_.empty() && open_name_ == file_name) return;
  CloseFile();
  open_name_.assign(file_name);
  open_errno_ = 0;
  if (dir_fd_ < 0) {
    open_errno_ = EBADF;
    return;
  }
  file_fd_ = ::openat(dir_fd_, open_name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (file_fd_ < 0) open_errno_ = errno;
}

Result<std::span<const std::uint8_t>> KeyFileReader::Descriptor(std::string_view file_name) {
  if (image_ != nullptr) return reader_.Read(file_name);
  OpenFile(file_name);
  if (file_fd_ < 0) {
    if (dir_fd_ < 0 || open_errno_ == ELOOP) {
      return Error(ErrorCode::kIo, fmt::format("cannot open: {}", std::strerror(open_errno_)))
          .On(keystore::MachineRoot::KeyFileLabel(file_name));
    }
    return reader_.Read(file_name);  // e.g. not readable: by name instead
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    const ssize_t n =
        ::fgetxattr(file_fd_, attribute_.c_str(), sd_buffer_.data(), sd_buffer_.size());
    if (n >= 0)
      return std::span<const std::uint8_t>(sd_buffer_.data(), static_cast<std::size_t>(n));
    if (errno == ENODATA) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("no security descriptor: extended attribute {} is missing",
                               attribute_))
          .On(keystore::MachineRoot::KeyFileLabel(file_name));
    }
    if (errno != ERANGE) break;
    const ssize_t need = ::fgetxattr(file_fd_, attribute_.c_str(), nullptr, 0);
    if (need < 0) break;
    sd_buffer_.resize(static_cast<std::size_t>(need) + 64);
  }
  return reader_.Read(file_name);
}

Result<std::span<const std::uint8_t>> KeyFileReader::Contents(std::string_view file_name) {
  const auto label = [&] { return keystore::MachineRoot::KeyFileLabel(file_name); };
  if (image_ != nullptr) return ImageContents(file_name);
  OpenFile(file_name);
  if (file_fd_ < 0) {
    const int err = open_errno_;
    CloseFile();
    return Error(ErrorCode::kIo, fmt::format("cannot open: {}", std::strerror(err))).On(label());
  }
  const int fd = file_fd_;
  std::size_t size = 0;
  for (;;) {
    if (size == buffer_.size()) {
      if (buffer_.size() > kMaxKeyFileBytes) {
        CloseFile();
        return Error(ErrorCode::kCorrupt,
                     fmt::format("larger than {} bytes: not a key container", kMaxKeyFileBytes))
            .On(label());
      }
      buffer_.resize(buffer_.size() * 2);
    }
    const ssize_t n = ::read(fd, buffer_.data() + size, buffer_.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      CloseFile();
      return Error(ErrorCode::kIo, fmt::format("cannot read: {}", std::strerror(err))).On(label());
    }
    size += static_cast<std::size_t>(n);
    // A short read of a regular file is its end; saves the read() that would return 0.
    if (n == 0 || size < buffer_.size()) break;
  }
  CloseFile();
  return std::span<const std::uint8_t>(buffer_.data(), size);
}

// A disk image: the file's bytes through the volume (no file descriptors to read).
Result<std::span<const std::uint8_t>> KeyFileReader::ImageContents(std::string_view file_name) {
  auto bytes = image_->volume().ReadFile(image_->machine_keys_dir() / std::string(file_name),
                                         kMaxKeyFileBytes);
  if (!bytes) {
    const ErrorCode code =
        bytes.error().code() == ErrorCode::kUnsupported ? ErrorCode::kCorrupt : ErrorCode::kIo;
    const std::string why =
        code == ErrorCode::kCorrupt
            ? fmt::format("larger than {} bytes: not a key container", kMaxKeyFileBytes)
            : fmt::format("cannot read: {}", bytes.error().message());
    return Error(code, why).On(keystore::MachineRoot::KeyFileLabel(file_name));
  }
  buffer_ = std::move(*bytes);
  return std::span<const std::uint8_t>(buffer_.data(), buffer_.size());
}

}  // namespace mkeys::repair::internal
