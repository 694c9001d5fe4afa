// SPDX-License-Identifier: GPL-3.0-or-later
// SYSTEM (services, through Select\Current) and SOFTWARE (MachineGuid, ProfileList) readers.
#include <fmt/format.h>

#include "mkeys/core/text.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "policy/internal/hive_file.hpp"
#include "policy/internal/read_util.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

using policy::HiveFile;
using policy::NodeId;

constexpr std::uint32_t kServiceWin32 = 0x30;  // SERVICE_WIN32_OWN_PROCESS | SHARE_PROCESS
constexpr std::string_view kCryptographyKey = "Microsoft\\Cryptography";
constexpr std::string_view kProfileListKey = "Microsoft\\Windows NT\\CurrentVersion\\ProfileList";

policy::HiveMode ReadMode(const PolicyReadOptions& options) {
  return options.copy_from_image ? policy::HiveMode::kReadCopy : policy::HiveMode::kRead;
}

Result<std::string> CurrentControlSet(const HiveFile& hive) {
  MKEYS_ASSIGN_OR_RETURN(const NodeId select, hive.Require("Select"));
  MKEYS_ASSIGN_OR_RETURN(const auto current, policy::ReadDword(hive, select, "Select", "Current"));
  if (!current || *current == 0 || *current > 999) {
    return hive.At(
        "Select", "Current",
        Error(ErrorCode::kParse,
              current ? fmt::format("{} names no control set", *current) : std::string("missing")));
  }
  return fmt::format("ControlSet{:03}", *current);
}

// One service; nullopt for a key that is not a Win32 service (drivers, leftovers).
Result<std::optional<ServiceConfig>> ReadService(const HiveFile& hive, const std::string& key,
                                                 const std::string& name, NodeId node) {
  ServiceConfig service;
  service.name = name;
  service.source = Provenance{HiveKind::kSystem, key, "ObjectName"};
  MKEYS_ASSIGN_OR_RETURN(service.type, policy::ReadDword(hive, node, key, "Type"));
  MKEYS_ASSIGN_OR_RETURN(const auto object_name, policy::ReadString(hive, node, key, "ObjectName"));
  const bool win32 = service.type ? (*service.type & kServiceWin32) != 0 : object_name.has_value();
  if (!win32) return std::optional<ServiceConfig>{};
  service.object_name = object_name.value_or("");
  MKEYS_ASSIGN_OR_RETURN(service.start, policy::ReadDword(hive, node, key, "Start"));
  MKEYS_ASSIGN_OR_RETURN(service.sid_type, policy::ReadDword(hive, node, key, "ServiceSidType"));
  MKEYS_ASSIGN_OR_RETURN(const auto required,
                         policy::ReadMultiString(hive, node, key, "RequiredPrivileges"));
  service.has_required_privileges = required.has_value();
  service.required_privileges = required.value_or(std::vector<std::string>{});
  return std::optional<ServiceConfig>(std::move(service));
}

Result<std::vector<ProfileEntry>> ReadProfiles(const HiveFile& hive) {
  std::vector<ProfileEntry> profiles;
  auto list = hive.Find(kProfileListKey);
  if (!list) return profiles;
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(*list));
  for (const auto& [name, child] : children) {
    auto sid = acl::Sid::Parse(name);
    if (!sid) continue;  // "S-1-5-21-...bak" and other leftovers name no profile
    const std::string key = std::string(kProfileListKey) + "\\" + name;
    MKEYS_ASSIGN_OR_RETURN(const auto path,
                           policy::ReadString(hive, child, key, "ProfileImagePath"));
    profiles.push_back(
        {*sid, path.value_or(""), Provenance{HiveKind::kSoftware, key, "ProfileImagePath"}});
  }
  return profiles;
}

}  // namespace

Result<SystemFacts> ReadSystemHive(const fs::path& file, const PolicyReadOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const HiveFile hive,
                         HiveFile::Open(file, HiveKind::kSystem, ReadMode(options)));
  SystemFacts facts;
  facts.warnings = hive.warnings();
  MKEYS_ASSIGN_OR_RETURN(facts.current_control_set, CurrentControlSet(hive));
  facts.current_source = Provenance{HiveKind::kSystem, "Select", "Current"};
  const std::string services_key = facts.current_control_set + "\\Services";
  MKEYS_ASSIGN_OR_RETURN(const NodeId services, hive.Require(services_key));
  MKEYS_ASSIGN_OR_RETURN(const auto children, hive.Children(services));
  for (const auto& [name, child] : children) {
    MKEYS_ASSIGN_OR_RETURN(auto service,
                           ReadService(hive, services_key + "\\" + name, name, child));
    if (service) facts.services.push_back(std::move(*service));
  }
  return facts;
}

Result<SoftwareFacts> ReadSoftwareHive(const fs::path& file, const PolicyReadOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const HiveFile hive,
                         HiveFile::Open(file, HiveKind::kSoftware, ReadMode(options)));
  SoftwareFacts facts;
  facts.warnings = hive.warnings();
  if (auto crypto = hive.Find(kCryptographyKey)) {
    MKEYS_ASSIGN_OR_RETURN(facts.machine_guid,
                           policy::ReadString(hive, *crypto, kCryptographyKey, "MachineGuid"));
    if (facts.machine_guid) {
      facts.machine_guid_source =
          Provenance{HiveKind::kSoftware, std::string(kCryptographyKey), "MachineGuid"};
    }
  }
  MKEYS_ASSIGN_OR_RETURN(facts.profiles, ReadProfiles(hive));
  return facts;
}

const ServiceConfig* SystemFacts::Find(std::string_view name) const {
  for (const auto& service : services) {
    if (text::EqualsIgnoreAsciiCase(service.name, name)) return &service;
  }
  return nullptr;
}

}  // namespace mkeys::keystore
