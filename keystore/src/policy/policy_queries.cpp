// SPDX-License-Identifier: GPL-3.0-or-later
// Questions callers ask of the policy facts: who holds which privilege, which SID a service logs
// on as, which privileges a service's token keeps.
#include <fmt/format.h>

#include <algorithm>

#include "mkeys/core/text.hpp"
#include "mkeys/keystore/hive_values.hpp"
#include "mkeys/keystore/machine_policy.hpp"

namespace mkeys::keystore {
namespace {

constexpr std::string_view kChangeNotify = "SeChangeNotifyPrivilege";

bool In(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view n) { return text::EqualsIgnoreAsciiCase(n, name); });
}

// Sorts privilege names by their number (unknown names last, by name).
void SortByNumber(std::vector<std::string>& names) {
  auto key = [](const std::string& n) {
    auto value = hive::PrivilegeValue(n);
    return std::make_pair(value ? *value : 0xFFFFFFFFu, n);
  };
  std::sort(names.begin(), names.end(),
            [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
}

}  // namespace

std::vector<acl::PrivilegeAssignment> SecurityFacts::ToPrivilegeAssignments() const {
  std::vector<acl::PrivilegeAssignment> out;
  for (const auto& account : accounts) {
    for (const auto& privilege : account.privileges) {
      auto it = std::find_if(out.begin(), out.end(), [&](const acl::PrivilegeAssignment& a) {
        return a.privilege == privilege;
      });
      if (it == out.end()) it = out.insert(out.end(), acl::PrivilegeAssignment{privilege, {}});
      it->holders.push_back(account.sid);
    }
  }
  return out;
}

std::vector<std::string> SecurityFacts::PrivilegesOf(const std::vector<acl::Sid>& sids) const {
  std::vector<std::string> out;
  for (const auto& sid : sids) {
    const AccountRights* rights = Find(sid);
    if (rights == nullptr) continue;
    for (const auto& p : rights->privileges) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
  }
  SortByNumber(out);
  return out;
}

Result<acl::Sid> ServiceLogonSid(const ServiceConfig& service, const SamFacts* sam) {
  const std::string& name = service.object_name;
  if (name.empty() || In(name, {"LocalSystem", ".\\LocalSystem", "NT AUTHORITY\\SYSTEM"})) {
    return acl::Sid::Of(5, {18});
  }
  if (In(name, {"NT AUTHORITY\\LocalService", "NT AUTHORITY\\Local Service"})) {
    return acl::Sid::Of(5, {19});
  }
  if (In(name, {"NT AUTHORITY\\NetworkService", "NT AUTHORITY\\Network Service"})) {
    return acl::Sid::Of(5, {20});
  }
  const auto slash = name.find('\\');
  const std::string_view domain =
      slash == std::string::npos ? std::string_view{} : std::string_view(name).substr(0, slash);
  const std::string_view account = slash == std::string::npos
                                       ? std::string_view(name)
                                       : std::string_view(name).substr(slash + 1);
  if (text::EqualsIgnoreAsciiCase(domain, "NT SERVICE")) return acl::ServiceSid(account);
  if (sam != nullptr) {
    for (const auto& user : sam->users) {
      if (text::EqualsIgnoreAsciiCase(user.name, account)) return user.sid;
    }
  }
  return Error(ErrorCode::kNotFound,
               fmt::format("service {} logs on as '{}', which is no local or built-in account of "
                           "this machine (a domain account: describe it with a token file)",
                           service.name, name));
}

std::vector<std::string> ServiceTokenPrivileges(const ServiceConfig& service,
                                                const std::vector<std::string>& held) {
  if (!service.has_required_privileges) return held;
  std::vector<std::string> out;
  for (const auto& p : held) {
    const bool required =
        text::EqualsIgnoreAsciiCase(p, kChangeNotify) ||
        std::any_of(service.required_privileges.begin(), service.required_privileges.end(),
                    [&](const std::string& r) { return text::EqualsIgnoreAsciiCase(r, p); });
    if (required) out.push_back(p);
  }
  return out;
}

}  // namespace mkeys::keystore
