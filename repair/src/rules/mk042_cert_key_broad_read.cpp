// SPDX-License-Identifier: GPL-3.0-or-later
// MK042: a certificate's private key readable by a broad group (Everyone, Users, Authenticated
// Users, IIS_IUSRS — the last is every application pool).
#include <fmt/format.h>

#include "internal/cert_facts.hpp"
#include "mkeys/acl/access_mask.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

// S-1-1-0, S-1-5-32-545, S-1-5-11, S-1-5-32-568.
bool IsBroad(const acl::Sid& sid) {
  const std::string s = sid.ToString();
  return s == "S-1-1-0" || s == "S-1-5-32-545" || s == "S-1-5-11" || s == "S-1-5-32-568";
}

void Check(RuleId self, const RuleContext& ctx, std::span<const DirectoryState>,
           std::vector<Finding>& out) {
  namespace r = acl::rights;
  for (const auto& f : internal::ReadCertKeyFacts(*ctx.root)) {
    if (!f.key_descriptor || !f.key_descriptor->dacl) continue;
    std::string groups;
    for (const auto& ace : f.key_descriptor->dacl->aces) {
      if (ace.type != acl::AceType::kAccessAllowed || ace.IsInheritOnly()) continue;
      if ((ace.mask & (r::kReadData | r::kGenericRead | r::kGenericAll)) == 0) continue;
      if (!IsBroad(ace.sid)) continue;
      groups += (groups.empty() ? "" : ", ") + acl::DisplayName(ace.sid);
    }
    if (groups.empty()) continue;
    out.push_back({self, f.object,
                   fmt::format("the private key of {} ({}) is readable by {}", f.cert.subject,
                               f.location->target->label, groups)});
  }
}

}  // namespace

const RuleDefinition& CertificateKeyTooOpen() {
  static const RuleDefinition rule{
      .info = {.code = "MK042",
               .severity = Severity::kWarning,
               .title = "Certificate's private key readable by a broad group",
               .description =
                   "Checks the key file of each LocalMachine\\My certificate for ACEs that let "
                   "Everyone, Users, Authenticated Users or IIS_IUSRS read it.",
               .rationale =
                   "Granting IIS_IUSRS (every application pool) or Users read on a TLS key, the "
                   "usual quick fix for \"Keyset does not exist\", lets every site or user on the "
                   "machine use or export the key.",
               .fix = "remove the broad ACE and grant the one identity that needs the key "
                      "(mkeys cert grant ROOT --cert THUMBPRINT --to 'IIS APPPOOL\\<pool>')",
               .auto_fix = false},
      .check_chain = &Check};
  return rule;
}

}  // namespace mkeys::repair::rules
