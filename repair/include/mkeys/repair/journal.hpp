// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The repair journal (docs/audit.md, "Journal"): a header, every planned change with the
// complete descriptor bytes before and after, a "sealed" marker written and fsync'd before the
// first change, and a "completed" marker after the last. Records are length-prefixed and
// CRC-32 checked, so a torn or corrupt journal is detected and reported with its offset.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys::repair {

inline constexpr std::uint32_t kJournalVersion = 1;

// The partition of a disk image root a journal was written on (docs/images.md): restore opens
// the same one and refuses when the image's table no longer puts it at the same bytes.
struct JournalPartition {
  int index = 0;             // 1-based as in the table (`--partition N`); 0 for a bare volume
  std::uint64_t offset = 0;  // byte offset of the partition in the image
  std::uint64_t length = 0;  // bytes
  friend bool operator==(const JournalPartition&, const JournalPartition&) = default;
};

struct JournalHeader {
  std::string root;  // absolute path of the machine root
  std::string machine_guid;
  // "<st_dev>:<st_ino>" of the root directory at apply time ("" in journals from before it was
  // recorded): a restore without --root writes only into that very directory.
  std::string root_identity;
  std::string attribute;  // xattr name
  bool ntfs = false;      // raw descriptors (system.ntfs_acl)
  std::uint64_t planned = 0;
  std::string created;  // UTC, ISO 8601
  // A disk image root: the partition repaired (absent for directories and old journals).
  std::optional<JournalPartition> partition;
};

struct JournalEntry {
  std::string relative_path;  // relative to the root, '/' separated
  std::vector<std::uint8_t> before;
  std::vector<std::uint8_t> after;
};

struct Journal {
  JournalHeader header;
  std::vector<JournalEntry> entries;
  bool sealed = false;     // every entry written and fsync'd: changes may have begun
  bool completed = false;  // every change applied
  // A last record cut short (the writer was killed while writing it): where and what.
  std::optional<std::string> torn_tail;
};

// Serialises a whole journal (tests, tools); ApplyPlan streams the same format.
std::vector<std::uint8_t> EncodeJournal(const Journal& journal);
// Parses journal bytes. A torn last record is reported in torn_tail (not an error); anything
// else malformed is kCorrupt / kParse with the byte offset.
Result<Journal> DecodeJournal(std::span<const std::uint8_t> bytes);
Result<Journal> ReadJournal(const std::filesystem::path& file);

struct RestoreOptions {
  // Instead of the root the journal names (it moved, or a copy): its MachineGuid must match.
  std::optional<std::filesystem::path> root;
  bool dry_run = false;  // check and plan, write nothing
  // A root that is a disk image: its partition (as `--partition N`; unset: the Windows one).
  std::optional<int> partition;
};

// What a restore does (or, with dry_run, would do) to one entry.
struct RestoreAction {
  std::string relative_path;
  bool restore = false;            // false: it holds its "before" bytes already
  bool changed_by_others = false;  // held neither "before" nor "after" bytes
  bool remove = false;             // "before" was "no descriptor": the attribute is removed
  std::size_t entry = 0;           // index into Journal::entries
};

struct RestoreReport {
  Journal journal;                             // as read (entries included)
  std::size_t restored = 0;                    // descriptors written back
  std::size_t unchanged = 0;                   // already held their "before" bytes
  std::vector<std::string> changed_by_others;  // held neither "before" nor "after" bytes
  bool nothing_to_do = false;                  // the journal was never sealed: no change had begun
  bool dry_run = false;                        // nothing was written (`actions` is the plan)
  std::string root;                            // the machine root restored into
  std::vector<RestoreAction> actions;          // last entry first, as written
};

// "<st_dev>:<st_ino>" of an open directory (a journal's root_identity).
std::string RootIdentity(int dir_fd);
// The same for a root named by path (a disk image file's identity), not following a link.
Result<std::string> RootIdentityOf(const std::filesystem::path& root);

// Puts every descriptor the journal lists back to its "before" bytes, byte for byte. Works on a
// journal of an apply killed half-way. Re-running it is harmless. Refused (nothing written,
// exit 3) when the root is not the journal's machine (MachineGuid, and without options.root the
// root directory's identity), when a "before" value is not a valid descriptor (empty: "no
// descriptor"), or when an entry's path leads through a symlink.
Result<RestoreReport> RestoreJournal(const std::filesystem::path& file,
                                     const RestoreOptions& options = {});

// CRC-32 (IEEE 802.3, as zlib's crc32).
std::uint32_t Crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

}  // namespace mkeys::repair
