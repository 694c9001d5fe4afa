// SPDX-License-Identifier: GPL-3.0-or-later
// MK006: a key file owned by an account that should not own keys (or by a SID nothing resolves).
#include <algorithm>

#include <fmt/format.h>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using acl::SecurityDescriptor;
using acl::Sid;

// Owners every key file may have, beyond the machine's and the baseline's: SYSTEM,
// Administrators, LOCAL/NETWORK SERVICE, TrustedInstaller, NT SERVICE\* and IIS APPPOOL\*.
bool IsWellKnownOwner(const Sid& owner) {
  static const Sid kOwners[] = {acl::sids::LocalSystem(), acl::sids::Administrators(),
                                acl::sids::LocalService(), acl::sids::NetworkService(),
                                acl::sids::TrustedInstaller()};
  return std::find(std::begin(kOwners), std::end(kOwners), owner) != std::end(kOwners) ||
         (owner.authority() == 5 && owner.sub_authority_count() >= 1 &&
          (owner.sub_authorities()[0] == 80 || owner.sub_authorities()[0] == 82));
}

bool IsExpectedOwner(const RuleContext& ctx, const Sid& owner) {
  const auto& expected = ctx.expected_owners;
  return IsWellKnownOwner(owner) ||
         std::find(expected.begin(), expected.end(), owner) != expected.end() ||
         (ctx.machine_domain && owner.IsInDomain(*ctx.machine_domain)) ||
         std::any_of(ctx.services.begin(), ctx.services.end(),
                     [&](const ServiceCheck& s) { return s.declared && s.token.user() == owner; });
}

void Check(RuleId self, const RuleContext& ctx, const SecurityDescriptor& sd,
           DescriptorFindings& out) {
  if (!sd.owner) {
    out.emplace_back(self, "the descriptor has no owner");
    return;
  }
  const Sid& owner = *sd.owner;
  if (IsExpectedOwner(ctx, owner)) return;
  if (!acl::LookupSid(owner)) {
    out.emplace_back(self, fmt::format("owner {} cannot be resolved (a deleted or foreign account)",
                                       owner.ToString()));
  } else {
    out.emplace_back(self,
                     fmt::format("owner {} is not SYSTEM, Administrators or a service account",
                                 acl::DisplayName(owner)));
  }
}

bool Fix(RuleId self, const RuleContext&, SecurityDescriptor& sd, std::string_view,
         std::span<const Finding> found) {
  if (std::none_of(found.begin(), found.end(), [&](const Finding& f) { return f.rule == self; })) {
    return false;
  }
  sd.owner = acl::sids::LocalSystem();
  return true;
}

}  // namespace

const RuleDefinition& UnexpectedOwner() {
  static const RuleDefinition rule{
      .info = {.code = "MK006",
               .severity = Severity::kWarning,
               .title = "Key file owned by an unexpected or unresolvable SID",
               .description =
                   "Checks each key file's owner against SYSTEM, Administrators, the service "
                   "accounts (LOCAL/NETWORK SERVICE, NT SERVICE\\*, IIS APPPOOL\\*), "
                   "TrustedInstaller, the machine's own accounts, the declared services and the "
                   "baseline's expected_owners.",
               .rationale =
                   "The owner may always rewrite the DACL (WRITE_DAC), so an unexpected owner "
                   "can grant itself the private key at any time; an owner SID nothing resolves "
                   "is a deleted or foreign account, typical of keys copied from another "
                   "machine or left by removed software.",
               .fix = "make SYSTEM the owner",
               .auto_fix = true},
      .check_descriptor = &Check,
      .fix_key_file = &Fix,
      .fix_rank = 80};
  return rule;
}

}  // namespace mkeys::repair::rules
