// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/security_store.hpp"

#include <fcntl.h>
#include <sys/xattr.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mkeys/core/le.hpp"

namespace mkeys::keystore {
namespace {

constexpr std::size_t kNtaclHeader = 8;  // version, level, unique-pointer referent
constexpr std::size_t kSdHeader = 20;    // revision, sbz1, control, 4 offsets
constexpr std::uint32_t kUniqueReferent = 0x00020000;

Error XattrError(int err, const std::string& path, const std::string& attribute,
                 std::string_view verb) {
  if (err == ENODATA) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("no security descriptor: extended attribute {} is missing", attribute))
        .On(path);
  }
  if (err == ENOENT) {
    return Error(ErrorCode::kNotFound, "no such file or directory").On(path);
  }
  if (err == ENOTSUP) {
    return Error(ErrorCode::kIo,
                 fmt::format("cannot {} extended attribute {}: the file system does "
                             "not support it",
                             verb, attribute))
        .On(path);
  }
  return Error(ErrorCode::kIo, fmt::format("cannot {} extended attribute {}: {}", verb, attribute,
                                           std::strerror(err)))
      .On(path);
}

// A descriptor is at most 64 KiB (its ACLs' sizes are 16-bit); an NTACL blob adds its header.
constexpr std::size_t kMaxAttributeBytes = 64 * 1024 + 64;

// getxattr of one attribute into `buffer` through `get(data, size)` (lgetxattr or fgetxattr).
// With `size_first` the size is queried first (one query, one read); otherwise the buffer is
// tried as it is (a scan reusing it) and sized only when too small. A buffer that is too small
// is answered with ERANGE, or by ntfs-3g with EIO: both make it ask the size and retry.
template <typename Get>
Result<std::size_t> ReadAttribute(const Get& get, std::vector<std::uint8_t>& buffer,
                                  bool size_first, const std::string& path,
                                  const std::string& attribute) {
  auto query = [&]() -> Result<std::size_t> {
    const ssize_t need = get(nullptr, 0);
    if (need < 0) return XattrError(errno, path, attribute, "read");
    if (static_cast<std::size_t>(need) > kMaxAttributeBytes) {
      return Error(ErrorCode::kCorrupt,
                   fmt::format("extended attribute {} is {} bytes, more than a descriptor's 64 KiB",
                               attribute, need))
          .On(path);
    }
    return static_cast<std::size_t>(need);
  };
  if (size_first) {
    MKEYS_ASSIGN_OR_RETURN(const std::size_t need, query());
    if (buffer.size() < need || buffer.empty()) buffer.resize(need == 0 ? 1 : need);
  } else if (buffer.empty()) {
    buffer.resize(512);
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    const ssize_t n = get(buffer.data(), buffer.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    const int err = errno;
    if (err != ERANGE && err != EIO) return XattrError(err, path, attribute, "read");
    MKEYS_ASSIGN_OR_RETURN(const std::size_t need, query());
    // EIO with a buffer already large enough is a real I/O error.
    if (err == EIO && need <= buffer.size()) return XattrError(err, path, attribute, "read");
    buffer.resize(std::max(need, buffer.size() + 1));
  }
  return Error(ErrorCode::kIo, fmt::format("extended attribute {} keeps changing size", attribute))
      .On(path);
}

Result<std::size_t> GetXattrInto(const char* path, const std::string& attribute,
                                 std::vector<std::uint8_t>& buffer, bool size_first) {
  const auto get = [&](void* data, std::size_t size) {
    return ::lgetxattr(path, attribute.c_str(), data, size);
  };
  return ReadAttribute(get, buffer, size_first, path, attribute);
}

Result<std::vector<std::uint8_t>> GetXattr(const std::filesystem::path& path,
                                           const std::string& attribute) {
  std::vector<std::uint8_t> buffer;
  MKEYS_ASSIGN_OR_RETURN(const std::size_t size,
                         GetXattrInto(path.c_str(), attribute, buffer, true));
  buffer.resize(size);
  return buffer;
}

Result<void> CheckWriteSize(const std::filesystem::path& path, const std::string& attribute,
                            std::size_t size) {
  if (size <= kMaxAttributeBytes) return Ok();
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("descriptor of {} bytes is larger than 64 KiB: {} cannot hold it", size,
                           attribute))
      .On(path.string());
}

Result<void> SetXattr(const std::filesystem::path& path, const std::string& attribute,
                      std::span<const std::uint8_t> bytes) {
  MKEYS_TRY(CheckWriteSize(path, attribute, bytes.size()));
  if (::lsetxattr(path.c_str(), attribute.c_str(), bytes.data(), bytes.size(), 0) != 0) {
    return XattrError(errno, path.string(), attribute, "write");
  }
  return Ok();
}

Result<void> FSetXattr(int fd, const std::filesystem::path& path, const std::string& attribute,
                       std::span<const std::uint8_t> bytes) {
  MKEYS_TRY(CheckWriteSize(path, attribute, bytes.size()));
  if (::fsetxattr(fd, attribute.c_str(), bytes.data(), bytes.size(), 0) != 0) {
    return XattrError(errno, path.string(), attribute, "write");
  }
  return Ok();
}

Error Relocate(const Error& error, std::size_t shift, std::string_view what) {
  Error out(error.code() == ErrorCode::kParse ? ErrorCode::kParse : error.code(),
            fmt::format("{}: {}", what, error.message()));
  if (error.position()) return std::move(out).At(*error.position() + shift);
  return out;
}

class XattrNtaclStore final : public SecurityStore {
 public:
  explicit XattrNtaclStore(std::string attribute) : attribute_(std::move(attribute)) {}
  SecurityBackend backend() const override { return SecurityBackend::kXattrNtacl; }
  const std::string& attribute() const override { return attribute_; }

  Result<acl::SecurityDescriptor> Read(const std::filesystem::path& path) const override {
    MKEYS_ASSIGN_OR_RETURN(auto raw, GetXattr(path, attribute_));
    auto sd = DecodeNtacl(raw);
    if (!sd) {
      Error e = std::move(sd).error();
      return Error(e.code(), fmt::format("{} attribute is malformed: {}", attribute_, e.ToString()))
          .On(path.string());
    }
    return std::move(sd).value();
  }
  Result<std::vector<std::uint8_t>> ReadRaw(const std::filesystem::path& path) const override {
    return GetXattr(path, attribute_);
  }
  Result<acl::SecurityDescriptor> DecodeRaw(std::span<const std::uint8_t> raw) const override {
    return DecodeNtacl(raw);
  }
  Result<void> Write(const std::filesystem::path& path,
                     const acl::SecurityDescriptor& sd) override {
    const auto bytes = EncodeNtaclV1(sd);
    return SetXattr(path, attribute_, bytes);
  }
  Result<void> WriteFd(int fd, const std::filesystem::path& path,
                       const acl::SecurityDescriptor& sd) override {
    const auto bytes = EncodeNtaclV1(sd);
    return FSetXattr(fd, path, attribute_, bytes);
  }
  std::vector<std::uint8_t> EncodeRaw(const acl::SecurityDescriptor& sd) const override {
    return EncodeNtaclV1(sd);
  }
  Result<void> WriteRaw(const std::filesystem::path& path,
                        std::span<const std::uint8_t> raw) override {
    return SetXattr(path, attribute_, raw);
  }

 private:
  std::string attribute_;
};

class NtfsAclStore final : public SecurityStore {
 public:
  SecurityBackend backend() const override { return SecurityBackend::kNtfs3g; }
  const std::string& attribute() const override { return attribute_; }

  Result<acl::SecurityDescriptor> Read(const std::filesystem::path& path) const override {
    MKEYS_ASSIGN_OR_RETURN(auto raw, GetXattr(path, attribute_));
    auto sd = acl::SecurityDescriptor::Decode(raw);
    if (!sd) {
      Error e = std::move(sd).error();
      return Error(e.code(), fmt::format("{} is malformed: {}", attribute_, e.ToString()))
          .On(path.string());
    }
    return std::move(sd).value();
  }
  Result<std::vector<std::uint8_t>> ReadRaw(const std::filesystem::path& path) const override {
    return GetXattr(path, attribute_);
  }
  Result<acl::SecurityDescriptor> DecodeRaw(std::span<const std::uint8_t> raw) const override {
    return acl::SecurityDescriptor::Decode(raw);
  }
  Result<void> Write(const std::filesystem::path& path,
                     const acl::SecurityDescriptor& sd) override {
    return SetXattr(path, attribute_, sd.Encode());
  }
  Result<void> WriteFd(int fd, const std::filesystem::path& path,
                       const acl::SecurityDescriptor& sd) override {
    return FSetXattr(fd, path, attribute_, sd.Encode());
  }
  std::vector<std::uint8_t> EncodeRaw(const acl::SecurityDescriptor& sd) const override {
    return sd.Encode();
  }
  Result<void> WriteRaw(const std::filesystem::path& path,
                        std::span<const std::uint8_t> raw) override {
    return SetXattr(path, attribute_, raw);
  }

 private:
  std::string attribute_{kNtfsAclXattr};
};

}  // namespace

Result<std::vector<std::uint8_t>> ReadOnlySecurityStore::ReadRawFd(
    int fd, const std::filesystem::path& path_for_errors) const {
  if (!uses_xattrs()) return ReadRaw(path_for_errors);  // a disk image: by path inside it
  const std::string& name = attribute();
  const auto get = [&](void* data, std::size_t size) {
    return ::fgetxattr(fd, name.c_str(), data, size);
  };
  std::vector<std::uint8_t> buffer;
  MKEYS_ASSIGN_OR_RETURN(const std::size_t size,
                         ReadAttribute(get, buffer, true, path_for_errors.string(), name));
  buffer.resize(size);
  return buffer;
}

Result<void> SecurityStore::WriteRawFd(int fd, const std::filesystem::path& path_for_errors,
                                       std::span<const std::uint8_t> raw) {
  return FSetXattr(fd, path_for_errors, attribute(), raw);
}

Result<void> SecurityStore::RemoveFd(int fd, const std::filesystem::path& path_for_errors) {
  if (::fremovexattr(fd, attribute().c_str()) != 0 && errno != ENODATA) {
    return XattrError(errno, path_for_errors.string(), attribute(), "remove");
  }
  return Ok();
}

Result<std::vector<std::uint8_t>> ReadOnlySecurityStore::ReadRawBeneath(
    const files::RootDir& root, std::string_view relative) const {
  const std::string shown(relative.empty() ? "." : relative);
  auto fd = root.OpenBeneath(relative, O_RDONLY | O_NONBLOCK);
  if (fd) return ReadRawFd(fd->get(), shown);
  if (fd.error().code() != ErrorCode::kIo || root.FirstSymlink(relative)) {
    return std::move(fd).error();
  }
  // Not readable as a file (no read permission): the attribute through an O_PATH descriptor's
  // /proc link, which names the object itself and so cannot lead anywhere else.
  MKEYS_ASSIGN_OR_RETURN(const files::UniqueFd path_fd, root.OpenBeneath(relative, O_PATH));
  const std::string proc = fmt::format("/proc/self/fd/{}", path_fd.get());
  const std::string& name = attribute();
  const auto get = [&](void* data, std::size_t size) {
    return ::getxattr(proc.c_str(), name.c_str(), data, size);
  };
  std::vector<std::uint8_t> buffer;
  MKEYS_ASSIGN_OR_RETURN(const std::size_t size, ReadAttribute(get, buffer, true, shown, name));
  buffer.resize(size);
  return buffer;
}

std::unique_ptr<SecurityStore> MakeXattrNtaclStore(std::string attribute) {
  return std::make_unique<XattrNtaclStore>(std::move(attribute));
}

std::unique_ptr<SecurityStore> MakeNtfsAclStore() {
  return std::make_unique<NtfsAclStore>();
}

std::vector<std::uint8_t> EncodeNtaclV1(const acl::SecurityDescriptor& sd) {
  // Samba's ndr_push of xattr_NTACL v1: the descriptor in NDR field order (owner, group, SACL,
  // DACL), each relative pointer counted from the start of the whole blob.
  std::vector<std::uint8_t> out;
  le::Put16(out, 1);  // version
  le::Put16(out, 1);  // union level
  le::Put32(out, kUniqueReferent);
  const std::size_t base = out.size();
  std::uint16_t control = sd.control | acl::sd_control::kSelfRelative;
  if (sd.dacl) control |= acl::sd_control::kDaclPresent;
  if (sd.sacl) control |= acl::sd_control::kSaclPresent;
  out.push_back(1);  // revision
  out.push_back(sd.rm_control);
  le::Put16(out, control);
  out.resize(base + kSdHeader, 0);
  auto place = [&](std::size_t field) {
    le::Set32(out, base + 4 + 4 * field, static_cast<std::uint32_t>(out.size()));
  };
  if (sd.owner) {
    place(0);
    sd.owner->AppendTo(out);
  }
  if (sd.group) {
    place(1);
    sd.group->AppendTo(out);
  }
  if (sd.sacl) {
    place(2);
    sd.sacl->AppendTo(out);
  }
  if (sd.dacl) {
    place(3);
    sd.dacl->AppendTo(out);
  }
  return out;
}

Result<acl::SecurityDescriptor> DecodeNtacl(std::span<const std::uint8_t> blob) {
  if (blob.size() < kNtaclHeader) {
    return Error(
               ErrorCode::kParse,
               fmt::format("NTACL blob of {} bytes is shorter than its 8-byte header", blob.size()))
        .At(blob.size());
  }
  const std::uint16_t version = le::Read16(blob, 0);
  const std::uint16_t level = le::Read16(blob, 2);
  if (version != 1) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("NTACL version {} is not supported (mkeys reads version 1)", version))
        .At(0);
  }
  if (level != version) {
    return Error(ErrorCode::kParse,
                 fmt::format("NTACL union level {} does not match version {}", level, version))
        .At(2);
  }
  if (le::Read32(blob, 4) == 0) {
    return Error(ErrorCode::kParse, "NTACL holds a NULL descriptor pointer").At(4);
  }
  if (blob.size() < kNtaclHeader + kSdHeader) {
    return Error(
               ErrorCode::kParse,
               fmt::format("NTACL blob of {} bytes ends inside the descriptor header", blob.size()))
        .At(blob.size());
  }
  // Rebase the four offsets onto the descriptor so the self-relative decoder can check them.
  std::vector<std::uint8_t> sd_bytes(blob.begin() + kNtaclHeader, blob.end());
  for (std::size_t field = 0; field < 4; ++field) {
    const std::size_t at = 4 + 4 * field;
    const std::uint32_t offset = le::Read32(sd_bytes, at);
    if (offset == 0) continue;
    if (offset < kNtaclHeader + kSdHeader || offset >= blob.size()) {
      return Error(ErrorCode::kParse,
                   fmt::format("NTACL descriptor offset {} is outside the blob's descriptor "
                               "(bytes {}..{})",
                               offset, kNtaclHeader + kSdHeader, blob.size()))
          .At(kNtaclHeader + at);
    }
    le::Set32(sd_bytes, at, offset - static_cast<std::uint32_t>(kNtaclHeader));
  }
  auto sd = acl::SecurityDescriptor::Decode(sd_bytes);
  if (!sd) return Relocate(sd.error(), kNtaclHeader, "NTACL descriptor");
  return std::move(sd).value();
}

RawDescriptorReader::RawDescriptorReader(std::filesystem::path directory, std::string attribute)
    : dir_(directory.string()), attribute_(std::move(attribute)) {
  buffer_.resize(512);
}

RawDescriptorReader::RawDescriptorReader(std::filesystem::path directory,
                                         const ReadOnlySecurityStore& store)
    : RawDescriptorReader(std::move(directory), store.attribute()) {
  if (!store.uses_xattrs()) store_ = &store;
}

Result<std::span<const std::uint8_t>> RawDescriptorReader::Read(std::string_view name) {
  path_.assign(dir_);
  path_.push_back('/');
  path_.append(name);
  if (store_ != nullptr) {
    MKEYS_ASSIGN_OR_RETURN(buffer_, store_->ReadRaw(std::filesystem::path(path_)));
    return std::span<const std::uint8_t>(buffer_.data(), buffer_.size());
  }
  MKEYS_ASSIGN_OR_RETURN(const std::size_t size,
                         GetXattrInto(path_.c_str(), attribute_, buffer_, false));
  return std::span<const std::uint8_t>(buffer_.data(), size);
}

}  // namespace mkeys::keystore
