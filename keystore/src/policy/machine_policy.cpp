// SPDX-License-Identifier: GPL-3.0-or-later
// The whole machine: every hive under the root, read by one path for images and model machines.
#include "mkeys/keystore/machine_policy.hpp"

#include <fmt/format.h>

#include "mkeys/core/files.hpp"
#include "mkeys/core/text.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

// `name` inside `dir`: exact first, else the one entry equal ignoring ASCII case.
std::optional<fs::path> FindEntry(const fs::path& dir, std::string_view name) {
  std::error_code ec;
  const fs::path exact = dir / std::string(name);
  if (fs::exists(exact, ec)) return exact;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (text::EqualsIgnoreAsciiCase(it->path().filename().string(), name)) return it->path();
  }
  return {};
}

template <typename Facts, typename Reader>
Result<void> ReadOne(const fs::path& root, HiveKind kind, const PolicyReadOptions& options,
                     Reader reader, std::optional<Facts>& slot, MachinePolicy& policy) {
  const auto file = FindHiveFile(root, kind);
  if (!file) {
    policy.missing.push_back(kind);
    return {};
  }
  MKEYS_ASSIGN_OR_RETURN(Facts facts, reader(*file, options));
  for (const auto& w : facts.warnings) policy.warnings.push_back(w);
  slot = std::move(facts);
  return {};
}

}  // namespace

std::string_view HiveName(HiveKind hive) {
  switch (hive) {
    case HiveKind::kSam:
      return "SAM";
    case HiveKind::kSecurity:
      return "SECURITY";
    case HiveKind::kSoftware:
      return "SOFTWARE";
    case HiveKind::kSystem:
      return "SYSTEM";
  }
  return "?";
}

fs::path HiveRelativePath(HiveKind hive) {
  return fs::path("Windows") / "System32" / "config" / std::string(HiveName(hive));
}

std::string Provenance::ToString() const {
  return fmt::format("{}: {} {}", HiveName(hive), key,
                     value.empty() ? std::string("(default value)") : "value " + value);
}

std::optional<fs::path> FindHiveFile(const fs::path& root, HiveKind hive) {
  fs::path dir = root;
  for (const char* part : {"Windows", "System32", "config"}) {
    auto next = FindEntry(dir, part);
    if (!next) return {};
    dir = *next;
  }
  auto file = FindEntry(dir, HiveName(hive));
  std::error_code ec;
  if (!file || !fs::is_regular_file(*file, ec)) return {};
  return file;
}

Result<MachinePolicy> ReadMachinePolicy(const fs::path& root, const PolicyReadOptions& options) {
  MachinePolicy policy;
  MKEYS_TRY(ReadOne(root, HiveKind::kSam, options, ReadSamHive, policy.sam, policy));
  MKEYS_TRY(ReadOne(root, HiveKind::kSecurity, options, ReadSecurityHive, policy.security, policy));
  MKEYS_TRY(ReadOne(root, HiveKind::kSystem, options, ReadSystemHive, policy.system, policy));
  MKEYS_TRY(ReadOne(root, HiveKind::kSoftware, options, ReadSoftwareHive, policy.software, policy));
  const fs::path iis = root / kApplicationHostConfigRelative;
  std::error_code ec;
  if (fs::is_regular_file(iis, ec)) {
    auto bytes = files::ReadFile(iis, kMaxApplicationHostConfigBytes + 1);
    if (!bytes) return Error(bytes.error().code(), bytes.error().message()).On(iis.string());
    AttachIisConfig(policy,
                    std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  }
  return policy;
}

void AttachIisConfig(MachinePolicy& policy, std::string_view xml) {
  auto facts = ParseApplicationHostConfig(xml);
  if (facts) {
    policy.iis = std::move(*facts);
  } else {
    policy.iis_error = std::move(facts).error();
  }
}

std::vector<const LocalAlias*> MachinePolicy::AliasesOf(const acl::Sid& sid) const {
  std::vector<const LocalAlias*> out;
  if (!sam) return out;
  for (const auto& alias : sam->aliases) {
    for (const auto& member : alias.members) {
      if (member == sid) {
        out.push_back(&alias);
        break;
      }
    }
  }
  return out;
}

std::string MachinePolicy::NameOf(const acl::Sid& sid) const {
  if (!sam) return "";
  for (const auto& user : sam->users) {
    if (user.sid == sid) return user.name;
  }
  for (const auto& alias : sam->aliases) {
    if (alias.sid == sid) return alias.name;
  }
  return "";
}

}  // namespace mkeys::keystore
