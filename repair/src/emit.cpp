// SPDX-License-Identifier: GPL-3.0-or-later
// Scripts that apply a plan on the live Windows server (icacls / PowerShell).
#include <algorithm>

#include <fmt/format.h>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/token_file.hpp"
#include "mkeys/repair/plan.hpp"

namespace mkeys::repair {
namespace {

std::string WindowsPath(const EmitOptions& options, std::string_view relative) {
  std::string path = options.windows_root;
  if (!path.empty() && path.back() != '\\') path += '\\';
  for (char c : relative) path += c == '/' ? '\\' : c;
  return path;
}

bool IsAccountDomainSid(const acl::Sid& sid) {
  const auto subs = sid.sub_authorities();
  return sid.authority() == 5 && !subs.empty() && subs[0] == 21;
}

// How the scripts name principals on the live server. Only names and SIDs that exist there:
// the caller's named principals, the machine's local accounts and services, Windows'
// well-known principals (and the well-known accounts of the machine's own domain).
class PrincipalNames final {
 public:
  PrincipalNames(const keystore::MachineRoot& root, const EmitOptions& options)
      : policy_(root.policy()), principals_(options.principals) {}

  // The name (or *SID) for `sid`; nullopt if neither the machine nor the caller knows it.
  std::optional<std::string> Known(const acl::Sid& sid) const {
    for (const auto& p : principals_) {
      if (p.sid == sid && !p.name.empty()) return p.name;
    }
    if (auto name = MachineName(sid)) return name;
    // A SID the caller vouches for (a --token user without a name).
    for (const auto& p : principals_) {
      if (p.sid == sid) return "*" + sid.ToString();
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> MachineName(const acl::Sid& sid) const {
    if (policy_ != nullptr && !policy_->NameOf(sid).empty()) {
      return keystore::MachineDisplayName(policy_, sid);
    }
    const std::string machine = keystore::MachineDisplayName(policy_, sid);
    if (machine.rfind("NT SERVICE\\", 0) == 0 && machine.find("S-1-") == std::string::npos) {
      return machine;  // a service of the machine's SYSTEM hive
    }
    if (IsAccountDomainSid(sid)) {
      // Administrator, Guest, None ... of this machine's own domain exist on every machine.
      if (policy_ != nullptr && policy_->sam && sid.IsInDomain(policy_->sam->account_domain) &&
          acl::LookupSid(sid, policy_->sam->account_domain)) {
        return "*" + sid.ToString();
      }
      return std::nullopt;
    }
    if (auto name = acl::LookupSid(sid);
        name && name->name.find("S-1-") == std::string::npos && !name->name.empty()) {
      return name->FullName();
    }
    return std::nullopt;
  }

 public:
  // A principal already in the object's descriptor (removed, kept or restored): by name when
  // known, else by the SID the descriptor holds.
  std::string Existing(const acl::Sid& sid) const {
    return Known(sid).value_or("*" + sid.ToString());
  }

  // A principal the script newly grants, denies or makes owner: it must exist on the machine.
  Result<std::string> New(const acl::Sid& sid, std::string_view object) const {
    if (auto name = Known(sid)) return *name;
    return Error(ErrorCode::kNotFound,
                 fmt::format("the plan gives {} rights or ownership, and it is no account of "
                             "this machine, no service of its SYSTEM hive and no well-known "
                             "principal: a script naming it would grant an invented SID (name the "
                             "account: --token FILE for a domain account, mkeys machine user add "
                             "for a local one)",
                             sid.ToString()))
        .On(std::string(object));
  }

 private:
  const keystore::MachinePolicy* policy_;
  std::vector<NamedPrincipal> principals_;
};

bool InDescriptor(const acl::SecurityDescriptor& sd, const acl::Sid& sid) {
  if (sd.owner == sid || sd.group == sid) return true;
  if (!sd.dacl) return false;
  return std::any_of(sd.dacl->aces.begin(), sd.dacl->aces.end(),
                     [&](const acl::Ace& ace) { return ace.sid == sid; });
}

// A SID the script names: known on the machine, or already in the object's descriptor.
Result<std::string> NameFor(const PrincipalNames& names, const acl::Sid& sid,
                            const acl::SecurityDescriptor& before, std::string_view object) {
  if (InDescriptor(before, sid)) return names.Existing(sid);
  return names.New(sid, object);
}

std::string IcaclsFlags(std::uint8_t flags) {
  std::string out;
  if (flags & acl::ace_flags::kObjectInherit) out += "(OI)";
  if (flags & acl::ace_flags::kContainerInherit) out += "(CI)";
  if (flags & acl::ace_flags::kInheritOnly) out += "(IO)";
  if (flags & acl::ace_flags::kNoPropagateInherit) out += "(NP)";
  return out;
}

std::string IcaclsPerm(const acl::Ace& ace, const std::string& name) {
  std::string rights = acl::FormatIcaclsRights(ace.mask);
  if (rights.empty() || rights.front() != '(') rights = "(" + rights + ")";
  return fmt::format("\"{}:{}{}\"", name, IcaclsFlags(ace.flags), rights);
}

bool SameAce(const acl::Ace& a, const acl::Ace& b) {
  return a.type == b.type && a.flags == b.flags && a.mask == b.mask && a.sid == b.sid;
}

// Does an elevated administrator need to take ownership before changing this descriptor?
Result<bool> NeedsOwnership(const keystore::MachineRoot& root,
                            const acl::SecurityDescriptor& before) {
  MKEYS_ASSIGN_OR_RETURN(const acl::Token admin, root.TokenFor("administrator"));
  if (before.owner && admin.MatchesForAllow(*before.owner)) return false;
  // WRITE_DAC from the DACL alone: privileges do not help icacls /grant.
  acl::Token no_privileges(admin.user(), admin.groups(), {}, admin.display_name());
  return !acl::CheckAccess(before, no_privileges, acl::rights::kWriteDac).allowed;
}

std::string PsQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

struct Prepared {
  const PlanStep* step;
  DecodedStep sds;
  std::string path;
  bool take_ownership;
};

Result<std::vector<Prepared>> Prepare(const keystore::MachineRoot& root, const Plan& plan,
                                      const EmitOptions& options) {
  std::vector<Prepared> out;
  for (const auto& step : plan.steps) {
    MKEYS_ASSIGN_OR_RETURN(DecodedStep sds, DecodeStep(root, step));
    MKEYS_ASSIGN_OR_RETURN(const bool take, NeedsOwnership(root, sds.before));
    out.push_back({&step, std::move(sds), WindowsPath(options, step.relative_path), take});
  }
  return out;
}

std::string Header(const Plan& plan, std::string_view comment, std::string_view kind) {
  return fmt::format(
      "{} mkeys repair --emit {}: {} change(s) planned for {} (MachineGuid {}).\n"
      "{} Run elevated on the server. Rules: {}.\n",
      comment, kind, plan.steps.size(), plan.root, plan.machine_guid, comment, [&] {
        std::vector<std::string> codes;
        for (const auto& s : plan.steps) {
          for (RuleId id : s.rules) codes.emplace_back(Rule(id).code);
        }
        std::sort(codes.begin(), codes.end());
        codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
        std::string text;
        for (const auto& c : codes) text += (text.empty() ? "" : ", ") + c;
        return text.empty() ? std::string("none") : text;
      }());
}

}  // namespace

std::vector<NamedPrincipal> PrincipalsOf(const keystore::MachineRoot& root,
                                         const Baseline& baseline) {
  std::vector<NamedPrincipal> out;
  for (const auto& decl : baseline.services) {
    auto token = root.TokenFor(decl.identity);
    if (!token) continue;
    const acl::Sid& sid = token->user();
    if (std::any_of(out.begin(), out.end(), [&](const NamedPrincipal& p) { return p.sid == sid; }))
      continue;
    // A --token user: the name its file gives, else its SID.
    if (auto file = keystore::FindRegisteredTokenFile(decl.identity)) {
      out.push_back({sid, file->user.sid == sid ? file->user.name : ""});
      continue;
    }
    // A derived SID (IIS APPPOOL\x, NT SERVICE\x) is named by the name it was derived from.
    const auto subs = sid.sub_authorities();
    const bool derived =
        sid.authority() == 5 && subs.size() == 6 && (subs[0] == 80 || subs[0] == 82);
    if (!derived) continue;
    auto named = acl::ResolveName(decl.identity);
    if (named && named->sid == sid) out.push_back({sid, named->FullName()});
  }
  return out;
}

Result<std::string> EmitIcaclsScript(const keystore::MachineRoot& root, const Plan& plan,
                                     const EmitOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const auto prepared, Prepare(root, plan, options));
  const PrincipalNames names(root, options);
  std::string ownership, changes, owners;
  for (const auto& p : prepared) {
    const auto& before = p.sds.before;
    const auto& after = p.sds.after;
    const std::string q = "\"" + p.path + "\"";
    if (p.take_ownership) {
      ownership += fmt::format("takeown /F {} /A\n", q);
    }
    changes += fmt::format("REM {} [{}]\n", p.step->object, [&] {
      std::string codes;
      for (RuleId id : p.step->rules)
        codes += (codes.empty() ? "" : ",") + std::string(Rule(id).code);
      return codes;
    }());
    const bool unprotect_to_protect = !before.DaclProtected() && after.DaclProtected();
    if (unprotect_to_protect) changes += fmt::format("icacls {} /inheritance:d\n", q);
    if (before.DaclProtected() && !after.DaclProtected()) {
      changes += fmt::format("icacls {} /inheritance:e\n", q);
    }
    // The explicit ACEs before (inherited ones become explicit with /inheritance:d) and after.
    std::vector<acl::Ace> b, a;
    if (before.dacl) {
      for (auto ace : before.dacl->aces) {
        if (ace.IsInherited() && !unprotect_to_protect) continue;
        ace.flags &= static_cast<std::uint8_t>(~acl::ace_flags::kInherited);
        b.push_back(ace);
      }
    }
    if (after.dacl) {
      for (const auto& ace : after.dacl->aces) {
        if (!ace.IsInherited()) a.push_back(ace);
      }
    }
    std::vector<acl::Sid> removed_allow, removed_deny;
    for (const auto& ace : b) {
      const bool kept =
          std::any_of(a.begin(), a.end(), [&](const acl::Ace& x) { return SameAce(x, ace); });
      if (kept) continue;
      auto& list = ace.IsDeny() ? removed_deny : removed_allow;
      if (std::find(list.begin(), list.end(), ace.sid) == list.end()) list.push_back(ace.sid);
    }
    for (const auto& sid : removed_allow) {
      changes += fmt::format("icacls {} /remove:g \"{}\"\n", q, names.Existing(sid));
    }
    for (const auto& sid : removed_deny) {
      changes += fmt::format("icacls {} /remove:d \"{}\"\n", q, names.Existing(sid));
    }
    for (const auto& ace : a) {
      const bool existed =
          std::any_of(b.begin(), b.end(), [&](const acl::Ace& x) { return SameAce(x, ace); });
      const auto& removed = ace.IsDeny() ? removed_deny : removed_allow;
      const bool was_removed = std::find(removed.begin(), removed.end(), ace.sid) != removed.end();
      if (existed && !was_removed) continue;
      if (!ace.IsAllow() && !ace.IsDeny()) continue;
      // /grant adds to what the principal has: the ACE as planned.
      MKEYS_ASSIGN_OR_RETURN(const std::string name,
                             NameFor(names, ace.sid, before, p.step->object));
      changes += fmt::format("icacls {} /{} {}\n", q, ace.IsDeny() ? "deny" : "grant",
                             IcaclsPerm(ace, name));
    }
    if (before.owner != after.owner && after.owner) {
      MKEYS_ASSIGN_OR_RETURN(const std::string name,
                             NameFor(names, *after.owner, before, p.step->object));
      owners += fmt::format("icacls {} /setowner \"{}\"\n", q, name);
    } else if (p.take_ownership && before.owner) {
      owners += fmt::format("icacls {} /setowner \"{}\"\n", q, names.Existing(*before.owner));
    }
  }
  std::string script = "@echo off\n" + Header(plan, "REM", "icacls");
  if (!ownership.empty()) {
    script +=
        "REM 1. Ownership first: Administrators are neither owner nor granted WRITE_DAC here.\n";
    script += ownership;
  }
  script += "REM 2. The ACL changes.\n" + changes;
  if (!owners.empty()) script += "REM 3. Owners as planned.\n" + owners;
  return script;
}

Result<std::string> EmitPowershellScript(const keystore::MachineRoot& root, const Plan& plan,
                                         const EmitOptions& options) {
  MKEYS_ASSIGN_OR_RETURN(const auto prepared, Prepare(root, plan, options));
  const PrincipalNames names(root, options);
  std::string script = Header(plan, "#", "powershell");
  script += "$ErrorActionPreference = 'Stop'\n";
  std::string ownership, changes, owners;
  for (const auto& p : prepared) {
    if (p.take_ownership)
      ownership += fmt::format("takeown.exe /F {} /A | Out-Null\n", PsQuote(p.path));
    // The DACL (and SACL if any) only: owners are set by icacls, which enables SeRestorePrivilege.
    acl::SecurityDescriptor access = p.sds.after;
    access.owner.reset();
    access.group.reset();
    // SDDL holds SIDs only: name each principal the step adds, and refuse unknown ones.
    std::string added;
    if (p.sds.after.dacl) {
      for (const auto& ace : p.sds.after.dacl->aces) {
        const bool existed =
            p.sds.before.dacl &&
            std::any_of(p.sds.before.dacl->aces.begin(), p.sds.before.dacl->aces.end(),
                        [&](const acl::Ace& x) { return SameAce(x, ace); });
        if (existed || ace.IsInherited() || (!ace.IsAllow() && !ace.IsDeny())) continue;
        MKEYS_ASSIGN_OR_RETURN(const std::string name,
                               NameFor(names, ace.sid, p.sds.before, p.step->object));
        added += fmt::format("#   {} {} {}\n", ace.IsDeny() ? "denies" : "grants", name,
                             acl::FormatIcaclsRights(ace.mask));
      }
    }
    changes += fmt::format(
        "# {}\n{}$acl = Get-Acl -LiteralPath {}\n"
        "$acl.SetSecurityDescriptorSddlForm({}, 'Access')\n"
        "Set-Acl -LiteralPath {} -AclObject $acl\n",
        p.step->object, added, PsQuote(p.path), PsQuote(acl::FormatSddl(access)), PsQuote(p.path));
    const auto& owner = p.sds.after.owner;
    if (owner && (p.take_ownership || p.sds.before.owner != owner)) {
      MKEYS_ASSIGN_OR_RETURN(const std::string name,
                             NameFor(names, *owner, p.sds.before, p.step->object));
      owners +=
          fmt::format("icacls.exe {} /setowner {} | Out-Null\n", PsQuote(p.path), PsQuote(name));
    }
  }
  if (!ownership.empty()) script += "# 1. Ownership first.\n" + ownership;
  script += "# 2. The ACLs.\n" + changes;
  if (!owners.empty()) script += "# 3. Owners as planned.\n" + owners;
  return script;
}

}  // namespace mkeys::repair
