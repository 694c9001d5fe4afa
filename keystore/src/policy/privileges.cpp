// SPDX-License-Identifier: GPL-3.0-or-later
// Privilege LUIDs (SE_*_PRIVILEGE, wdm.h / "Privilege Constants") and logon-right bits
// (SECURITY_ACCESS_*, ntlsa.h) as Windows stores them in the SECURITY hive.
#include <fmt/format.h>

#include <array>
#include <utility>

#include "mkeys/core/text.hpp"
#include "mkeys/keystore/hive_values.hpp"

namespace mkeys::keystore::hive {
namespace {

// Index = LUID low part - 2 (SE_MIN_WELL_KNOWN_PRIVILEGE is 2).
constexpr std::array<std::string_view, 35> kPrivileges = {
    "SeCreateTokenPrivilege",                     // 2
    "SeAssignPrimaryTokenPrivilege",              // 3
    "SeLockMemoryPrivilege",                      // 4
    "SeIncreaseQuotaPrivilege",                   // 5
    "SeMachineAccountPrivilege",                  // 6
    "SeTcbPrivilege",                             // 7
    "SeSecurityPrivilege",                        // 8
    "SeTakeOwnershipPrivilege",                   // 9
    "SeLoadDriverPrivilege",                      // 10
    "SeSystemProfilePrivilege",                   // 11
    "SeSystemtimePrivilege",                      // 12
    "SeProfileSingleProcessPrivilege",            // 13
    "SeIncreaseBasePriorityPrivilege",            // 14
    "SeCreatePagefilePrivilege",                  // 15
    "SeCreatePermanentPrivilege",                 // 16
    "SeBackupPrivilege",                          // 17
    "SeRestorePrivilege",                         // 18
    "SeShutdownPrivilege",                        // 19
    "SeDebugPrivilege",                           // 20
    "SeAuditPrivilege",                           // 21
    "SeSystemEnvironmentPrivilege",               // 22
    "SeChangeNotifyPrivilege",                    // 23
    "SeRemoteShutdownPrivilege",                  // 24
    "SeUndockPrivilege",                          // 25
    "SeSyncAgentPrivilege",                       // 26
    "SeEnableDelegationPrivilege",                // 27
    "SeManageVolumePrivilege",                    // 28
    "SeImpersonatePrivilege",                     // 29
    "SeCreateGlobalPrivilege",                    // 30
    "SeTrustedCredManAccessPrivilege",            // 31
    "SeRelabelPrivilege",                         // 32
    "SeIncreaseWorkingSetPrivilege",              // 33
    "SeTimeZonePrivilege",                        // 34
    "SeCreateSymbolicLinkPrivilege",              // 35
    "SeDelegateSessionUserImpersonatePrivilege",  // 36
};
constexpr std::uint32_t kFirstPrivilege = 2;

constexpr std::array<std::pair<std::uint32_t, std::string_view>, 10> kLogonRights = {{
    {0x001, "SeInteractiveLogonRight"},
    {0x002, "SeNetworkLogonRight"},
    {0x004, "SeBatchLogonRight"},
    {0x010, "SeServiceLogonRight"},
    {0x040, "SeDenyInteractiveLogonRight"},
    {0x080, "SeDenyNetworkLogonRight"},
    {0x100, "SeDenyBatchLogonRight"},
    {0x200, "SeDenyServiceLogonRight"},
    {0x400, "SeRemoteInteractiveLogonRight"},
    {0x800, "SeDenyRemoteInteractiveLogonRight"},
}};

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

}  // namespace

std::optional<std::string_view> PrivilegeName(std::uint32_t value) {
  if (value < kFirstPrivilege || value >= kFirstPrivilege + kPrivileges.size()) return {};
  return kPrivileges[value - kFirstPrivilege];
}

Result<std::uint32_t> PrivilegeValue(std::string_view name) {
  for (std::size_t i = 0; i < kPrivileges.size(); ++i) {
    if (text::EqualsIgnoreAsciiCase(kPrivileges[i], name)) {
      return static_cast<std::uint32_t>(i) + kFirstPrivilege;
    }
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown privilege '{}'; valid privileges: {}", name,
                           JoinNames(AllPrivilegeNames())));
}

std::vector<std::string_view> AllPrivilegeNames() {
  return {kPrivileges.begin(), kPrivileges.end()};
}

Result<std::uint32_t> LogonRightBit(std::string_view name) {
  for (const auto& [bit, right] : kLogonRights) {
    if (text::EqualsIgnoreAsciiCase(right, name)) return bit;
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown logon right '{}'; valid logon rights: {}", name,
                           JoinNames(AllLogonRightNames())));
}

std::vector<std::string> LogonRightNames(std::uint32_t mask) {
  std::vector<std::string> names;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {
    if ((mask & bit) == 0) continue;
    std::string name = fmt::format("0x{:x}", bit);
    for (const auto& [known, right] : kLogonRights) {
      if (known == bit) name = std::string(right);
    }
    names.push_back(std::move(name));
  }
  return names;
}

std::vector<std::string_view> AllLogonRightNames() {
  std::vector<std::string_view> names;
  for (const auto& entry : kLogonRights) names.push_back(entry.second);
  return names;
}

}  // namespace mkeys::keystore::hive
