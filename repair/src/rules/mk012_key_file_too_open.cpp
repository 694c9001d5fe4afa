// SPDX-License-Identifier: GPL-3.0-or-later
// MK012: a key file readable or writable by a broad group (Everyone, Users, Authenticated Users,
// Anonymous, Guests), or with no DACL at all.
#include <algorithm>

#include <fmt/format.h>

#include "internal/rule_helpers.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using namespace internal;
using acl::Ace;
using acl::SecurityDescriptor;

// An allow ACE on the object that gives a broad group the key's bytes.
bool OpensKeyData(const Ace& ace) {
  return ace.IsAllow() && AppliesToObject(ace) && IsBroadSid(ace.sid) &&
         (acl::MapGeneric(ace.mask) & kKeyDataBits) != 0;
}

void Check(RuleId self, const RuleContext&, const SecurityDescriptor& sd, DescriptorFindings& out) {
  if (!sd.dacl) {
    out.emplace_back(self, sd.HasDacl() ? "NULL DACL: everyone has full control of the key"
                                        : "no DACL: everyone has full control of the key");
    return;
  }
  for (std::size_t i = 0; i < sd.dacl->aces.size(); ++i) {
    const Ace& ace = sd.dacl->aces[i];
    if (!OpensKeyData(ace)) continue;
    const acl::AccessMask mapped = acl::MapGeneric(ace.mask);
    const bool reads = (mapped & r::kReadData) != 0;
    const bool writes = (mapped & (r::kWriteData | r::kAppendData)) != 0;
    out.emplace_back(
        self, fmt::format("{} lets {} {} the key", AceText(*sd.dacl, i), acl::DisplayName(ace.sid),
                          reads && writes ? "read and write"
                          : reads         ? "read"
                                          : "write"));
  }
}

bool Fix(RuleId self, const RuleContext&, SecurityDescriptor& sd, std::string_view,
         std::span<const Finding> found) {
  if (std::none_of(found.begin(), found.end(), [&](const Finding& f) { return f.rule == self; })) {
    return false;
  }
  if (!sd.dacl) {
    acl::Acl dacl;
    dacl.aces = {acl::AllowAce(acl::sids::LocalSystem(), r::kFileAllAccess),
                 acl::AllowAce(acl::sids::Administrators(), r::kFileAllAccess)};
    sd.SetDacl(std::move(dacl));
    sd.control |= acl::sd_control::kDaclProtected;
  } else {
    std::erase_if(sd.dacl->aces, OpensKeyData);
  }
  return true;
}

}  // namespace

const RuleDefinition& KeyFileTooOpen() {
  static const RuleDefinition rule{
      .info = {.code = "MK012",
               .severity = Severity::kWarning,
               .title = "Key file readable or writable by Everyone, Users or Authenticated Users",
               .description =
                   "Looks for allow ACEs on a key file that give Everyone, Users, Authenticated "
                   "Users, Anonymous or Guests read or write of its data, and for key files "
                   "with a NULL or missing DACL.",
               .rationale =
                   "A machine key's private part is protected by the machine's DPAPI secret, "
                   "which any local account can use: whoever can read the file can use or "
                   "export the private key, and whoever can write it can replace the key.",
               .fix = "remove the ACEs that open the key file to everyone",
               .auto_fix = true},
      .check_descriptor = &Check,
      .fix_key_file = &Fix,
      .fix_rank = 50};
  return rule;
}

}  // namespace mkeys::repair::rules
