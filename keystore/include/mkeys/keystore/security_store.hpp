// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Where a root keeps the Windows security descriptor of each file and directory.
//
// Two backends, chosen per root by MachineRoot:
//  - XattrNtaclStore: model machines; Samba's xattr_NTACL version 1 (NDR) in an extended
//    attribute, `user.NTACL` by default (`security.NTACL` lets a Samba server share the store).
//  - NtfsAclStore: ntfs-3g mounts; the raw self-relative descriptor in `system.ntfs_acl`.
//
// Audit is read-only by construction: it only ever gets a `const ReadOnlySecurityStore&`.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::keystore {

inline constexpr std::string_view kDefaultNtaclXattr = "user.NTACL";
inline constexpr std::string_view kNtfsAclXattr = "system.ntfs_acl";

enum class SecurityBackend : std::uint8_t { kXattrNtacl, kNtfs3g };

// Reads descriptors. Thread-safe: every method is const and keeps no state. Every read asks the
// attribute's size first and reads it in one call (descriptors up to 64 KiB; ntfs-3g answers a
// short buffer with EIO, not ERANGE, so a size guess would fail there).
class ReadOnlySecurityStore {
 public:
  virtual ~ReadOnlySecurityStore() = default;

  virtual SecurityBackend backend() const = 0;
  // The extended attribute this store uses ("user.NTACL", "system.ntfs_acl").
  virtual const std::string& attribute() const = 0;
  // False for a disk image's store (docs/images.md): no file descriptors or extended
  // attributes to read through; only the path-based calls work.
  virtual bool uses_xattrs() const { return true; }

  // The descriptor of `path`. Errors name the path: a missing attribute (kNotFound), a
  // malformed one (kParse with the offset inside the attribute), an I/O failure (kIo).
  virtual Result<acl::SecurityDescriptor> Read(const std::filesystem::path& path) const = 0;
  // The attribute's bytes exactly as stored (NTACL blob or raw descriptor).
  virtual Result<std::vector<std::uint8_t>> ReadRaw(const std::filesystem::path& path) const = 0;
  // ReadRaw on an open file: one size query and one read of the attribute. (A store without
  // xattrs reads `path_for_errors` by path instead.)
  Result<std::vector<std::uint8_t>> ReadRawFd(int fd,
                                              const std::filesystem::path& path_for_errors) const;
  // ReadRaw of `relative` opened beneath `root` (files::RootDir::OpenBeneath): a symlink on the
  // way is refused (kIo naming it), never followed. An object the caller may not open for
  // reading is read through an O_PATH descriptor instead.
  Result<std::vector<std::uint8_t>> ReadRawBeneath(const files::RootDir& root,
                                                   std::string_view relative) const;
  // Decodes bytes as ReadRaw returns them (for callers that read them some other way).
  virtual Result<acl::SecurityDescriptor> DecodeRaw(std::span<const std::uint8_t> raw) const = 0;
};

// Reads and writes descriptors.
class SecurityStore : public ReadOnlySecurityStore {
 public:
  // Replaces the descriptor of `path`. The old one is overwritten in one setxattr call.
  virtual Result<void> Write(const std::filesystem::path& path,
                             const acl::SecurityDescriptor& sd) = 0;
  // The same on an open file descriptor (for files not yet renamed into place).
  virtual Result<void> WriteFd(int fd, const std::filesystem::path& path_for_errors,
                               const acl::SecurityDescriptor& sd) = 0;
  // The bytes `Write` would store for `sd`.
  virtual std::vector<std::uint8_t> EncodeRaw(const acl::SecurityDescriptor& sd) const = 0;
  // Writes raw attribute bytes as they are (restore of a journal, byte for byte).
  virtual Result<void> WriteRaw(const std::filesystem::path& path,
                                std::span<const std::uint8_t> raw) = 0;
  // WriteRaw on an open file (opened beneath the root: files::RootDir::OpenBeneath; not O_PATH,
  // fsetxattr refuses those).
  Result<void> WriteRawFd(int fd, const std::filesystem::path& path_for_errors,
                          std::span<const std::uint8_t> raw);
  // Removes the attribute of an open file (a journal's "no descriptor" before value); a
  // missing attribute is not an error.
  Result<void> RemoveFd(int fd, const std::filesystem::path& path_for_errors);
};

std::unique_ptr<SecurityStore> MakeXattrNtaclStore(
    std::string attribute = std::string(kDefaultNtaclXattr));
std::unique_ptr<SecurityStore> MakeNtfsAclStore();

// Samba xattr_NTACL version 1 (librpc/idl/xattr.idl): uint16 version = 1, uint16 level = 1,
// uint32 unique-pointer referent 0x00020000, then the descriptor in NDR order (header, owner,
// group, SACL, DACL) whose offsets count from the start of the blob. Encode writes exactly what
// Samba's ndr_pack writes; Decode accepts any layout whose offsets are in range, and rejects
// other versions and malformed blobs with the offset.
std::vector<std::uint8_t> EncodeNtaclV1(const acl::SecurityDescriptor& sd);
Result<acl::SecurityDescriptor> DecodeNtacl(std::span<const std::uint8_t> blob);

// Fast path for scanning a directory: reads one attribute by directory + file name into a
// buffer it reuses, so a scan over a million files allocates only when a descriptor is larger
// than any before. One reader per thread.
class RawDescriptorReader final {
 public:
  RawDescriptorReader(std::filesystem::path directory, std::string attribute);
  // Through `store`: its attribute by name, or (a disk image's store) its ReadRaw. The store
  // must outlive the reader.
  RawDescriptorReader(std::filesystem::path directory, const ReadOnlySecurityStore& store);
  // The attribute of directory/name; the span is valid until the next call.
  Result<std::span<const std::uint8_t>> Read(std::string_view name);

 private:
  std::string dir_;
  std::string attribute_;
  std::string path_;
  std::vector<std::uint8_t> buffer_;
  const ReadOnlySecurityStore* store_ = nullptr;  // set for stores without xattrs
};

}  // namespace mkeys::keystore
