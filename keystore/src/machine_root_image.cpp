// SPDX-License-Identifier: GPL-3.0-or-later
// MachineRoot::Open on a disk image file: the Windows partition's volume read without a
// mount (docs/images.md); the MachineGuid from a private in-memory copy of the SOFTWARE hive.
#include <strings.h>

#include <fmt/format.h>

#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::keystore {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kSoftwareHive = "Windows/System32/config/SOFTWARE";
constexpr std::uint64_t kMaxHiveBytes = 1ull << 30;

// `relative` under the image root with each component spelt as the volume has it (lookups are
// case-insensitive; labels should match what a mount of the same volume shows).
fs::path ResolveCase(const MachineVolume& volume, const fs::path& root, std::string_view relative) {
  fs::path current = root;
  for (const auto& part : fs::path(relative)) {
    auto entries = volume.List(current);
    fs::path next = current / part;
    if (entries) {
      for (const auto& e : *entries) {
        if (::strcasecmp(e.name.c_str(), part.c_str()) == 0) {
          next = current / e.name;
          break;
        }
      }
    }
    current = next;
  }
  return current;
}

Result<std::string> GuidFromImageHive(const MachineVolume& volume, const fs::path& image) {
  const fs::path hive = image / kSoftwareHive;
  MKEYS_ASSIGN_OR_RETURN(const bool exists, volume.Exists(hive));
  if (!exists) {
    return Error(ErrorCode::kNotFound,
                 "Windows volume without Windows/System32/config/SOFTWARE: cannot read its "
                 "MachineGuid; pass --machine-guid GUID")
        .On(image.string());
  }
  MKEYS_ASSIGN_OR_RETURN(auto copy, CopyToPrivateFile(volume, hive, kMaxHiveBytes));
  auto guid = ReadMachineGuidFromHive(copy.path());
  if (!guid) return Error(guid.error().code(), guid.error().message()).On(hive.string());
  return guid;
}

// One hive of the image: copied whole into private memory, then read by the reader every
// root uses. A hive with no file is listed as missing (callers fall back to defaults).
template <typename Facts, typename Reader>
Result<void> ReadImageHive(const MachineVolume& volume, const fs::path& image, HiveKind kind,
                           Reader reader, std::optional<Facts>& slot, MachinePolicy& policy) {
  const fs::path hive = ResolveCase(volume, image, HiveRelativePath(kind).generic_string());
  MKEYS_ASSIGN_OR_RETURN(const bool exists, volume.Exists(hive));
  if (!exists) {
    policy.missing.push_back(kind);
    return Ok();
  }
  MKEYS_ASSIGN_OR_RETURN(auto copy, CopyToPrivateFile(volume, hive, kMaxHiveBytes));
  auto facts = reader(copy.path(), PolicyReadOptions{});
  if (!facts) return Error(facts.error().code(), facts.error().message()).On(hive.string());
  policy.warnings.insert(policy.warnings.end(), facts->warnings.begin(), facts->warnings.end());
  slot = std::move(*facts);
  return Ok();
}

Result<MachinePolicy> ImagePolicy(const MachineVolume& volume, const fs::path& image) {
  MachinePolicy policy;
  MKEYS_TRY(ReadImageHive(volume, image, HiveKind::kSam, ReadSamHive, policy.sam, policy));
  MKEYS_TRY(
      ReadImageHive(volume, image, HiveKind::kSecurity, ReadSecurityHive, policy.security, policy));
  MKEYS_TRY(ReadImageHive(volume, image, HiveKind::kSystem, ReadSystemHive, policy.system, policy));
  MKEYS_TRY(
      ReadImageHive(volume, image, HiveKind::kSoftware, ReadSoftwareHive, policy.software, policy));
  const fs::path iis = ResolveCase(volume, image, std::string(kApplicationHostConfigRelative));
  MKEYS_ASSIGN_OR_RETURN(const bool has_iis, volume.Exists(iis));
  if (has_iis) {
    auto bytes = volume.ReadFile(iis, kMaxApplicationHostConfigBytes + 1);
    if (!bytes) return Error(bytes.error().code(), bytes.error().message()).On(iis.string());
    AttachIisConfig(policy,
                    std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  }
  return policy;
}

}  // namespace

Result<MachineRoot> MachineRoot::OpenImage(const fs::path& image,
                                           const MachineOpenOptions& options) {
  std::optional<std::string> guid_override;
  if (options.machine_guid) {
    MKEYS_ASSIGN_OR_RETURN(guid_override, NormalizeMachineGuid(*options.machine_guid));
  }
  ImageOpenOptions open;
  open.partition = options.partition;
  open.writable = options.writable;
  MKEYS_ASSIGN_OR_RETURN(ImageRoot opened, OpenImageRoot(image, open));
  MachineRoot machine;
  machine.root_ = image;
  machine.kind_ = RootKind::kImage;
  machine.volume_ = std::move(opened.volume);
  machine.security_ = std::move(opened.security);
  machine.image_info_ = std::move(opened.info);
  machine.facts_.ntacl_attribute = std::string(kNtfsAclXattr);
  machine.facts_.privileges = acl::DefaultPrivilegeAssignments();
  if (guid_override) {
    machine.facts_.machine_guid = *guid_override;
    machine.facts_.guid_source = "--machine-guid";
  } else {
    MKEYS_ASSIGN_OR_RETURN(machine.facts_.machine_guid, GuidFromImageHive(*machine.volume_, image));
    machine.facts_.guid_source = "SOFTWARE hive";
  }
  machine.machine_keys_dir_ = ResolveCase(*machine.volume_, image, kMachineKeysRelative);
  machine.SetStoreDirectories();
  // The image's own accounts, groups and user rights (docs/machine-policy.md), as on a mount.
  MKEYS_ASSIGN_OR_RETURN(auto policy, ImagePolicy(*machine.volume_, image));
  if (policy.security) {
    machine.facts_.privileges = policy.security->ToPrivilegeAssignments();
    machine.facts_.privileges_source = "SECURITY hive";
  }
  machine.policy_ = std::make_shared<const MachinePolicy>(std::move(policy));
  return machine;
}

}  // namespace mkeys::keystore
