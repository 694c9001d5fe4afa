// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The MachineKeys store of a machine root, with every operation gated as Windows gates it:
// the traverse check on the directories above the file, then the access check on the file.
//
// Failures of Open carry NTE_BAD_KEYSET (0x80090016) as their Windows code and a message with
// the precise reason; an existing name on Create carries NTE_EXISTS (0x8009000F).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/ace.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/key_file_check.hpp"
#include "mkeys/keystore/keys.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/open_path.hpp"
#include "mkeys/keystore/reparse_point.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::keystore {

// kNteBadKeyset, kNteExists, kOpenAccess and FormatWindowsCode: open_path.hpp.

// The descriptor the Microsoft CSPs write on a new container (KB 238187): owner = the creator;
// protected DACL with SYSTEM and the creator full control, Administrators full control too when
// the creator is an (elevated) administrator; then `grants` (explicit ACEs, appended in order).
acl::SecurityDescriptor CspContainerDescriptor(const acl::Token& creator,
                                               const std::vector<acl::Ace>& grants);

// Key material to install instead of generating it (the array join installs what it received).
struct KeyMaterial {
  std::optional<PrivateKey> exchange;
  std::optional<PrivateKey> signature;
  // A symmetric key (e.g. a 256-bit configuration-storage key) is stored in the exchange slot:
  // public blob "SYM1" + bit length, private part sealed with kind kSymmetric. A container holds
  // either an exchange key pair or a symmetric key, not both.
  std::optional<SecretBytes> symmetric;
};

struct CreateOptions {
  KeySpec key = {};                     // generated when `material` is absent
  KeySlot slot = KeySlot::kExchange;    // where the generated key goes
  std::vector<acl::Ace> grants;         // extra ACEs after the CSP's own
  std::optional<KeyMaterial> material;  // install these instead of generating
  // Replaces the CSP descriptor entirely (the grants are then ignored).
  std::optional<acl::SecurityDescriptor> descriptor;
};

// What list/create/inspect report about one key file.
struct ContainerSummary {
  std::string file_name;
  std::string name;  // the container name stored in the file ("" when unreadable)
  ContainerFormat format = ContainerFormat::kMkeys;
  bool cng = false;  // a CNG key file (`format` does not apply): "a CNG key file in the CAPI store"
  std::optional<acl::Sid> owner;
  std::string keys;  // ContainerFile::DescribeKeys()
  std::optional<PublicKeyInfo> exchange;
  std::optional<PublicKeyInfo> signature;
  // Flags.
  bool name_hash_mismatch = false;  // ContainerHash(name) != the file name's hash
  bool foreign_machine_guid = false;
  bool not_a_container_name = false;  // the file name is not <hash>_<guid>
  bool descriptor_unreadable = false;
  bool corrupt = false;
  std::string problem;  // the error text behind corrupt / descriptor_unreadable
};

// An opened container: the file as parsed, its descriptor, and (mkeys files) the keys.
struct OpenedContainer {
  std::string file_name;
  std::filesystem::path path;
  ContainerFile file;
  acl::SecurityDescriptor descriptor;
  std::optional<PrivateKey> exchange;  // mkeys files only; CAPI private parts stay DPAPI blobs
  std::optional<PrivateKey> signature;
  std::optional<SecretBytes> symmetric;
};

// A container written under a staging name (".staging-<random>" in MachineKeys), its
// descriptor set and fsync'd, not yet visible under its real name. Discarded on destruction
// unless committed.
class StagedContainer final {
 public:
  StagedContainer(StagedContainer&&) noexcept;
  StagedContainer& operator=(StagedContainer&&) noexcept;
  ~StagedContainer();

  const std::string& name() const { return name_; }
  const std::string& file_name() const { return file_name_; }  // the final name
  const std::filesystem::path& staging_path() const { return staging_path_; }
  const acl::SecurityDescriptor& descriptor() const { return descriptor_; }

 private:
  friend class KeyStore;
  StagedContainer() = default;
  std::string name_;
  std::string file_name_;
  std::filesystem::path staging_path_;
  std::filesystem::path final_path_;
  acl::SecurityDescriptor descriptor_;
  bool active_ = false;
};

class KeyStore final {
 public:
  // The store of `root` (which must outlive it).
  explicit KeyStore(MachineRoot& root) : root_(root) {}

  // CryptAcquireContext(CRYPT_NEWKEYSET) as `creator`: traverse to MachineKeys, ADD_FILE on it,
  // then the file written atomically (staging name, descriptor, fsync, link into place) with
  // CspContainerDescriptor + grants. NTE_EXISTS if the name exists (also when another process
  // wins the race: exactly one creator succeeds).
  Result<ContainerSummary> Create(std::string_view name, const acl::Token& creator,
                                  const CreateOptions& options = {});

  // The first half of Create: the file under a staging name with its descriptor. Nothing is
  // visible under the real name. NTE_EXISTS if the real name exists already.
  Result<StagedContainer> CreateStaged(std::string_view name, const acl::Token& creator,
                                       const CreateOptions& options = {});
  // The join's verification before the rename: the open path on the staged file as `token`
  // (traverse, its descriptor as read back from disk, its contents checked against the final
  // name). The access check for `desired` (allowed or not); an NTE_BAD_KEYSET error when a step
  // before or after it fails.
  Result<acl::AccessCheckResult> CheckStaged(const StagedContainer& staged, const acl::Token& token,
                                             acl::AccessMask desired = kOpenAccess) const;
  // Moves the staged file to its real name; NTE_EXISTS (and the staged file removed) if that
  // name appeared meanwhile. Fsyncs the directory.
  Result<ContainerSummary> Commit(StagedContainer&& staged);
  // Removes the staged file.
  void Discard(StagedContainer&& staged);

  // CryptAcquireContext(0) as `token`: the open path (WalkOpenPath) stopping at the first
  // failing step. NTE_BAD_KEYSET with the reason when the file is missing (naming a file with
  // the same hash under another MachineGuid), traverse is denied at a directory, `desired` is not
  // granted (AccessSentence), or the file is corrupt (including a private part that does not
  // decrypt under the machine master key).
  Result<OpenedContainer> Open(std::string_view name, const acl::Token& token,
                               acl::AccessMask desired = kOpenAccess) const;

  // CryptAcquireContext(CRYPT_DELETEKEYSET) as `token`: the open path's traverse, then DELETE on
  // the file or DELETE_CHILD on MachineKeys. Removes the file (and so its descriptor).
  Result<void> Delete(std::string_view name, const acl::Token& token);

  // Imports the key of FILE.p12|.pem as container `name` (exchange slot), created as `creator`.
  Result<ContainerSummary> Import(std::string_view name, const acl::Token& creator,
                                  const std::filesystem::path& file, const SecretBytes& password,
                                  const CreateOptions& options = {});
  // Exports the key of container `name` as `token` (needs READ_DATA; mkeys files only: a CAPI
  // private part is a DPAPI blob).
  Result<void> Export(std::string_view name, const acl::Token& token,
                      const std::filesystem::path& file, const SecretBytes& password) const;

  // The full path of container `name`'s file.
  std::filesystem::path PathFor(std::string_view name) const;

 private:
  MachineRoot& root_;
};

// --- Read-only scanning (audit, list) --------------------------------------------------------

// Calls `visit` with the name of every regular file in MachineKeys, streaming (readdir; nothing
// is collected). Staging files are skipped. `visit` returns false to stop.
Result<void> ForEachKeyFile(const MachineRoot& root,
                            const std::function<bool(std::string_view file_name)>& visit);
// An entry of MachineKeys that is not a plain key file with one link (audit reports them).
struct StoreOddity {
  enum class Kind : std::uint8_t {
    kSymlink,     // a symbolic link: never followed
    kDirectory,   // a subfolder: Windows keeps none there
    kStaging,     // .mkeys-staging-*: a key being created, or the leftover of a crash
    kOther,       // a device, FIFO or socket
    kHardLinked,  // a regular file with more than one hard link
  };
  std::string name;
  Kind kind = Kind::kOther;
  std::uint64_t links = 1;       // st_nlink
  std::int64_t age_seconds = 0;  // since the entry last changed
  std::string target;            // kSymlink: what it points to
  std::string link_kind;         // kSymlink: "symbolic link", "junction", "reparse point 0x…"
};
// Lists the entries ForEachKeyFile skips or cannot vouch for (one readdir, an lstat per entry).
Result<std::vector<StoreOddity>> FindStoreOddities(const MachineRoot& root);
// Reads one key file and its descriptor and judges them with KeyFileChecker; never fails:
// problems become flags. Pass a per-thread RawDescriptorReader (on the MachineKeys directory)
// and one checker (it reads the master key once) for a scan.
ContainerSummary InspectKeyFile(const MachineRoot& root, std::string_view file_name,
                                RawDescriptorReader& reader, const KeyFileChecker& checker);
ContainerSummary InspectKeyFile(const MachineRoot& root, std::string_view file_name,
                                RawDescriptorReader& reader);
ContainerSummary InspectKeyFile(const MachineRoot& root, std::string_view file_name);

// Files in MachineKeys whose name carries `hash` under a MachineGuid other than the machine's.
std::vector<std::string> FindForeignGuidFiles(const MachineRoot& root, std::string_view hash);

}  // namespace mkeys::keystore
