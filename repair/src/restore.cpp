// SPDX-License-Identifier: GPL-3.0-or-later
// RestoreJournal: a journal's "before" bytes back onto the machine it was written on, checked
// in full before the first write.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "mkeys/core/beneath.hpp"
#include "mkeys/core/beneath_links.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/disk_image.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/journal.hpp"

namespace mkeys::repair {
namespace {

struct BoundRoot {
  keystore::MachineRoot machine;
  std::optional<files::RootDir> dir;  // absent on a disk image (written through its volume)
};

Error Refused(const std::filesystem::path& journal, std::string why) {
  return Error(ErrorCode::kCorrupt, fmt::format("restore refused, nothing written: {}", why))
      .On(journal.string());
}

// 0. A disk image whose journal names the partition: the image's table (read without opening
// the volume, so nothing is written) must still place that partition at the same bytes.
Result<void> CheckPartition(const std::filesystem::path& image, const JournalPartition& recorded,
                            int index, const std::filesystem::path& journal) {
  auto source = keystore::image::OpenImageFile(image, false);
  if (!source) return Refused(journal, source.error().ToString());
  auto layout = keystore::image::ReadPartitionLayout(**source);
  if (!layout) return Refused(journal, layout.error().ToString());
  for (const auto& p : layout->partitions) {
    if (p.index != index) continue;
    const JournalPartition now{p.index, p.offset, p.length};
    if (now == recorded) return Ok();
    return Refused(journal,
                   fmt::format("the repair wrote partition {} at bytes {}..{} of the image; "
                               "partition {} of {} now spans bytes {}..{} (the partition table "
                               "changed, or this is another image)",
                               recorded.index, recorded.offset, recorded.offset + recorded.length,
                               index, image.string(), now.offset, now.offset + now.length));
  }
  return Refused(journal, fmt::format("the repair wrote partition {} of the image; {} has no "
                                      "partition {} now (the partition table changed, or this "
                                      "is another image)",
                                      recorded.index, image.string(), index));
}

// 1. The root: a machine root, the journal's machine, and (unless --root names it) the very
// directory the apply wrote into.
Result<BoundRoot> BindRoot(const JournalHeader& header, const RestoreOptions& options,
                           const std::filesystem::path& journal) {
  const std::filesystem::path path =
      options.root ? *options.root : std::filesystem::path(header.root);
  std::error_code ec;
  const bool image = std::filesystem::is_regular_file(path, ec);
  keystore::MachineOpenOptions open;
  open.partition = options.partition;
  // The partition the repair wrote (journals of disk images record it): the same one again.
  if (!open.partition && image && header.partition) open.partition = header.partition->index;
  if (image && header.partition) {
    MKEYS_TRY(CheckPartition(path, *header.partition, *open.partition, journal));
  }
  open.writable = image && !options.dry_run;
  auto machine = keystore::MachineRoot::Open(path, open);
  if (!machine && !options.root) {
    // A Windows volume without a SOFTWARE hive has no MachineGuid of its own (repair was given
    // --machine-guid): the journal's stands in, and the root's identity decides below.
    keystore::MachineOpenOptions with_guid = open;
    with_guid.machine_guid = header.machine_guid;
    if (auto retried = keystore::MachineRoot::Open(path, with_guid);
        retried && retried->kind() == keystore::RootKind::kNtfs3g) {
      machine = std::move(retried);
    }
  }
  if (!machine) {
    return Refused(journal, fmt::format("{} is not a machine root ({})", path.string(),
                                        machine.error().message()));
  }
  if (!text::EqualsIgnoreAsciiCase(machine->machine_guid(), header.machine_guid)) {
    return Refused(journal,
                   fmt::format("the journal was written on MachineGuid {}; {} has MachineGuid {}",
                               header.machine_guid, path.string(), machine->machine_guid()));
  }
  std::optional<files::RootDir> dir;
  if (!image) {
    MKEYS_ASSIGN_OR_RETURN(dir, files::RootDir::Open(path.string()));
  }
  MKEYS_ASSIGN_OR_RETURN(const std::string identity,
                         dir ? Result<std::string>(RootIdentity(dir->fd())) : RootIdentityOf(path));
  if (!options.root && identity != header.root_identity) {
    return Refused(journal, fmt::format("{} is not the {} the repair wrote into (identity "
                                        "{}, journal {}); name the root with --root if it moved",
                                        path.string(), image ? "image" : "directory", identity,
                                        header.root_identity));
  }
  if (const auto* info = machine->image_info(); info && header.partition) {
    const JournalPartition now{info->partition.index, info->partition.offset,
                               info->partition.length};
    if (now != *header.partition) {
      return Refused(journal,
                     fmt::format("the repair wrote partition {} (bytes {}..{}) of the image; {} "
                                 "now opens partition {} at bytes {}..{} (the partition table "
                                 "changed, or this is another image)",
                                 header.partition->index, header.partition->offset,
                                 header.partition->offset + header.partition->length, path.string(),
                                 now.index, now.offset, now.offset + now.length));
    }
  }
  const bool ntfs = machine->security().backend() == keystore::SecurityBackend::kNtfs3g;
  if (ntfs != header.ntfs || machine->security().attribute() != header.attribute) {
    return Refused(journal,
                   fmt::format("the journal holds {} attributes; {} keeps {}", header.attribute,
                               path.string(), machine->security().attribute()));
  }
  return BoundRoot{std::move(*machine), std::move(dir)};
}

// 2. Every "before" value is a descriptor (or empty: there was none).
Result<void> CheckBefores(const Journal& journal, const keystore::ReadOnlySecurityStore& store,
                          const std::filesystem::path& file) {
  for (const auto& e : journal.entries) {
    if (e.before.empty()) continue;
    if (auto sd = store.DecodeRaw(e.before); !sd) {
      return Refused(file, fmt::format("the \"before\" value of {} is not a valid descriptor: {}",
                                       e.relative_path, sd.error().ToString()));
    }
  }
  return Ok();
}

// 3. Every entry opened beneath the root (a symlink refuses the restore) and compared.
Result<std::vector<RestoreAction>> PlanRestore(const Journal& journal, const BoundRoot& bound,
                                               const std::filesystem::path& file) {
  std::vector<RestoreAction> actions;
  // MachineKeys and every folder holding a key file the journal writes: one holding a symlink
  // (a key file, a subfolder) refuses the restore as a whole, as it refuses every other writer
  // into the store (audit: MK031).
  std::set<std::string> folders = {bound.machine.Relative(bound.machine.machine_keys_dir())};
  // Last change first, so that a partial restore leaves a prefix of the apply in place.
  for (auto it = journal.entries.rbegin(); it != journal.entries.rend(); ++it) {
    std::optional<files::UniqueFd> fd;
    if (bound.dir) {
      auto opened = bound.dir->OpenBeneath(it->relative_path, O_RDONLY | O_NONBLOCK);
      if (!opened) return Refused(file, opened.error().ToString());
      fd = std::move(*opened);
      struct stat st {};
      if (::fstat(fd->get(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        folders.insert(std::filesystem::path(it->relative_path).parent_path().string());
      }
    }
    RestoreAction a;
    a.relative_path = it->relative_path;
    a.entry = static_cast<std::size_t>(journal.entries.rend() - it - 1);
    a.remove = it->before.empty();
    auto current = fd ? bound.machine.security().ReadRawFd(fd->get(), it->relative_path)
                      : bound.machine.security().ReadRaw(bound.machine.root() / it->relative_path);
    const bool holds_before = current ? *current == it->before
                                      : a.remove && current.error().code() == ErrorCode::kNotFound;
    a.restore = !holds_before;
    a.changed_by_others = a.restore && !(current && *current == it->after);
    actions.push_back(std::move(a));
  }
  for (const auto& folder : folders) {
    if (!bound.dir) break;
    if (auto dir = files::OpenDirWithoutLinks(*bound.dir, folder); !dir) {
      return Refused(file, dir.error().ToString());
    }
  }
  return actions;
}

// 4. One write, through a descriptor opened beneath the root.
Result<void> WriteBack(const BoundRoot& bound, keystore::SecurityStore& store,
                       const RestoreAction& action, const Journal& journal) {
  if (!bound.dir) {  // a disk image: through its volume, each write synced to the image
    if (action.remove) {
      return Error(ErrorCode::kUnsupported,
                   "an NTFS file always has a descriptor: cannot remove it")
          .On(action.relative_path);
    }
    return store.WriteRaw(bound.machine.root() / action.relative_path,
                          journal.entries[action.entry].before);
  }
  MKEYS_ASSIGN_OR_RETURN(const files::UniqueFd fd,
                         bound.dir->OpenBeneath(action.relative_path, O_RDONLY | O_NONBLOCK));
  if (action.remove) return store.RemoveFd(fd.get(), action.relative_path);
  return store.WriteRawFd(fd.get(), action.relative_path, journal.entries[action.entry].before);
}

}  // namespace

std::string RootIdentity(int dir_fd) {
  struct stat st {};
  if (::fstat(dir_fd, &st) != 0) return {};
  return fmt::format("{}:{}", static_cast<unsigned long long>(st.st_dev),
                     static_cast<unsigned long long>(st.st_ino));
}

Result<std::string> RootIdentityOf(const std::filesystem::path& root) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return files::IoError(errno, root, "cannot open");
  const files::UniqueFd owned(fd);
  return RootIdentity(owned.get());
}

Result<RestoreReport> RestoreJournal(const std::filesystem::path& file,
                                     const RestoreOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(Journal journal, ReadJournal(file));
  RestoreReport report;
  report.dry_run = options.dry_run;
  if (!journal.sealed) {
    // The apply writes no descriptor before the sealed marker is on disk.
    report.nothing_to_do = true;
    report.journal = std::move(journal);
    return report;
  }
  MKEYS_ASSIGN_OR_RETURN(BoundRoot bound, BindRoot(journal.header, options, file));
  report.root = bound.machine.root().string();
  MKEYS_TRY(CheckBefores(journal, bound.machine.security(), file));
  // Every entry opened beneath the root and compared before anything is written.
  MKEYS_ASSIGN_OR_RETURN(report.actions, PlanRestore(journal, bound, file));
  if (options.dry_run) {
    for (const auto& a : report.actions) (a.restore ? report.restored : report.unchanged)++;
    report.journal = std::move(journal);
    return report;
  }
  auto& store = bound.machine.writable_security();
  for (const auto& action : report.actions) {
    if (action.changed_by_others) report.changed_by_others.push_back(action.relative_path);
    if (!action.restore) {
      ++report.unchanged;
      continue;
    }
    auto written = WriteBack(bound, store, action, journal);
    if (!written) {
      return Error(written.error().code(),
                   fmt::format("restored {} of {} descriptors, then: {}", report.restored,
                               journal.entries.size(), written.error().ToString()))
          .On(file.string());
    }
    ++report.restored;
  }
  report.journal = std::move(journal);
  return report;
}

}  // namespace mkeys::repair
