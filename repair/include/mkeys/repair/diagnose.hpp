// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Diagnose "KEYSET DOES NOT EXIST": walk what CryptAcquireContext does for an identity and a
// container — the file name (MachineGuid), whether it exists (or exists under another
// MachineGuid), traversal of every directory above it, the access check on the file, the
// file's own integrity — and say why the open fails and what fixes it. Read-only.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/open_path.hpp"
#include "mkeys/repair/plan.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair {

enum class Want : std::uint8_t { kRead, kWrite, kDelete, kCreate };
std::string_view WantName(Want want);  // "read", "write", "delete", "create"
Result<Want> ParseWant(std::string_view text);

struct DiagnoseRequest {
  std::string identity;                  // anything MachineRoot::TokenFor takes
  std::optional<std::string> container;  // the container name, or
  std::optional<std::string> file;       // the key file name (or a path ending in it), or
  // a resolved target (a certificate's key: keystore::LocateCertificateKey, a CNG key)
  std::optional<keystore::OpenTarget> target;
  std::vector<Want> wants = {Want::kRead};
};

// One link of the chain of evidence: an object, its owner, the check made and what decided it.
struct EvidenceItem {
  std::string object;  // "ProgramData", ..., "MachineKeys/<file>", "file contents"
  std::string check;   // "traverse", "read", "write", "delete", "create", "exists", "integrity"
  bool passed = false;
  std::string owner;       // display name of the owner ("" when not applicable)
  std::string decided_by;  // "ACE #0 (A;;FA;;;SY)", "SeChangeNotifyPrivilege", "no ACE", ...
  std::string detail;      // the sentence: "no ACE grants NETWORK SERVICE read"
  std::string sddl;        // the object's descriptor ("" when not applicable)
};

struct Diagnosis {
  std::string identity;  // display name ("NT AUTHORITY\NETWORK SERVICE")
  std::string identity_sid;
  std::string short_name;  // "NETWORK SERVICE"
  std::string container;   // "" when only the file was given and it could not be read
  std::string file_name;   // <hash>_<MachineGuid>
  std::string machine_guid;
  bool file_exists = false;
  // The same hash under other MachineGuids (a cloned image): file names and their GUIDs.
  std::vector<std::string> foreign_files;
  std::vector<std::string> foreign_guids;

  bool would_succeed = false;
  std::uint32_t windows_code = 0;  // 0 when the open would succeed
  std::string windows_error;       // "NTE_BAD_KEYSET (0x80090016)"
  std::string reason;              // one sentence: why it fails (or "all checks pass")

  std::vector<EvidenceItem> evidence;
  // Rule findings that explain the failure or that the same fix addresses.
  std::vector<Finding> findings;
  // The fix: the plan `repair` would run and the command line that runs it, and what a person
  // must do where no descriptor change helps.
  std::optional<Plan> plan;
  std::vector<std::string> repair_command;  // argv: {"mkeys", "repair", ROOT, ...}
  std::vector<std::string> manual_fixes;
};

// Diagnoses opening the container as `request.identity`. Errors only for bad requests (unknown
// identity: kInvalidArgument) or an unreadable root; every problem with the container is part
// of the Diagnosis.
Result<Diagnosis> Diagnose(const keystore::MachineRoot& root, const DiagnoseRequest& request);

// The array join's preflight for a service identity: can containers be created in the store
// (traverse to MachineKeys and ADD_FILE on it, by `installer` and by `service` itself, as the
// Windows default allows), and will `service` be able to
// traverse to them and read a container carrying `container_descriptor` (default: what the CSP
// writes for `installer` plus a read grant for the service)? Read-only.
struct PreflightOptions {
  std::string installer_identity = "administrator";  // who creates the containers
  std::optional<acl::SecurityDescriptor> container_descriptor;
  std::string container_name = "mkeys-preflight-probe";
};
Result<Diagnosis> PreflightForService(const keystore::MachineRoot& root, const acl::Token& service,
                                      const PreflightOptions& options = {});

}  // namespace mkeys::repair
