// SPDX-License-Identifier: GPL-3.0-or-later
// MK040: a LocalMachine\My certificate whose private key file is not on disk.
#include <fmt/format.h>

#include "internal/cert_facts.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void Check(RuleId self, const RuleContext& ctx, std::span<const DirectoryState>,
           std::vector<Finding>& out) {
  for (const auto& f : internal::ReadCertKeyFacts(*ctx.root)) {
    if (!f.location || !f.location->on_disk || f.key_file_exists) continue;
    out.push_back(
        {self, f.object,
         fmt::format("certificate {} names key '{}' of {}: {} does not exist", f.cert.subject,
                     f.cert.key->container, f.location->provider, f.location->target->label)});
  }
}

}  // namespace

const RuleDefinition& CertificateKeyMissing() {
  static const RuleDefinition rule{
      .info = {.code = "MK040",
               .severity = Severity::kError,
               .title = "Certificate's private key file is missing",
               .description =
                   "Follows each LocalMachine\\My certificate's key-provider information "
                   "(CERT_KEY_PROV_INFO) to its key file in RSA/MachineKeys, DSS/MachineKeys or "
                   "Crypto/Keys and reports certificates whose file does not exist.",
               .rationale =
                   "The certificate still shows a private key in certlm, but every open of it "
                   "fails with NTE_BAD_KEYSET (\"Keyset does not exist\"): a key deleted by a "
                   "cleanup, an image built without Crypto/Keys, a renewal that failed half-way.",
               .fix = "re-import the certificate with its private key (the .pfx), or renew it",
               .auto_fix = false},
      .check_chain = &Check};
  return rule;
}

}  // namespace mkeys::repair::rules
