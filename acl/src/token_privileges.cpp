// SPDX-License-Identifier: GPL-3.0-or-later
// The user-rights assignment mkeys models a machine with when it is given none.
#include "mkeys/acl/token.hpp"

namespace mkeys::acl {

// Windows Server's default user-rights assignment for the privileges that affect file access
// and service tokens. Source: Microsoft docs, "Security policy settings > User Rights
// Assignment", the "Default values" table of each policy (member server / stand-alone server):
//   Bypass traverse checking (SeChangeNotify): Administrators, Backup Operators, Users,
//     Everyone, Local Service, Network Service.  (Authenticated Users is not listed; it is
//     covered by Everyone.)
//   Back up files and directories (SeBackup): Administrators, Backup Operators.
//   Restore files and directories (SeRestore): Administrators, Backup Operators.
//   Take ownership of files or other objects (SeTakeOwnership): Administrators.
//   Manage auditing and security log (SeSecurity): Administrators.
//   Impersonate a client after authentication (SeImpersonate): Administrators, SERVICE,
//     Local Service, Network Service.
//   Create global objects (SeCreateGlobal): Administrators, SERVICE, Local Service,
//     Network Service.
//   Replace a process level token (SeAssignPrimaryToken): Local Service, Network Service.
//   Adjust memory quotas for a process (SeIncreaseQuota): Administrators, Local Service,
//     Network Service.
//   Generate security audits (SeAudit): Local Service, Network Service.
//   Debug programs (SeDebug): Administrators.
//   Increase a process working set (SeIncreaseWorkingSet): Users.
//   Shut down the system (SeShutdown, servers): Administrators, Backup Operators.
std::vector<PrivilegeAssignment> DefaultPrivilegeAssignments() {
  const Sid ba = sids::Administrators();
  const Sid bo = sids::BackupOperators();
  const Sid bu = sids::Users();
  const Sid wd = sids::Everyone();
  const Sid ls = sids::LocalService();
  const Sid ns = sids::NetworkService();
  const Sid su = sids::Service();
  return {
      {std::string(privileges::kChangeNotify), {ba, bo, bu, wd, ls, ns}},
      {std::string(privileges::kBackup), {ba, bo}},
      {std::string(privileges::kRestore), {ba, bo}},
      {std::string(privileges::kTakeOwnership), {ba}},
      {std::string(privileges::kSecurity), {ba}},
      {std::string(privileges::kImpersonate), {ba, su, ls, ns}},
      {std::string(privileges::kCreateGlobal), {ba, su, ls, ns}},
      {std::string(privileges::kAssignPrimaryToken), {ls, ns}},
      {std::string(privileges::kIncreaseQuota), {ba, ls, ns}},
      {std::string(privileges::kAuditPrivilege), {ls, ns}},
      {std::string(privileges::kDebug), {ba}},
      {"SeIncreaseWorkingSetPrivilege", {bu}},
      {"SeShutdownPrivilege", {ba, bo}},
  };
}

}  // namespace mkeys::acl
