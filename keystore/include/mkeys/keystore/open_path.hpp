// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one open path: what CryptAcquireContext does to open a container for an identity, step by
// step, with the evidence of each step. `KeyStore::Open` (`store open`), `KeyStore::CheckStaged`
// (the join's verify step) and `repair::Diagnose` (`diagnose`, the join's preflight) all walk it.
//
//   1. resolve: the file name (<hash>_<MachineGuid>); when it is missing, the same hash under
//      another MachineGuid (a cloned image)                    -- a resolver (OpenTarget)
//   2. traverse every directory above the file (acl::CheckTraverse)
//   3. the file: exists, its descriptor, the access check for each intent
//   4. its contents: parsed, the name hash, the private parts decrypt under the machine key
//      (KeyFileChecker)
//
// Every object is read once: one size query and one read of each descriptor, one open, one
// fstat and one read of the key file.
//
// Resolvers: ResolveCapiContainer / ResolveCapiKeyFile give the MachineKeys target of the RSA
// and DSS CSPs. CNG keys (Crypto/Keys) and certificates become other resolvers (another
// directory chain, another StoreKind whose contents check the walk dispatches on).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/key_file_check.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::keystore {

inline constexpr std::uint32_t kNteBadKeyset = 0x80090016;
inline constexpr std::uint32_t kNteExists = 0x8009000F;
inline constexpr std::uint32_t kNteBadKeysetParam = 0x8009001F;
// What CryptAcquireContext asks for when it opens a container file (GENERIC_READ on a file).
inline constexpr acl::AccessMask kOpenAccess = acl::rights::kFileGenericRead;

// "NTE_BAD_KEYSET (0x80090016)" — how mkeys prints a Windows code.
std::string FormatWindowsCode(std::uint32_t code);

// What the identity wants to do with the container.
enum class OpenIntent : std::uint8_t {
  kRead,    // CryptAcquireContext(0): GENERIC_READ on the file (kOpenAccess)
  kWrite,   // GENERIC_WRITE on the file
  kDelete,  // CRYPT_DELETEKEYSET: DELETE on the file, or DELETE_CHILD on its directory
  kCreate,  // CRYPT_NEWKEYSET: ADD_FILE on the directory
};
std::string_view OpenIntentName(OpenIntent intent);  // "read", "write", "delete", "create"

// The kind of store a target lives in: selects the contents check.
// kCngKeys: Crypto/Keys and Crypto/SystemKeys, whose files must be CNG key files
// (cng_store.hpp has their resolvers).
enum class StoreKind : std::uint8_t { kCapiMachineKeys, kCngKeys };

// What a resolver hands the walk: where the object is and how to find it elsewhere.
struct OpenTarget {
  StoreKind kind = StoreKind::kCapiMachineKeys;
  std::string container;  // the name asked for ("" when only a file name was given)
  std::string file_name;  // in directories.back()
  std::string label;      // how messages name it: "MachineKeys/<file>"
  std::vector<std::filesystem::path> directories;  // traversed, outermost first
  std::string hash;  // looked for under other MachineGuids when the file is missing ("": no)
  // The name the contents are bound to (mkeys seals private parts to it); "" = file_name. A
  // staged file is checked against its final name.
  std::string unique_name;
};

// CryptAcquireContext's target for container `name` (the name is validated: printable ASCII,
// at most 260 characters).
Result<OpenTarget> ResolveCapiContainer(const MachineRoot& root, std::string_view name);
// The target for a file in MachineKeys given by name (or a path ending in it).
Result<OpenTarget> ResolveCapiKeyFile(const MachineRoot& root, std::string_view file);

// One object read on the way, read once.
struct PathObject {
  std::filesystem::path path;
  std::string label;  // relative to the root ("ProgramData/Microsoft/Crypto", "MachineKeys/<f>")
  bool is_directory = true;
  std::vector<std::uint8_t> raw;                      // the descriptor attribute exactly as stored
  std::optional<acl::SecurityDescriptor> descriptor;  // nullopt: unreadable, `problem` says why
  std::string problem;
};

enum class StepKind : std::uint8_t { kTraverse, kExists, kDescriptor, kAccess, kIntegrity };

// One step of the walk and its evidence.
struct OpenStep {
  StepKind kind = StepKind::kTraverse;
  std::string object;  // the label of the object checked
  std::string check;   // "traverse", "exists", "descriptor", "read", "write", "delete",
                       // "create", "integrity"
  bool passed = false;
  std::optional<std::size_t> object_index;       // into OpenPath::objects (its descriptor)
  std::optional<acl::AccessCheckResult> access;  // the access check that decided it
  std::string decided_by;  // "ACE #0 (A;;FA;;;SY)", "SeChangeNotifyPrivilege", ...
  std::string detail;      // the sentence (AccessSentence for access checks)
  std::string failure;     // when it failed: why the open fails here ("read denied: ...")
};

struct WalkOptions {
  std::vector<OpenIntent> intents = {OpenIntent::kRead};
  // Windows stops at the first failing step (store open). A diagnosis walks on: every directory,
  // every intent, and the contents even when reading them is denied to the identity.
  bool stop_at_first_failure = true;
  // What kRead asks for on the file.
  acl::AccessMask read_access = kOpenAccess;
  // Read and check the contents (a delete does not: a corrupt file can be deleted).
  bool check_contents = true;
  // Hand back the decrypted private parts (store open).
  bool unseal_keys = false;
  // The directories' descriptors as an earlier walk of the same chain read them (a second
  // identity on the same path): not read again.
  const std::vector<PathObject>* known_directories = nullptr;
};

// The walk and everything it read. Move-only: `integrity` holds views into `contents`.
struct OpenPath {
  OpenTarget target;
  std::vector<PathObject> objects;  // the directories outermost first, then the file
  bool file_exists = false;
  std::vector<std::string> foreign_files;  // the same hash under other MachineGuids
  std::vector<std::uint8_t> contents;      // the file's bytes (empty when not read)
  std::optional<KeyFileVerdict> integrity;
  UnsealedKeys keys;  // with WalkOptions::unseal_keys
  std::vector<OpenStep> steps;

  // The first failing step decides: its Windows code, error code and sentence.
  std::optional<std::size_t> failed_step;
  std::uint32_t windows_code = 0;  // NTE_BAD_KEYSET when the open fails
  ErrorCode failure = ErrorCode::kInternal;
  std::string reason;  // "read denied: NETWORK SERVICE lacks READ_DATA, ... (no ACE grants ...)"

  OpenPath() = default;
  OpenPath(OpenPath&&) noexcept = default;
  OpenPath& operator=(OpenPath&&) noexcept = default;
  OpenPath(const OpenPath&) = delete;
  OpenPath& operator=(const OpenPath&) = delete;

  bool ok() const { return !failed_step.has_value(); }
  // The open's error: "NTE_BAD_KEYSET (0x80090016): <reason>" on the key file.
  Error ToError() const;
  // The file's descriptor (when it was read and decodes).
  const acl::SecurityDescriptor* FileDescriptor() const;
  // The access check of `check` ("read", ...) on the file, when it was made.
  const acl::AccessCheckResult* AccessFor(std::string_view check) const;
};

// Walks the open of `target` as `token`. Never fails: every problem is a failing step.
OpenPath WalkOpenPath(const MachineRoot& root, OpenTarget target, const acl::Token& token,
                      const WalkOptions& options = {});

// What decided a check: the deny ACE, else the first missing right's reason, else the grant.
std::string DecidedBy(const acl::AccessCheckResult& result);

}  // namespace mkeys::keystore
