// SPDX-License-Identifier: GPL-3.0-or-later
// A block source over bytes in memory (unit tests, the partition table fuzz target).
#include <cstring>

#include "mkeys/keystore/disk_image.hpp"

namespace mkeys::keystore::image {
namespace {

class MemoryBlocks final : public BlockSource {
 public:
  MemoryBlocks(std::vector<std::uint8_t> bytes, std::string name)
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  ImageFormat format() const override { return ImageFormat::kMemory; }
  std::uint64_t size() const override { return bytes_.size(); }
  bool writable() const override { return true; }
  const std::string& name() const override { return name_; }
  Result<void> ReadAt(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset) {
      return Error(ErrorCode::kCorrupt, "truncated image: read past its end")
          .At(static_cast<std::size_t>(offset))
          .On(name_);
    }
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return Ok();
  }
  Result<void> WriteAt(std::uint64_t offset, std::span<const std::uint8_t> in) override {
    if (offset > bytes_.size() || in.size() > bytes_.size() - offset) {
      return Error(ErrorCode::kIo, "write past the end of the image").On(name_);
    }
    std::memcpy(bytes_.data() + offset, in.data(), in.size());
    return Ok();
  }
  Result<void> Sync() override { return Ok(); }

 private:
  std::vector<std::uint8_t> bytes_;
  std::string name_;
};

}  // namespace

std::unique_ptr<BlockSource> MemoryImage(std::vector<std::uint8_t> bytes, std::string name) {
  return std::make_unique<MemoryBlocks>(std::move(bytes), std::move(name));
}

}  // namespace mkeys::keystore::image
