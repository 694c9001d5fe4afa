// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// One registry hive file opened with libhivex: read-only (optionally from a private copy) or
// writable (committed atomically: a temporary file beside the hive, then rename).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_policy.hpp"

namespace mkeys::keystore::policy {

using NodeId = std::size_t;  // hive_node_h

struct RawValue {
  std::uint32_t type = 0;  // REG_* (1 SZ, 2 EXPAND_SZ, 3 BINARY, 4 DWORD, 7 MULTI_SZ, 0 NONE)
  std::vector<std::uint8_t> data;
};

enum class HiveMode : std::uint8_t { kRead, kReadCopy, kWrite };

class HiveFile final {
 public:
  static Result<HiveFile> Open(const std::filesystem::path& file, HiveKind kind, HiveMode mode);
  HiveFile(HiveFile&&) noexcept;
  HiveFile& operator=(HiveFile&&) noexcept;
  ~HiveFile();

  HiveKind kind() const { return kind_; }
  const std::filesystem::path& path() const { return path_; }
  // A warning when the header's two sequence numbers differ (unreplayed .LOG files).
  const std::vector<HiveWarning>& warnings() const { return warnings_; }

  NodeId Root() const;
  // The child named `name` (ASCII case-insensitive, as Windows), nullopt if there is none.
  std::optional<NodeId> Child(NodeId node, std::string_view name) const;
  // Walks a backslash path from the root; nullopt if a component is missing.
  std::optional<NodeId> Find(std::string_view path) const;
  // As Find, kNotFound naming the hive and the path when missing.
  Result<NodeId> Require(std::string_view path) const;
  Result<std::vector<std::pair<std::string, NodeId>>> Children(NodeId node) const;
  // The value `name` ("" = default value); nullopt if the key has none.
  Result<std::optional<RawValue>> Value(NodeId node, std::string_view name) const;

  // Writable hives only.
  Result<NodeId> EnsurePath(std::string_view path);
  Result<void> SetValue(NodeId node, std::string_view name, std::uint32_t type,
                        std::span<const std::uint8_t> data);
  Result<void> DeleteKey(NodeId node);
  Result<void> Commit();

  // "SAM: Domains\Account\Users\000001F4 value V: MESSAGE (at offset N)" errors.
  Error At(std::string_view key, std::string_view value, const Error& cause) const;
  Error Fail(ErrorCode code, std::string message) const;

 private:
  struct Handle;
  HiveFile(std::unique_ptr<Handle> handle, HiveKind kind, std::filesystem::path path);

  std::unique_ptr<Handle> handle_;
  HiveKind kind_;
  std::filesystem::path path_;
  std::vector<HiveWarning> warnings_;
};

// The parts of a backslash path ("Policy\Accounts" -> {"Policy", "Accounts"}).
std::vector<std::string> SplitKeyPath(std::string_view path);

}  // namespace mkeys::keystore::policy
