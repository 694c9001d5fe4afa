// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Streams a journal to disk: buffered records, fsync at the points ApplyPlan needs them.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/repair/journal.hpp"

namespace mkeys::repair::internal {

enum class RecordType : std::uint32_t { kHeader = 1, kEntry = 2, kSealed = 3, kCompleted = 4 };

void AppendFileHeader(std::vector<std::uint8_t>& out);
void AppendHeaderRecord(std::vector<std::uint8_t>& out, const JournalHeader& header);
void AppendEntryRecord(std::vector<std::uint8_t>& out, std::string_view relative_path,
                       std::span<const std::uint8_t> before, std::span<const std::uint8_t> after);
void AppendCountRecord(std::vector<std::uint8_t>& out, RecordType type, std::uint64_t count);

class JournalWriter final {
 public:
  // Creates `file` exclusively (kExists if it is there).
  static Result<JournalWriter> Create(const std::filesystem::path& file);
  JournalWriter(JournalWriter&&) noexcept;
  JournalWriter& operator=(JournalWriter&&) = delete;
  ~JournalWriter();

  std::vector<std::uint8_t>& buffer() { return buffer_; }
  // Writes the buffer out when it is large (or always with `force`).
  Result<void> Flush(bool force = false);
  // Flush + fsync of the file (and, the first time, of its directory).
  Result<void> Sync();

 private:
  JournalWriter() = default;
  int fd_ = -1;
  std::filesystem::path path_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t written_ = 0;
  std::int64_t fault_bytes_ = -1;
  bool dir_synced_ = false;
};

}  // namespace mkeys::repair::internal
