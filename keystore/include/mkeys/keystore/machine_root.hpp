// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A machine root: a directory laid out like a Windows system drive (docs/architecture.md, "The
// machine root"). Either a model machine mkeys created (facts in mkeys-machine.json at the
// root, descriptors in user.NTACL) or a mounted Windows volume (ntfs-3g, system.ntfs_acl,
// MachineGuid from the SOFTWARE hive).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"
#include "mkeys/keystore/machine_volume.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::keystore {

struct MachinePolicy;  // machine_policy.hpp

inline constexpr std::string_view kMachineFactsFile = "mkeys-machine.json";
inline constexpr int kMachineFactsFormatVersion = 1;
// Relative to the root; 32 random bytes, mode 0600, descriptor SYSTEM-only
// (O:SYG:SYD:P(A;;FA;;;SY)).
inline constexpr std::string_view kDefaultMasterKeyPath =
    "Windows/System32/mkeys/machine-master.key";

enum class RootKind : std::uint8_t {
  kModel,   // created by `mkeys machine init`
  kNtfs3g,  // a Windows volume mounted with ntfs-3g
  kImage,   // a disk image file read without a mount (docs/images.md)
};
std::string_view RootKindName(RootKind kind);  // "model", "ntfs-3g", "image"

struct MachineOpenOptions {
  std::optional<std::string> machine_guid;  // overrides the facts file / the hive
  std::optional<std::string> xattr_name;    // model machines: the NTACL attribute (user.NTACL)
  // Disk images (a regular file as the root): the partition (--partition N, 1-based; 0 for a
  // bare volume) and whether to open the image read-write (repair --apply, restore; raw
  // images only: VHD/VHDX are refused with kUnsupported).
  std::optional<int> partition;
  bool writable = false;
};

struct MachineInitOptions {
  std::optional<std::string> machine_guid;  // random when absent
  std::optional<std::string> xattr_name;    // default user.NTACL; recorded in the facts file
};

// What `mkeys machine show` prints.
struct MachineFacts {
  int format_version = kMachineFactsFormatVersion;
  std::string machine_guid;  // lower case
  std::string guid_source;   // "facts file", "SOFTWARE hive", "--machine-guid"
  std::vector<acl::PrivilegeAssignment> privileges;
  // Where `privileges` came from: "SECURITY hive", "facts file" or "mkeys default".
  std::string privileges_source = "mkeys default";
  std::string master_key_path;  // relative to the root; empty on ntfs-3g volumes
  std::string ntacl_attribute;  // the attribute the security store uses
};

class MachineRoot final {
 public:
  // Opens an existing root. A regular file is a disk image (OpenImageRoot: a bare NTFS
  // volume, a raw disk with MBR/GPT, VHD/VHDX), its Windows partition read without a mount.
  // A model machine is recognised by its facts file; an ntfs-3g volume
  // by a readable system.ntfs_acl on the root directory. Anything else: kNotFound "not a
  // machine root" naming the path (exit 3). On an ntfs-3g volume without a SOFTWARE hive,
  // `options.machine_guid` is required (kNotFound otherwise, saying so: exit 3).
  static Result<MachineRoot> Open(const std::filesystem::path& root,
                                  const MachineOpenOptions& options = {});
  // Creates a model machine at `root` (created if missing, must be empty of a previous machine):
  // the directory chain with the default descriptors, the facts file, the master key. Fails
  // with kExists if `root` already holds a facts file. Nothing is left half-created on error.
  static Result<MachineRoot> Init(const std::filesystem::path& root,
                                  const MachineInitOptions& options = {});

  MachineRoot(MachineRoot&&) noexcept;
  MachineRoot& operator=(MachineRoot&&) noexcept;
  ~MachineRoot();

  const std::filesystem::path& root() const { return root_; }
  RootKind kind() const { return kind_; }
  const MachineFacts& facts() const { return facts_; }
  const std::string& machine_guid() const { return facts_.machine_guid; }
  const std::vector<acl::PrivilegeAssignment>& privileges() const { return facts_.privileges; }
  // The machine's own accounts, groups, rights and services, read from its hives at Open
  // (machine_policy.hpp); hives with no file are listed in policy()->missing. Never null.
  const MachinePolicy* policy() const { return policy_.get(); }

  // <root>/ProgramData/Microsoft/Crypto/RSA/MachineKeys (the case found on disk on NTFS).
  const std::filesystem::path& machine_keys_dir() const { return machine_keys_dir_; }
  // The directories a traverse check walks to reach a key file, outermost first
  // (ProgramData ... MachineKeys).
  const std::vector<std::filesystem::path>& store_directories() const { return store_dirs_; }

  // Descriptors: read-only on a const root (audit), writable otherwise.
  const ReadOnlySecurityStore& security() const { return *security_; }
  SecurityStore& writable_security() { return *security_; }
  // The root's files: the directory, or the volume inside a disk image.
  const MachineVolume& volume() const { return *volume_; }
  bool is_image() const { return kind_ == RootKind::kImage; }
  // A disk image root: its format, partition table and the partition opened (else null).
  const ImageInfo* image_info() const { return image_info_ ? &*image_info_ : nullptr; }

  // The token of `identity` on this machine (MachineTokenFor, machine_identities.hpp): local
  // users and groups from its SAM, "service:NAME" from its SYSTEM hive, the acl catalogue
  // otherwise, with this machine's alias memberships and privileges. Unknown identity: an error
  // naming it.
  Result<acl::Token> TokenFor(std::string_view identity) const;

  // The machine master key (model machines only; kUnsupported on ntfs-3g volumes).
  Result<SecretBytes> ReadMasterKey() const;

  // `path` relative to the root with '/' ("ProgramData/Microsoft/..."), for messages.
  std::string Relative(const std::filesystem::path& path) const;
  // "MachineKeys/<file>" — how messages name a key file.
  static std::string KeyFileLabel(std::string_view file_name);

 private:
  MachineRoot() = default;
  static Result<MachineRoot> OpenImage(const std::filesystem::path& image,
                                       const MachineOpenOptions& options);
  void SetStoreDirectories();
  // Reads the root's hives (copies first on an image) into policy_; privileges from SECURITY.
  static Result<void> AttachPolicy(MachineRoot& machine);
  std::filesystem::path root_;
  RootKind kind_ = RootKind::kModel;
  MachineFacts facts_;
  std::filesystem::path machine_keys_dir_;
  std::vector<std::filesystem::path> store_dirs_;
  std::unique_ptr<SecurityStore> security_;
  std::unique_ptr<MachineVolume> volume_;
  std::shared_ptr<const MachinePolicy> policy_;
  std::optional<ImageInfo> image_info_;
};

// Parses the text of a facts file (what Open reads from mkeys-machine.json); errors are kParse
// or kUnsupported and name `file_for_errors`. Never throws, whatever the text.
Result<MachineFacts> ParseMachineFacts(
    std::string_view json_text,
    const std::filesystem::path& file_for_errors = std::filesystem::path(kMachineFactsFile));

// Reads HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid from a SOFTWARE hive file.
Result<std::string> ReadMachineGuidFromHive(const std::filesystem::path& software_hive);

}  // namespace mkeys::keystore
