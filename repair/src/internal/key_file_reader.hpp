// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The scan's POSIX I/O: a key file's descriptor and bytes from one openat(). Private to the
// repair library.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::repair::internal {

// Reads a key file's contents and descriptor with as few system calls as possible; one per
// thread.
class KeyFileReader final {
 public:
  KeyFileReader(const keystore::MachineRoot& root);
  KeyFileReader(const KeyFileReader&) = delete;
  KeyFileReader& operator=(const KeyFileReader&) = delete;
  ~KeyFileReader();

  // The key file's descriptor attribute, then its bytes (each valid until the next call of the
  // same method). Both come from one openat(): fgetxattr on the open file saves the path walk a
  // getxattr by name costs, which dominates a scan. Call Descriptor first, then Contents (which
  // closes the file).
  Result<std::span<const std::uint8_t>> Descriptor(std::string_view file_name);
  Result<std::span<const std::uint8_t>> Contents(std::string_view file_name);

 private:
  void OpenFile(std::string_view file_name);
  void CloseFile();
  Result<std::span<const std::uint8_t>> ImageContents(std::string_view file_name);
  const keystore::MachineRoot* image_ = nullptr;  // set on a disk image root
  int dir_fd_ = -1;
  int file_fd_ = -1;
  int open_errno_ = 0;
  std::string open_name_;
  std::string attribute_;
  keystore::RawDescriptorReader reader_;
  std::vector<std::uint8_t> buffer_;
  std::vector<std::uint8_t> sd_buffer_;
};

}  // namespace mkeys::repair::internal
