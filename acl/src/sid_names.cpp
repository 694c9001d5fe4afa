// SPDX-License-Identifier: GPL-3.0-or-later
// Names for SIDs: the well-known table (names as LookupAccountSid returns them on an English
// Windows Server), the SDDL aliases of MS-DTYP 2.5.1.1 (including the domain-relative ones),
// and resolution of the names administrators type.
#include "mkeys/acl/sid_names.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace mkeys::acl {
namespace {

struct WellKnown {
  const char* sid;
  const char* domain;
  const char* name;
  const char* alias;  // "" when there is none
};

// Order matters only for aliases: AliasForSid returns the first alias of a SID.
constexpr WellKnown kWellKnown[] = {
    {"S-1-0-0", "", "NULL SID", ""},
    {"S-1-1-0", "", "Everyone", "WD"},
    {"S-1-2-0", "", "LOCAL", ""},
    {"S-1-2-1", "", "CONSOLE LOGON", ""},
    {"S-1-3-0", "", "CREATOR OWNER", "CO"},
    {"S-1-3-1", "", "CREATOR GROUP", "CG"},
    {"S-1-3-2", "", "CREATOR OWNER SERVER", ""},
    {"S-1-3-3", "", "CREATOR GROUP SERVER", ""},
    {"S-1-3-4", "", "OWNER RIGHTS", "OW"},
    {"S-1-5-1", "NT AUTHORITY", "DIALUP", ""},
    {"S-1-5-2", "NT AUTHORITY", "NETWORK", "NU"},
    {"S-1-5-3", "NT AUTHORITY", "BATCH", ""},
    {"S-1-5-4", "NT AUTHORITY", "INTERACTIVE", "IU"},
    {"S-1-5-6", "NT AUTHORITY", "SERVICE", "SU"},
    {"S-1-5-7", "NT AUTHORITY", "ANONYMOUS LOGON", "AN"},
    {"S-1-5-8", "NT AUTHORITY", "PROXY", ""},
    {"S-1-5-9", "NT AUTHORITY", "ENTERPRISE DOMAIN CONTROLLERS", "ED"},
    {"S-1-5-10", "NT AUTHORITY", "SELF", "PS"},
    {"S-1-5-11", "NT AUTHORITY", "Authenticated Users", "AU"},
    {"S-1-5-12", "NT AUTHORITY", "RESTRICTED", "RC"},
    {"S-1-5-13", "NT AUTHORITY", "TERMINAL SERVER USER", ""},
    {"S-1-5-14", "NT AUTHORITY", "REMOTE INTERACTIVE LOGON", ""},
    {"S-1-5-15", "NT AUTHORITY", "This Organization", ""},
    {"S-1-5-17", "NT AUTHORITY", "IUSR", ""},
    {"S-1-5-18", "NT AUTHORITY", "SYSTEM", "SY"},
    {"S-1-5-19", "NT AUTHORITY", "LOCAL SERVICE", "LS"},
    {"S-1-5-20", "NT AUTHORITY", "NETWORK SERVICE", "NS"},
    {"S-1-5-33", "NT AUTHORITY", "WRITE RESTRICTED", "WR"},
    {"S-1-5-64-10", "NT AUTHORITY", "NTLM Authentication", ""},
    {"S-1-5-64-14", "NT AUTHORITY", "SChannel Authentication", ""},
    {"S-1-5-64-21", "NT AUTHORITY", "Digest Authentication", ""},
    {"S-1-5-80-0", "NT SERVICE", "ALL SERVICES", ""},
    {"S-1-5-84-0-0-0-0-0", "NT AUTHORITY", "USER MODE DRIVERS", "UD"},
    {"S-1-5-113", "NT AUTHORITY", "Local account", ""},
    {"S-1-5-114", "NT AUTHORITY", "Local account and member of Administrators group", ""},
    {"S-1-5-1000", "NT AUTHORITY", "Other Organization", ""},
    {"S-1-5-32-544", "BUILTIN", "Administrators", "BA"},
    {"S-1-5-32-545", "BUILTIN", "Users", "BU"},
    {"S-1-5-32-546", "BUILTIN", "Guests", "BG"},
    {"S-1-5-32-547", "BUILTIN", "Power Users", "PU"},
    {"S-1-5-32-548", "BUILTIN", "Account Operators", "AO"},
    {"S-1-5-32-549", "BUILTIN", "Server Operators", "SO"},
    {"S-1-5-32-550", "BUILTIN", "Print Operators", "PO"},
    {"S-1-5-32-551", "BUILTIN", "Backup Operators", "BO"},
    {"S-1-5-32-552", "BUILTIN", "Replicator", "RE"},
    {"S-1-5-32-554", "BUILTIN", "Pre-Windows 2000 Compatible Access", "RU"},
    {"S-1-5-32-555", "BUILTIN", "Remote Desktop Users", "RD"},
    {"S-1-5-32-556", "BUILTIN", "Network Configuration Operators", "NO"},
    {"S-1-5-32-558", "BUILTIN", "Performance Monitor Users", "MU"},
    {"S-1-5-32-559", "BUILTIN", "Performance Log Users", "LU"},
    {"S-1-5-32-560", "BUILTIN", "Windows Authorization Access Group", ""},
    {"S-1-5-32-561", "BUILTIN", "Terminal Server License Servers", ""},
    {"S-1-5-32-562", "BUILTIN", "Distributed COM Users", ""},
    {"S-1-5-32-568", "BUILTIN", "IIS_IUSRS", "IS"},
    {"S-1-5-32-569", "BUILTIN", "Cryptographic Operators", "CY"},
    {"S-1-5-32-573", "BUILTIN", "Event Log Readers", "ER"},
    {"S-1-5-32-574", "BUILTIN", "Certificate Service DCOM Access", "CD"},
    {"S-1-5-32-575", "BUILTIN", "RDS Remote Access Servers", "RA"},
    {"S-1-5-32-576", "BUILTIN", "RDS Endpoint Servers", "ES"},
    {"S-1-5-32-577", "BUILTIN", "RDS Management Servers", "MS"},
    {"S-1-5-32-578", "BUILTIN", "Hyper-V Administrators", "HA"},
    {"S-1-5-32-579", "BUILTIN", "Access Control Assistance Operators", "AA"},
    {"S-1-5-32-580", "BUILTIN", "Remote Management Users", "RM"},
    {"S-1-15-2-1", "APPLICATION PACKAGE AUTHORITY", "ALL APPLICATION PACKAGES", "AC"},
    {"S-1-15-2-2", "APPLICATION PACKAGE AUTHORITY", "ALL RESTRICTED APPLICATION PACKAGES", ""},
    {"S-1-16-0", "Mandatory Label", "Untrusted Mandatory Level", ""},
    {"S-1-16-4096", "Mandatory Label", "Low Mandatory Level", "LW"},
    {"S-1-16-8192", "Mandatory Label", "Medium Mandatory Level", "ME"},
    {"S-1-16-8448", "Mandatory Label", "Medium Plus Mandatory Level", "MP"},
    {"S-1-16-12288", "Mandatory Label", "High Mandatory Level", "HI"},
    {"S-1-16-16384", "Mandatory Label", "System Mandatory Level", "SI"},
    {"S-1-16-20480", "Mandatory Label", "Protected Process Mandatory Level", ""},
    {"S-1-18-1", "", "Authentication authority asserted identity", "AS"},
    {"S-1-18-2", "", "Service asserted identity", "SS"},
};

// Domain-relative aliases (MS-DTYP 2.5.1.1): the domain SID plus a RID. mkeys takes one domain
// SID for the machine, domain and forest roles, as the conformance data was recorded.
struct DomainRelative {
  std::uint32_t rid;
  const char* name;
  const char* alias;
};

constexpr DomainRelative kDomainRelative[] = {
    {498, "Enterprise Read-only Domain Controllers", "RO"},
    {500, "Administrator", "LA"},
    {501, "Guest", "LG"},
    {512, "Domain Admins", "DA"},
    {513, "Domain Users", "DU"},
    {514, "Domain Guests", "DG"},
    {515, "Domain Computers", "DC"},
    {516, "Domain Controllers", "DD"},
    {517, "Cert Publishers", "CA"},
    {518, "Schema Admins", "SA"},
    {519, "Enterprise Admins", "EA"},
    {520, "Group Policy Creator Owners", "PA"},
    {522, "Cloneable Domain Controllers", "CN"},
    {525, "Protected Users", "AP"},
    {526, "Key Admins", "KA"},
    {527, "Enterprise Key Admins", "EK"},
    {553, "RAS and IAS Servers", "RS"},
};

// Other spellings administrators type for well-known accounts (service-account names of the
// service control manager, and the forms without a domain).
struct Synonym {
  const char* typed;
  const char* sid;
};
constexpr Synonym kSynonyms[] = {
    {"LocalSystem", "S-1-5-18"},    {"Local System", "S-1-5-18"}, {"System", "S-1-5-18"},
    {"NetworkService", "S-1-5-20"}, {"LocalService", "S-1-5-19"}, {"TrustedInstaller", ""},
    {"World", "S-1-1-0"},           {"Anonymous", "S-1-5-7"},
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct Table {
  std::vector<SidName> entries;
};

const Table& WellKnownTable() {
  static const Table table = [] {
    Table t;
    for (const auto& w : kWellKnown) {
      auto sid = Sid::Parse(w.sid);
      if (sid) t.entries.push_back(SidName{*sid, w.domain, w.name, w.alias});
    }
    t.entries.push_back(SidName{sids::TrustedInstaller(), "NT SERVICE", "TrustedInstaller", ""});
    return t;
  }();
  return table;
}

std::optional<Sid> DomainSidPlus(const Sid& domain, std::uint32_t rid) {
  if (domain.sub_authority_count() >= Sid::kMaxSubAuthorities) return std::nullopt;
  std::vector<std::uint32_t> subs(domain.sub_authorities().begin(), domain.sub_authorities().end());
  subs.push_back(rid);
  auto sid = Sid::Create(domain.authority(), subs);
  if (!sid) return std::nullopt;
  return *sid;
}

bool IsPrefixed(const Sid& sid, std::uint32_t first_sub, std::size_t count) {
  return sid.authority() == 5 && sid.sub_authority_count() == count &&
         sid.sub_authorities()[0] == first_sub;
}

}  // namespace

std::string SidName::FullName() const {
  if (domain.empty()) return name;
  return domain + "\\" + name;
}

std::optional<Sid> SidFromAlias(std::string_view alias, const std::optional<Sid>& domain_sid) {
  if (alias.size() != 2) return std::nullopt;
  const std::string up = Upper(alias);
  for (const auto& e : WellKnownTable().entries) {
    if (!e.alias.empty() && e.alias == up) return e.sid;
  }
  for (const auto& d : kDomainRelative) {
    if (up == d.alias) {
      if (!domain_sid) return std::nullopt;
      return DomainSidPlus(*domain_sid, d.rid);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> AliasForSid(const Sid& sid, const std::optional<Sid>& domain_sid) {
  for (const auto& e : WellKnownTable().entries) {
    if (e.sid == sid) {
      if (e.alias.empty()) return std::nullopt;
      return std::string_view(e.alias);
    }
  }
  if (domain_sid && sid.IsInDomain(*domain_sid)) {
    for (const auto& d : kDomainRelative) {
      if (d.rid == sid.rid()) return std::string_view(d.alias);
    }
  }
  return std::nullopt;
}

std::optional<SidName> LookupSid(const Sid& sid, const std::optional<Sid>& domain_sid) {
  for (const auto& e : WellKnownTable().entries) {
    if (e.sid == sid) return e;
  }
  if (domain_sid && sid.IsInDomain(*domain_sid)) {
    for (const auto& d : kDomainRelative) {
      if (d.rid == sid.rid()) return SidName{sid, "", d.name, d.alias};
    }
  }
  if (IsPrefixed(sid, 80, 6)) return SidName{sid, "NT SERVICE", sid.ToString(), ""};
  if (IsPrefixed(sid, 82, 6)) return SidName{sid, "IIS APPPOOL", sid.ToString(), ""};
  return std::nullopt;
}

std::string DisplayName(const Sid& sid, const std::optional<Sid>& domain_sid) {
  if (auto name = LookupSid(sid, domain_sid)) return name->FullName();
  return sid.ToString();
}

Result<SidName> ResolveName(std::string_view input, const std::optional<Sid>& domain_sid) {
  const std::string_view text = Trim(input);
  if (text.empty()) {
    return Error(ErrorCode::kNotFound, "an empty name names no account");
  }
  // "S-1-5-20"
  if (text.size() > 2 && (text[0] == 'S' || text[0] == 's') && text[1] == '-') {
    MKEYS_ASSIGN_OR_RETURN(const Sid sid, Sid::Parse(text));
    if (auto known = LookupSid(sid, domain_sid)) return *known;
    return SidName{sid, "", sid.ToString(), ""};
  }
  std::string_view domain;
  std::string_view name = text;
  bool has_domain = false;
  if (const auto slash = text.find('\\'); slash != std::string_view::npos) {
    domain = Trim(text.substr(0, slash));
    name = Trim(text.substr(slash + 1));
    has_domain = true;
    if (name.empty()) {
      return Error(ErrorCode::kNotFound, fmt::format("'{}' names no account", text));
    }
  }
  if (has_domain && EqualsNoCase(domain, "NT SERVICE")) {
    for (const auto& e : WellKnownTable().entries) {
      if (e.domain == "NT SERVICE" && EqualsNoCase(e.name, name)) return e;
    }
    return SidName{ServiceSid(name), "NT SERVICE", std::string(name), ""};
  }
  if (has_domain && EqualsNoCase(domain, "IIS APPPOOL")) {
    return SidName{AppPoolSid(name), "IIS APPPOOL", std::string(name), ""};
  }
  // "." and the empty domain mean "this machine"; for well-known names any domain that the
  // table gives is accepted.
  const bool any_domain = !has_domain || domain == "." || domain.empty();
  for (const auto& e : WellKnownTable().entries) {
    if (EqualsNoCase(e.name, name) && (any_domain || EqualsNoCase(e.domain, domain))) return e;
  }
  if (!has_domain || EqualsNoCase(domain, "NT AUTHORITY")) {
    for (const auto& s : kSynonyms) {
      if (!EqualsNoCase(s.typed, name)) continue;
      if (*s.sid == '\0') {
        for (const auto& e : WellKnownTable().entries) {
          if (e.domain == "NT SERVICE" && EqualsNoCase(e.name, name)) return e;
        }
        continue;
      }
      auto sid = Sid::Parse(s.sid);
      if (sid) {
        if (auto known = LookupSid(*sid, domain_sid)) return *known;
      }
    }
  }
  if (domain_sid && any_domain) {
    for (const auto& d : kDomainRelative) {
      if (EqualsNoCase(d.name, name)) {
        if (auto sid = DomainSidPlus(*domain_sid, d.rid)) return SidName{*sid, "", d.name, d.alias};
      }
    }
  }
  if (!has_domain && name.size() == 2) {
    if (auto sid = SidFromAlias(name, domain_sid)) {
      if (auto known = LookupSid(*sid, domain_sid)) return *known;
      return SidName{*sid, "", sid->ToString(), Upper(name)};
    }
  }
  if (!domain_sid) {
    // A domain-relative name or alias (Domain Admins, DA, ...) needs the domain's SID.
    for (const auto& d : kDomainRelative) {
      if (EqualsNoCase(d.name, name) || EqualsNoCase(d.alias, name)) {
        return Error(ErrorCode::kNotFound,
                     fmt::format("'{}' is relative to a domain: give the domain's SID with "
                                 "--domain-sid S-1-5-21-...",
                                 text));
      }
    }
  }
  return Error(ErrorCode::kNotFound, fmt::format("unknown account name '{}'", text));
}

}  // namespace mkeys::acl
