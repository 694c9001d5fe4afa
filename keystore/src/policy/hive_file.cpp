// SPDX-License-Identifier: GPL-3.0-or-later
#include "policy/internal/hive_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <hivex.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "mkeys/core/files.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore::policy {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
using Malloced = std::unique_ptr<T, FreeDeleter>;

// Reads the base block's sequence numbers; a difference means the hive's .LOG files hold writes
// that were never replayed into it (hivex does not replay them).
std::optional<HiveWarning> CheckSequenceNumbers(const fs::path& file, HiveKind kind) {
  std::ifstream in(file, std::ios::binary);
  std::array<std::uint8_t, 12> header{};
  if (!in.read(reinterpret_cast<char*>(header.data()), header.size())) return {};
  if (std::memcmp(header.data(), "regf", 4) != 0) return {};
  const std::uint32_t primary = le::Read32(header, 4);
  const std::uint32_t secondary = le::Read32(header, 8);
  if (primary == secondary) return {};
  return HiveWarning{kind, fmt::format("{}: primary sequence number {} differs from secondary {}: "
                                       "the hive has unreplayed .LOG1/.LOG2 writes; the facts "
                                       "read may be out of date",
                                       file.string(), primary, secondary)};
}

// Copies `file` to a private temporary file (mkstemp: 0600) and returns its path.
Result<fs::path> PrivateCopy(const fs::path& file) {
  std::string tmpl = (fs::temp_directory_path() / "mkeys-hive-XXXXXX").string();
  const int out = mkstemp(tmpl.data());
  if (out < 0) return files::IoError(errno, tmpl, "cannot create a temporary copy of the hive");
  const int in = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    const int err = errno;
    close(out);
    unlink(tmpl.c_str());
    return files::IoError(err, file, "cannot open");
  }
  std::array<char, 1 << 16> buf{};
  int err = 0;
  for (;;) {
    const ssize_t n = read(in, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0 || write(out, buf.data(), static_cast<std::size_t>(n)) != n) {
      err = errno == 0 ? EIO : errno;
      break;
    }
  }
  close(in);
  close(out);
  if (err != 0) {
    unlink(tmpl.c_str());
    return files::IoError(err, file, "cannot copy the hive");
  }
  return fs::path(tmpl);
}

Error OpenError(int err, const fs::path& file) {
  if (err == ENOENT || err == EACCES || err == EPERM || err == EISDIR) {
    return files::IoError(err, file, "cannot open registry hive");
  }
  return std::move(
      Error(ErrorCode::kParse, fmt::format("not a readable registry hive ({})", std::strerror(err)))
          .On(file.string()));
}

}  // namespace

struct HiveFile::Handle {
  hive_h* h = nullptr;
  ~Handle() {
    if (h != nullptr) hivex_close(h);
  }
};

HiveFile::HiveFile(std::unique_ptr<Handle> handle, HiveKind kind, fs::path path)
    : handle_(std::move(handle)), kind_(kind), path_(std::move(path)) {}
HiveFile::HiveFile(HiveFile&&) noexcept = default;
HiveFile& HiveFile::operator=(HiveFile&&) noexcept = default;
HiveFile::~HiveFile() = default;

Result<HiveFile> HiveFile::Open(const fs::path& file, HiveKind kind, HiveMode mode) {
  fs::path open_path = file;
  if (mode == HiveMode::kReadCopy) {
    MKEYS_ASSIGN_OR_RETURN(open_path, PrivateCopy(file));
  }
  auto handle = std::make_unique<Handle>();
  errno = 0;
  handle->h = hivex_open(open_path.c_str(), mode == HiveMode::kWrite ? HIVEX_OPEN_WRITE : 0);
  const int err = errno == 0 ? EINVAL : errno;
  if (mode == HiveMode::kReadCopy) unlink(open_path.c_str());  // hivex holds its own mapping
  if (handle->h == nullptr) return OpenError(err, file);
  HiveFile hive(std::move(handle), kind, file);
  if (auto warning = CheckSequenceNumbers(file, kind)) hive.warnings_.push_back(*warning);
  return hive;
}

NodeId HiveFile::Root() const {
  return hivex_root(handle_->h);
}

std::optional<NodeId> HiveFile::Child(NodeId node, std::string_view name) const {
  const std::string n(name);
  errno = 0;
  const hive_node_h child = hivex_node_get_child(handle_->h, node, n.c_str());
  if (child == 0) return {};
  return child;
}

std::optional<NodeId> HiveFile::Find(std::string_view path) const {
  NodeId node = Root();
  for (const auto& part : SplitKeyPath(path)) {
    auto child = Child(node, part);
    if (!child) return {};
    node = *child;
  }
  return node;
}

Result<NodeId> HiveFile::Require(std::string_view path) const {
  if (auto node = Find(path)) return *node;
  return Fail(ErrorCode::kNotFound, fmt::format("the hive has no key {}", path));
}

Result<std::vector<std::pair<std::string, NodeId>>> HiveFile::Children(NodeId node) const {
  Malloced<hive_node_h> children(hivex_node_children(handle_->h, node));
  if (!children) {
    return Fail(ErrorCode::kParse, fmt::format("cannot list subkeys: {}", std::strerror(errno)));
  }
  std::vector<std::pair<std::string, NodeId>> out;
  for (const hive_node_h* c = children.get(); *c != 0; ++c) {
    Malloced<char> name(hivex_node_name(handle_->h, *c));
    if (!name) return Fail(ErrorCode::kParse, "a subkey's name cannot be decoded");
    out.emplace_back(name.get(), *c);
  }
  return out;
}

Result<std::optional<RawValue>> HiveFile::Value(NodeId node, std::string_view name) const {
  const std::string n(name);
  errno = 0;
  const hive_value_h value = hivex_node_get_value(handle_->h, node, n.c_str());
  if (value == 0) {
    if (errno != 0 && errno != ENOENT) {
      return Fail(ErrorCode::kParse,
                  fmt::format("cannot read value '{}': {}", name, std::strerror(errno)));
    }
    return std::optional<RawValue>{};
  }
  hive_type type{};
  std::size_t length = 0;
  Malloced<char> data(hivex_value_value(handle_->h, value, &type, &length));
  if (!data && length != 0) {
    return Fail(ErrorCode::kParse,
                fmt::format("cannot read value '{}': {}", name, std::strerror(errno)));
  }
  RawValue raw;
  raw.type = static_cast<std::uint32_t>(type);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.get());
  if (bytes != nullptr) raw.data.assign(bytes, bytes + length);
  return std::optional<RawValue>(std::move(raw));
}

Result<NodeId> HiveFile::EnsurePath(std::string_view path) {
  NodeId node = Root();
  for (const auto& part : SplitKeyPath(path)) {
    if (auto child = Child(node, part)) {
      node = *child;
      continue;
    }
    const hive_node_h added = hivex_node_add_child(handle_->h, node, part.c_str());
    if (added == 0) {
      return Fail(ErrorCode::kIo,
                  fmt::format("cannot add key {} ({}): {}", part, path, std::strerror(errno)));
    }
    node = added;
  }
  return node;
}

Result<void> HiveFile::SetValue(NodeId node, std::string_view name, std::uint32_t type,
                                std::span<const std::uint8_t> data) {
  std::string key(name);
  std::vector<char> bytes(data.begin(), data.end());
  hive_set_value value{key.data(), static_cast<hive_type>(type), bytes.size(), bytes.data()};
  if (hivex_node_set_value(handle_->h, node, &value, 0) != 0) {
    return Fail(ErrorCode::kIo,
                fmt::format("cannot set value '{}': {}", name, std::strerror(errno)));
  }
  return {};
}

Result<void> HiveFile::DeleteKey(NodeId node) {
  if (hivex_node_delete_child(handle_->h, node) != 0) {
    return Fail(ErrorCode::kIo, fmt::format("cannot delete key: {}", std::strerror(errno)));
  }
  return {};
}

Result<void> HiveFile::Commit() {
  const fs::path tmp = path_.string() + ".mkeys-" + files::RandomHex(6);
  if (hivex_commit(handle_->h, tmp.c_str(), 0) != 0) {
    const int err = errno;
    std::error_code ec;
    fs::remove(tmp, ec);
    return files::IoError(err, path_, "cannot write the hive");
  }
  const int fd = open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  if (!synced || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    std::error_code ec;
    fs::remove(tmp, ec);
    return files::IoError(err, path_, "cannot replace the hive");
  }
  return files::SyncDirectory(path_.parent_path().empty() ? fs::path(".") : path_.parent_path());
}

Error HiveFile::At(std::string_view key, std::string_view value, const Error& cause) const {
  Error error(cause.code(), fmt::format("{}: {} value {}: {}", HiveName(kind_), key,
                                        value.empty() ? "(default)" : value, cause.message()));
  static_cast<void>(std::move(error).On(path_.string()));  // sets in place, moves nothing
  if (cause.position()) return std::move(error).At(*cause.position());
  return error;
}

Error HiveFile::Fail(ErrorCode code, std::string message) const {
  return std::move(Error(code, fmt::format("{}: {}", HiveName(kind_), message)).On(path_.string()));
}

std::vector<std::string> SplitKeyPath(std::string_view path) {
  std::vector<std::string> parts;
  std::string current;
  for (const char c : path) {
    if (c == '\\' || c == '/') {
      if (!current.empty()) parts.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(std::move(current));
  return parts;
}

}  // namespace mkeys::keystore::policy
