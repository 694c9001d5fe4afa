// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/machine_root.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <hivex.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/machine_identities.hpp"

namespace mkeys::keystore {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kMasterKeySddl = "O:SYG:SYD:P(A;;FA;;;SY)";

// Resolves `relative` under `root` component by component, matching case-insensitively where the
// exact name is missing (NTFS is case-preserving, ntfs-3g lookups are case-sensitive).
std::optional<fs::path> ResolveCaseInsensitive(const fs::path& root, std::string_view relative) {
  fs::path current = root;
  for (const auto& part : fs::path(relative)) {
    const fs::path exact = current / part;
    std::error_code ec;
    if (fs::exists(exact, ec)) {
      current = exact;
      continue;
    }
    DIR* dir = ::opendir(current.c_str());
    if (dir == nullptr) return std::nullopt;
    std::optional<fs::path> found;
    while (dirent* entry = ::readdir(dir)) {
      if (::strcasecmp(entry->d_name, part.c_str()) == 0) {
        found = current / entry->d_name;
        break;
      }
    }
    ::closedir(dir);
    if (!found) return std::nullopt;
    current = *found;
  }
  return current;
}

nlohmann::json FactsToJson(const MachineFacts& facts) {
  nlohmann::json privileges = nlohmann::json::array();
  for (const auto& p : facts.privileges) {
    nlohmann::json holders = nlohmann::json::array();
    for (const auto& sid : p.holders) holders.push_back(sid.ToString());
    privileges.push_back({{"privilege", p.privilege}, {"holders", holders}});
  }
  nlohmann::json doc = {{"format_version", facts.format_version},
                        {"machine_guid", facts.machine_guid},
                        {"master_key_path", facts.master_key_path},
                        {"ntacl_attribute", facts.ntacl_attribute}};
  // A model machine's user rights live in its SECURITY hive; only roots without one keep them here.
  if (facts.privileges_source == "facts file") doc["privileges"] = privileges;
  return doc;
}

Result<MachineFacts> FactsFromJson(const fs::path& file, std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kParse, fmt::format("malformed machine facts file: {}", why))
        .On(file.string());
  };
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  MachineFacts facts;
  if (!doc.contains("format_version") || !doc["format_version"].is_number_integer()) {
    return bad("format_version missing");
  }
  facts.format_version = doc["format_version"].get<int>();
  if (facts.format_version != kMachineFactsFormatVersion) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("machine facts format version {} (mkeys reads {})",
                             facts.format_version, kMachineFactsFormatVersion))
        .On(file.string());
  }
  if (!doc.contains("machine_guid") || !doc["machine_guid"].is_string()) {
    return bad("machine_guid missing");
  }
  auto guid = NormalizeMachineGuid(doc["machine_guid"].get<std::string>());
  if (!guid) return bad(guid.error().message());
  facts.machine_guid = *guid;
  facts.guid_source = "facts file";
  if (doc.contains("privileges")) {
    if (!doc["privileges"].is_array()) return bad("privileges is not an array");
    for (const auto& entry : doc["privileges"]) {
      if (!entry.is_object() || !entry.contains("privilege") || !entry["privilege"].is_string() ||
          !entry.contains("holders") || !entry["holders"].is_array()) {
        return bad("a privileges entry needs \"privilege\" and \"holders\"");
      }
      acl::PrivilegeAssignment assignment;
      assignment.privilege = entry["privilege"].get<std::string>();
      for (const auto& holder : entry["holders"]) {
        if (!holder.is_string()) return bad("a privilege holder is not a string");
        auto sid = acl::Sid::Parse(holder.get<std::string>());
        if (!sid)
          return bad(
              fmt::format("holder '{}': {}", holder.get<std::string>(), sid.error().message()));
        assignment.holders.push_back(*sid);
      }
      facts.privileges.push_back(std::move(assignment));
    }
    facts.privileges_source = "facts file";
  } else {
    facts.privileges = acl::DefaultPrivilegeAssignments();
  }
  // value() throws on a member of another type: check the optional members first.
  for (const char* member : {"master_key_path", "ntacl_attribute"}) {
    if (doc.contains(member) && !doc[member].is_string()) {
      return bad(fmt::format("{} is not a string", member));
    }
  }
  facts.master_key_path = doc.value("master_key_path", std::string(kDefaultMasterKeyPath));
  facts.ntacl_attribute = doc.value("ntacl_attribute", std::string(kDefaultNtaclXattr));
  return facts;
}

std::string RandomGuid() {
  auto bytes = HexDecode(files::RandomHex(16)).value();
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string hex = HexEncode(bytes);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20, 12));
}

Result<void> MakeDir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return files::IoError(errno, dir, "cannot create directory");
  }
  return Ok();
}

}  // namespace

Result<MachineFacts> ParseMachineFacts(std::string_view json_text,
                                       const std::filesystem::path& file_for_errors) {
  return FactsFromJson(file_for_errors, json_text);
}

std::string_view RootKindName(RootKind kind) {
  if (kind == RootKind::kImage) return "image";
  return kind == RootKind::kModel ? "model" : "ntfs-3g";
}

MachineRoot::MachineRoot(MachineRoot&&) noexcept = default;
MachineRoot& MachineRoot::operator=(MachineRoot&&) noexcept = default;
MachineRoot::~MachineRoot() = default;

Result<std::string> ReadMachineGuidFromHive(const fs::path& software_hive) {
  hive_h* h = hivex_open(software_hive.c_str(), 0);
  if (h == nullptr) {
    return Error(ErrorCode::kIo, fmt::format("cannot open registry hive: {}", std::strerror(errno)))
        .On(software_hive.string());
  }
  struct Closer {
    hive_h* h;
    ~Closer() { hivex_close(h); }
  } closer{h};
  hive_node_h node = hivex_root(h);
  for (const char* key : {"Microsoft", "Cryptography"}) {
    node = node == 0 ? 0 : hivex_node_get_child(h, node, key);
    if (node == 0) {
      return Error(ErrorCode::kNotFound,
                   "the hive has no key Microsoft\\Cryptography (not a SOFTWARE hive?)")
          .On(software_hive.string());
    }
  }
  const hive_value_h value = hivex_node_get_value(h, node, "MachineGuid");
  if (value == 0) {
    return Error(ErrorCode::kNotFound, "Microsoft\\Cryptography has no MachineGuid value")
        .On(software_hive.string());
  }
  char* text = hivex_value_string(h, value);
  if (text == nullptr) {
    return Error(ErrorCode::kParse, "MachineGuid is not a string value").On(software_hive.string());
  }
  std::string guid(text);
  std::free(text);
  auto normalized = NormalizeMachineGuid(guid);
  if (!normalized) {
    return Error(ErrorCode::kParse, "MachineGuid in the hive: " + normalized.error().message())
        .On(software_hive.string());
  }
  return *normalized;
}

Result<void> MachineRoot::AttachPolicy(MachineRoot& machine) {
  PolicyReadOptions read;
  read.copy_from_image = machine.kind_ == RootKind::kNtfs3g;
  MKEYS_ASSIGN_OR_RETURN(auto policy, ReadMachinePolicy(machine.root_, read));
  if (policy.security) {
    machine.facts_.privileges = policy.security->ToPrivilegeAssignments();
    machine.facts_.privileges_source = "SECURITY hive";
  }
  machine.policy_ = std::make_shared<const MachinePolicy>(std::move(policy));
  return Ok();
}

Result<MachineRoot> MachineRoot::Open(const fs::path& root_in, const MachineOpenOptions& options) {
  std::error_code ec;
  const fs::path root = fs::absolute(root_in, ec).lexically_normal();
  if (fs::is_regular_file(root, ec)) return OpenImage(root, options);  // a disk image
  if (!fs::is_directory(root, ec)) {
    return Error(ErrorCode::kNotFound, "not a machine root: no such directory")
        .On(root_in.string());
  }
  std::optional<std::string> guid_override;
  if (options.machine_guid) {
    MKEYS_ASSIGN_OR_RETURN(guid_override, NormalizeMachineGuid(*options.machine_guid));
  }
  MachineRoot machine;
  machine.root_ = root;
  machine.volume_ = MakeDirectoryVolume(root);
  const fs::path facts_path = root / kMachineFactsFile;
  if (fs::exists(facts_path, ec)) {
    MKEYS_ASSIGN_OR_RETURN(auto bytes, files::ReadFile(facts_path, 1u << 20));
    MKEYS_ASSIGN_OR_RETURN(
        machine.facts_,
        FactsFromJson(facts_path,
                      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
    machine.kind_ = RootKind::kModel;
    if (options.xattr_name) machine.facts_.ntacl_attribute = *options.xattr_name;
    machine.security_ = MakeXattrNtaclStore(machine.facts_.ntacl_attribute);
    machine.machine_keys_dir_ = root / kMachineKeysRelative;
  } else if (::lgetxattr(root.c_str(), std::string(kNtfsAclXattr).c_str(), nullptr, 0) > 0) {
    machine.kind_ = RootKind::kNtfs3g;
    machine.facts_.ntacl_attribute = std::string(kNtfsAclXattr);
    machine.facts_.privileges = acl::DefaultPrivilegeAssignments();
    machine.security_ = MakeNtfsAclStore();
    if (!guid_override) {
      const auto hive = ResolveCaseInsensitive(root, "Windows/System32/config/SOFTWARE");
      if (!hive) {
        return Error(ErrorCode::kNotFound,
                     "Windows volume without Windows/System32/config/SOFTWARE: cannot read its "
                     "MachineGuid; pass --machine-guid GUID")
            .On(root.string());
      }
      MKEYS_ASSIGN_OR_RETURN(machine.facts_.machine_guid, ReadMachineGuidFromHive(*hive));
      machine.facts_.guid_source = "SOFTWARE hive";
    }
    const auto keys = ResolveCaseInsensitive(root, kMachineKeysRelative);
    machine.machine_keys_dir_ = keys ? *keys : root / kMachineKeysRelative;
  } else {
    return Error(ErrorCode::kNotFound,
                 fmt::format("not a machine root: no {} (model machine) and no readable {} "
                             "(ntfs-3g mount); create one with 'mkeys machine init'",
                             kMachineFactsFile, kNtfsAclXattr))
        .On(root_in.string());
  }
  MKEYS_TRY(AttachPolicy(machine));
  if (guid_override) {
    machine.facts_.machine_guid = *guid_override;
    machine.facts_.guid_source = "--machine-guid";
  }
  machine.SetStoreDirectories();
  return machine;
}

// The traverse chain: every directory from ProgramData down to MachineKeys, as found on disk.
void MachineRoot::SetStoreDirectories() {
  fs::path dir = machine_keys_dir_;
  std::vector<fs::path> chain;
  for (std::size_t i = 0; i < kDefaultDirectories.size(); ++i) {
    chain.push_back(dir);
    dir = dir.parent_path();
  }
  store_dirs_.assign(chain.rbegin(), chain.rend());
}

Result<MachineRoot> MachineRoot::Init(const fs::path& root_in, const MachineInitOptions& options) {
  std::error_code ec;
  const fs::path root = fs::absolute(root_in, ec).lexically_normal();
  if (fs::exists(root / kMachineFactsFile, ec)) {
    return Error(ErrorCode::kExists, "already a machine root").On(root.string());
  }
  MachineFacts facts;
  if (options.machine_guid) {
    MKEYS_ASSIGN_OR_RETURN(facts.machine_guid, NormalizeMachineGuid(*options.machine_guid));
  } else {
    facts.machine_guid = RandomGuid();
  }
  facts.guid_source = "facts file";
  facts.privileges = acl::DefaultPrivilegeAssignments();
  facts.master_key_path = std::string(kDefaultMasterKeyPath);
  facts.ntacl_attribute = options.xattr_name.value_or(std::string(kDefaultNtaclXattr));

  const bool created_root = !fs::exists(root, ec);
  if (created_root) MKEYS_TRY(MakeDir(root));
  // Undo everything this call created if a later step fails.
  std::vector<fs::path> created;
  for (const char* top : {"ProgramData", "Windows"}) {
    if (!fs::exists(root / top, ec)) created.push_back(root / top);
  }
  auto cleanup = [&]() {
    for (const auto& p : created) fs::remove_all(p, ec);
    if (created_root) fs::remove_all(root, ec);
  };
  auto build = [&]() -> Result<void> {
    auto store = MakeXattrNtaclStore(facts.ntacl_attribute);
    for (const auto& d : kDefaultDirectories) {
      const fs::path dir = root / d.relative_path;
      MKEYS_TRY(MakeDir(dir));
      MKEYS_ASSIGN_OR_RETURN(const auto sd, acl::ParseSddl(d.sddl));
      auto written = store->Write(dir, sd);
      if (!written) {
        const Error& e = written.error();
        return Error(e.code(),
                     e.message() + (e.message().find("not support") != std::string::npos
                                        ? " (model machines need a file system with extended "
                                          "attributes, e.g. ext4, xfs, btrfs or tmpfs)"
                                        : ""))
            .On(dir.string());
      }
    }
    const fs::path key_path = root / facts.master_key_path;
    fs::path dir = root;
    for (const auto& part : key_path.parent_path().lexically_relative(root)) {
      dir /= part;
      MKEYS_TRY(MakeDir(dir));
    }
    SecretBytes master = SecretBytes::Random(32);
    MKEYS_TRY(files::WriteFileAtomic(key_path, master.RevealSecret(), 0600));
    MKEYS_ASSIGN_OR_RETURN(const auto key_sd, acl::ParseSddl(kMasterKeySddl));
    MKEYS_TRY(store->Write(key_path, key_sd));
    MKEYS_TRY(WriteModelPolicy(root, facts.machine_guid, facts.privileges));
    const std::string json = FactsToJson(facts).dump(2) + "\n";
    return files::WriteFileAtomic(
        root / kMachineFactsFile,
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(json.data()),
                                      json.size()),
        0644);
  };
  if (auto built = build(); !built) {
    cleanup();
    return std::move(built).error();
  }
  MachineOpenOptions open;
  open.xattr_name = facts.ntacl_attribute;
  return Open(root, open);
}

Result<acl::Token> MachineRoot::TokenFor(std::string_view identity) const {
  auto token = MachineTokenFor(policy_.get(), facts_.privileges, identity);
  if (!token) {
    const std::string& why = token.error().message();
    return Error(token.error().code(), why.find(identity) != std::string::npos
                                           ? why
                                           : fmt::format("identity '{}': {}", identity, why));
  }
  return std::move(token).value();
}

Result<SecretBytes> MachineRoot::ReadMasterKey() const {
  if (kind_ != RootKind::kModel || facts_.master_key_path.empty()) {
    return Error(ErrorCode::kUnsupported,
                 "a Windows volume has no mkeys master key (its private keys are DPAPI blobs)")
        .On(root_.string());
  }
  const fs::path path = root_ / facts_.master_key_path;
  MKEYS_ASSIGN_OR_RETURN(auto bytes, files::ReadFile(path, 4096));
  SecretBytes key(bytes);
  std::fill(bytes.begin(), bytes.end(), 0);
  if (key.size() != 32) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("machine master key is {} bytes, expected 32", key.size()))
        .On(path.string());
  }
  return key;
}

std::string MachineRoot::Relative(const fs::path& path) const {
  const auto rel = path.lexically_relative(root_);
  if (rel.empty() || *rel.begin() == "..") return path.string();
  return rel.generic_string();
}

std::string MachineRoot::KeyFileLabel(std::string_view file_name) {
  // Built for every file a scan reports on: plain appends, no format parsing.
  constexpr std::string_view kPrefix = "MachineKeys/";
  std::string out;
  out.reserve(kPrefix.size() + file_name.size());
  out.append(kPrefix);
  out.append(file_name);
  return out;
}

}  // namespace mkeys::keystore
