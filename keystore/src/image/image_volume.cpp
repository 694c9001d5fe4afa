// SPDX-License-Identifier: GPL-3.0-or-later
// ImageVolume: paths, directories, files and security descriptors of the NTFS volume in a
// disk image, through ntfs-3g's library on our own device operations (ntfs_device.cpp).
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "image/ntfs_glue.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/image_volume.hpp"

namespace mkeys::keystore {
namespace {

using image::BlockSource;
using image::Partition;
using image::PartitionWindow;
using image::VolumePtr;

struct InodeCloser {
  void operator()(ntfs_inode* ni) const {
    if (ni != nullptr) ntfs_inode_close(ni);
  }
};
using InodePtr = std::unique_ptr<ntfs_inode, InodeCloser>;

constexpr std::string_view kWindowsMarker = "Windows/System32/config/SOFTWARE";

Result<std::vector<std::string>> SplitPath(std::string_view rel) {
  std::vector<std::string> parts;
  std::string cur;
  auto flush = [&]() -> Result<void> {
    if (cur == "..")
      return Error(ErrorCode::kInvalidArgument, "'..' in an image path").On(std::string(rel));
    if (!cur.empty() && cur != ".") parts.push_back(cur);
    cur.clear();
    return Ok();
  };
  for (char c : rel) {
    if (c == '/' || c == '\\') {
      MKEYS_TRY(flush());
    } else {
      cur.push_back(c);
    }
  }
  MKEYS_TRY(flush());
  return parts;
}

std::string Join(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += (i ? "/" : "") + parts[i];
  return out;
}

bool IsReparse(const ntfs_inode* ni) {
  return (ni->flags & FILE_ATTR_REPARSE_POINT) != 0;
}
bool IsDirectory(const ntfs_inode* ni) {
  return (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
}

// Interix special files, as an ntfs-3g mount shows them (`ln -s`, `mknod` on a mount make
// these): a system file holding "IntxLNK\1" + UTF-16LE target is a symbolic link,
// "IntxCHR\0"/"IntxBLK\0" a device, an empty one a FIFO, a one-byte one a socket.
void InterixSpecial(ntfs_inode* ni, ImageStat& st) {
  if (st.size == 0 || st.size == 1) {
    st.special = ImageStat::Special::kOther;
    return;
  }
  if (st.size < 8 || st.size > 8 + 2 * 4096) return;
  ntfs_attr* na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
  if (na == nullptr) return;
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.size));
  const s64 n = ntfs_attr_pread(na, 0, static_cast<s64>(bytes.size()), bytes.data());
  ntfs_attr_close(na);
  if (n < 8) return;
  const std::string_view magic(reinterpret_cast<const char*>(bytes.data()), 8);
  if (magic == std::string_view("IntxCHR\0", 8) || magic == std::string_view("IntxBLK\0", 8)) {
    st.special = ImageStat::Special::kOther;
  } else if (magic == std::string_view("IntxLNK\1", 8)) {
    st.special = ImageStat::Special::kSymlink;
    for (s64 k = 8; k + 1 < n; k += 2) {  // the target, ASCII only (enough for a message)
      const unsigned c = bytes[static_cast<std::size_t>(k)] |
                         (unsigned{bytes[static_cast<std::size_t>(k) + 1]} << 8);
      st.link_target.push_back(c < 0x80 ? static_cast<char>(c) : '?');
    }
  }
}

std::vector<ntfschar> ToNtfsName(const std::string& utf8) {
  const auto bytes = text::Utf8ToUtf16Le(utf8);
  std::vector<ntfschar> out(bytes.size() / 2);
  std::memcpy(out.data(), bytes.data(), out.size() * 2);
  return out;
}

struct Walk {
  InodePtr inode;
  std::optional<std::string> reparse_prefix;  // first reparse point met (when not stopping)
};

// Walks `rel` from the root, one case-insensitive index lookup per component. A reparse point
// before the last component stops the walk: kUnsupported, or with `report_only` the walk
// returns it as reparse_prefix.
Result<Walk> Resolve(ntfs_volume* vol, std::string_view rel, bool report_only) {
  MKEYS_ASSIGN_OR_RETURN(auto parts, SplitPath(rel));
  Walk walk;
  walk.inode.reset(ntfs_inode_open(vol, FILE_root));
  if (!walk.inode) return Error(ErrorCode::kCorrupt, "the root directory cannot be opened");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0 && IsReparse(walk.inode.get())) {
      walk.reparse_prefix = Join(parts, i);
      if (report_only) return walk;  // what lies behind it is another place
      return Error(ErrorCode::kUnsupported,
                   "is a reparse point (junction or symbolic link): not followed")
          .On(Join(parts, i));
    }
    if (!IsDirectory(walk.inode.get())) {
      return Error(ErrorCode::kNotFound, "not a directory").On(Join(parts, i));
    }
    const auto name = ToNtfsName(parts[i]);
    errno = 0;
    const u64 mref =
        ntfs_inode_lookup_by_name(walk.inode.get(), name.data(), static_cast<int>(name.size()));
    if (mref == static_cast<u64>(-1)) {
      if (errno == ENOENT)
        return Error(ErrorCode::kNotFound, "no such file or directory").On(Join(parts, i + 1));
      return Error(ErrorCode::kIo, std::string("lookup failed: ") + std::strerror(errno))
          .On(Join(parts, i + 1));
    }
    walk.inode.reset(ntfs_inode_open(vol, MREF(mref)));
    if (!walk.inode) {
      return Error(ErrorCode::kCorrupt, "its MFT record cannot be read").On(Join(parts, i + 1));
    }
  }
  if (IsReparse(walk.inode.get()) && !walk.reparse_prefix)
    walk.reparse_prefix = Join(parts, parts.size());
  return walk;
}

Result<InodePtr> Open(ntfs_volume* vol, std::string_view rel) {
  MKEYS_ASSIGN_OR_RETURN(auto walk, Resolve(vol, rel, false));
  return std::move(walk.inode);
}

struct ListState {
  std::vector<ImageEntry> entries;
  bool at_root = false;
};

int Fill(void* dirent, const ntfschar* name, const int name_len, const int name_type, const s64,
         const MFT_REF mref, const unsigned dt_type) {
  auto& state = *static_cast<ListState*>(dirent);
  if (name_type == FILE_NAME_DOS) return 0;
  if (state.at_root && MREF(mref) < FILE_first_user) return 0;
  auto utf8 = text::Utf16LeToUtf8(std::span(reinterpret_cast<const std::uint8_t*>(name),
                                            static_cast<std::size_t>(name_len) * 2));
  if (!utf8 || *utf8 == "." || *utf8 == "..") return 0;
  ImageEntry e;
  e.name = std::move(*utf8);
  e.is_directory = dt_type == NTFS_DT_DIR;
  e.is_reparse_point = dt_type == NTFS_DT_LNK || dt_type == NTFS_DT_REPARSE;
  e.is_special = dt_type == NTFS_DT_FIFO || dt_type == NTFS_DT_CHR || dt_type == NTFS_DT_BLK ||
                 dt_type == NTFS_DT_SOCK;
  state.entries.push_back(std::move(e));
  return 0;
}

// The NTFS partitions worth opening: the named one, or every candidate.
Result<std::vector<Partition>> Candidates(BlockSource& src, const image::PartitionLayout& layout,
                                          std::optional<int> wanted) {
  std::vector<Partition> out;
  std::optional<Error> first_error;  // of an NTFS-typed partition that is not NTFS
  for (const auto& p : layout.partitions) {
    if (wanted && p.index != *wanted) continue;
    if (!wanted && !p.ntfs_candidate) continue;
    auto check = image::CheckNtfsVolume(src, p);
    if (!check && (wanted || layout.kind == image::TableKind::kNone))
      return std::move(check).error();
    if (!check) {
      if (!first_error) first_error = std::move(check).error();
      continue;
    }
    out.push_back(p);
  }
  if (wanted && out.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "no partition " + std::to_string(*wanted) + " in the " +
                     std::string(image::TableKindName(layout.kind)) + " table")
        .On(src.name());
  }
  if (out.empty() && first_error) return std::move(*first_error);
  if (out.empty()) {
    return Error(ErrorCode::kCorrupt, "no NTFS partition in the image").On(src.name());
  }
  return out;
}

}  // namespace

struct ImageVolume::Impl {
  std::unique_ptr<BlockSource> source;
  PartitionWindow window;
  VolumePtr vol;  // after window: unmounted before the window goes
  ImageInfo info;

  Result<void> Mount(const Partition& p, bool writable) {
    vol.reset();
    window = PartitionWindow{source.get(), p.offset, p.length, 0};
    MKEYS_ASSIGN_OR_RETURN(vol, image::MountPartition(window, writable));
    NVolSetShowHidFiles(vol.get());
    info.partition = p;
    info.has_windows = Resolve(vol.get(), kWindowsMarker, false).ok();
    info.volume_label = vol->vol_name ? vol->vol_name : "";
    return Ok();
  }
};

ImageVolume::ImageVolume(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageVolume::~ImageVolume() = default;

Result<std::unique_ptr<ImageVolume>> ImageVolume::Open(const std::filesystem::path& path,
                                                       const ImageOpenOptions& options) {
  auto impl = std::make_unique<Impl>();
  MKEYS_ASSIGN_OR_RETURN(impl->source, image::OpenImageFile(path, options.writable));
  impl->info.format = impl->source->format();
  MKEYS_ASSIGN_OR_RETURN(impl->info.layout, image::ReadPartitionLayout(*impl->source));
  MKEYS_ASSIGN_OR_RETURN(auto candidates,
                         Candidates(*impl->source, impl->info.layout, options.partition));
  if (candidates.size() > 1) {
    // Several NTFS partitions: the Windows one is the one holding the SOFTWARE hive.
    std::optional<Partition> windows;
    for (const auto& p : candidates) {
      MKEYS_TRY(impl->Mount(p, false));
      if (impl->info.has_windows) {
        windows = p;
        break;
      }
    }
    if (!windows) {
      return Error(ErrorCode::kInvalidArgument,
                   std::to_string(candidates.size()) + " NTFS partitions and none holds " +
                       std::string(kWindowsMarker) + ": name one (--partition N)")
          .On(path.string());
    }
    candidates = {*windows};
  }
  MKEYS_TRY(impl->Mount(candidates.front(), options.writable));
  return std::unique_ptr<ImageVolume>(new ImageVolume(std::move(impl)));
}

const ImageInfo& ImageVolume::info() const {
  return impl_->info;
}
bool ImageVolume::writable() const {
  return !NVolReadOnly(impl_->vol.get());
}

Result<ImageStat> ImageVolume::Stat(std::string_view rel) {
  MKEYS_ASSIGN_OR_RETURN(auto ni, keystore::Open(impl_->vol.get(), rel));
  ImageStat st;
  st.is_directory = IsDirectory(ni.get());
  st.attributes = le32_to_cpu(ni->flags);
  st.size = st.is_directory ? 0 : static_cast<std::uint64_t>(ni->data_size);
  st.mft_record = ni->mft_no;
  st.links = le16_to_cpu(ni->mrec->link_count);
  st.mtime = static_cast<std::int64_t>(ntfs2timespec(ni->last_data_change_time).tv_sec);
  if (IsReparse(ni.get())) {
    REPARSE_POINT* rp = ntfs_get_reparse_point(ni.get());
    st.reparse_tag = rp ? le32_to_cpu(rp->reparse_tag) : 0;
    std::optional<ReparsePoint> point;
    if (rp != nullptr) {  // the whole REPARSE_DATA_BUFFER: 8 bytes of header, then the data
      const std::size_t size = 8 + le16_to_cpu(rp->reparse_data_length);
      if (auto parsed = ParseReparsePoint(
              std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(rp), size))) {
        point = std::move(*parsed);
      }
    }
    free(rp);
    st.special = ImageStat::Special::kSymlink;
    if (point) st.link_kind = point->kind;
    if (point && !point->target.empty()) {
      st.link_target = point->target;  // as Windows names it: "C:\Windows"
    } else if (char* target = ntfs_make_symlink(ni.get(), "")) {
      st.link_target = target;
      free(target);
    }
  } else if (!st.is_directory && (st.attributes & 0x4u) != 0) {
    InterixSpecial(ni.get(), st);
  }
  return st;
}

Result<bool> ImageVolume::Exists(std::string_view rel) {
  auto ni = keystore::Open(impl_->vol.get(), rel);
  if (ni) return true;
  if (ni.error().code() == ErrorCode::kNotFound) return false;
  return std::move(ni).error();
}

Result<std::vector<ImageEntry>> ImageVolume::ListDirectory(std::string_view rel) {
  ntfs_volume* vol = impl_->vol.get();
  MKEYS_ASSIGN_OR_RETURN(auto ni, keystore::Open(vol, rel));
  if (!IsDirectory(ni.get()))
    return Error(ErrorCode::kNotFound, "not a directory").On(std::string(rel));
  if (IsReparse(ni.get())) {
    return Error(ErrorCode::kUnsupported, "is a reparse point: not listed").On(std::string(rel));
  }
  ListState state;
  state.at_root = ni->mft_no == FILE_root;
  s64 pos = 0;
  // Case-sensitive while listing, or ntfs-3g hands out lower-cased names.
  NVolSetCaseSensitive(vol);
  const int rc = ntfs_readdir(ni.get(), &pos, &state, Fill);
  const int err = errno;
  NVolClearCaseSensitive(vol);
  if (rc != 0) {
    return Error(ErrorCode::kIo, std::string("cannot list: ") + std::strerror(err))
        .On(std::string(rel));
  }
  std::sort(state.entries.begin(), state.entries.end(),
            [](const ImageEntry& a, const ImageEntry& b) { return a.name < b.name; });
  return std::move(state.entries);
}

Result<std::vector<std::uint8_t>> ImageVolume::ReadFile(std::string_view rel,
                                                        std::uint64_t max_bytes) {
  MKEYS_ASSIGN_OR_RETURN(auto ni, keystore::Open(impl_->vol.get(), rel));
  const std::string where(rel);
  if (IsDirectory(ni.get())) return Error(ErrorCode::kInvalidArgument, "is a directory").On(where);
  if (IsReparse(ni.get()))
    return Error(ErrorCode::kUnsupported, "is a reparse point: not read").On(where);
  ntfs_attr* na = ntfs_attr_open(ni.get(), AT_DATA, AT_UNNAMED, 0);
  if (na == nullptr) return Error(ErrorCode::kIo, "no data stream").On(where);
  std::unique_ptr<ntfs_attr, void (*)(ntfs_attr*)> attr(na, ntfs_attr_close);
  if (na->data_size < 0 || static_cast<std::uint64_t>(na->data_size) > max_bytes) {
    return Error(ErrorCode::kUnsupported, std::to_string(na->data_size) + " bytes, more than the " +
                                              std::to_string(max_bytes) + " allowed")
        .On(where);
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(na->data_size));
  s64 done = 0;
  while (done < na->data_size) {
    const s64 n = ntfs_attr_pread(na, done, na->data_size - done, out.data() + done);
    if (n <= 0) {
      return Error(ErrorCode::kIo, "read failed at byte " + std::to_string(done)).On(where);
    }
    done += n;
  }
  return out;
}

Result<std::vector<std::uint8_t>> ImageVolume::ReadSecurityDescriptor(std::string_view rel) {
  ntfs_volume* vol = impl_->vol.get();
  MKEYS_ASSIGN_OR_RETURN(auto ni, keystore::Open(vol, rel));
  struct SECURITY_CONTEXT scx {};
  scx.vol = vol;
  const int size = ntfs_get_ntfs_acl(&scx, ni.get(), nullptr, 0);
  if (size <= 0) {
    return Error(ErrorCode::kCorrupt, "no readable security descriptor").On(std::string(rel));
  }
  std::vector<std::uint8_t> sd(static_cast<std::size_t>(size));
  const int again =
      ntfs_get_ntfs_acl(&scx, ni.get(), reinterpret_cast<char*>(sd.data()), sd.size());
  if (again != size) {
    return Error(ErrorCode::kIo, "security descriptor changed size while read")
        .On(std::string(rel));
  }
  return sd;
}

Result<void> ImageVolume::WriteSecurityDescriptor(std::string_view rel,
                                                  std::span<const std::uint8_t> sd) {
  ntfs_volume* vol = impl_->vol.get();
  const std::string where(rel);
  if (NVolReadOnly(vol)) {
    return Error(ErrorCode::kUnsupported, "the image is open read-only").On(impl_->source->name());
  }
  MKEYS_ASSIGN_OR_RETURN(auto ni, keystore::Open(vol, rel));
  if (ni->mft_no < FILE_first_user) {
    return Error(ErrorCode::kInvalidArgument, "an NTFS metadata file: not changed").On(where);
  }
  struct SECURITY_CONTEXT scx {};
  scx.vol = vol;
  image::TakeNtfsLogMessage();
  if (ntfs_set_ntfs_acl(&scx, ni.get(), reinterpret_cast<const char*>(sd.data()), sd.size(), 0) !=
      0) {
    const int err = errno;
    std::string detail = image::TakeNtfsLogMessage();
    if (err == EINVAL) detail = "not a valid self-relative security descriptor";
    return Error(err == EINVAL ? ErrorCode::kInvalidArgument : ErrorCode::kIo,
                 "cannot set the security descriptor: " +
                     (detail.empty() ? std::strerror(err) : detail))
        .On(where);
  }
  // ntfs-3g caches MFT records: write this one and $Secure's, then make the image durable.
  if (ntfs_inode_sync(ni.get()) != 0 || (vol->secure_ni && ntfs_inode_sync(vol->secure_ni) != 0)) {
    return Error(ErrorCode::kIo,
                 std::string("cannot write the MFT record: ") + std::strerror(errno))
        .On(where);
  }
  if (ntfs_device_sync(vol->dev) != 0) {
    return Error(ErrorCode::kIo, std::string("fsync of the image failed: ") + std::strerror(errno))
        .On(impl_->source->name());
  }
  return Ok();
}

Result<bool> ImageVolume::IsReparsePoint(std::string_view rel) {
  MKEYS_ASSIGN_OR_RETURN(auto ni, keystore::Open(impl_->vol.get(), rel));
  return IsReparse(ni.get());
}

Result<std::optional<std::string>> ImageVolume::FindReparsePoint(std::string_view rel) {
  MKEYS_ASSIGN_OR_RETURN(auto walk, Resolve(impl_->vol.get(), rel, true));
  return walk.reparse_prefix;
}

}  // namespace mkeys::keystore
