// SPDX-License-Identifier: GPL-3.0-or-later
// MK043: a service or application pool declared with --service (or in the baseline) that cannot
// read the private key of its LocalMachine\My certificate. The declaration's glob names the
// certificate: its key name, thumbprint, subject or the subject's common name
// ("IIS APPPOOL\Shop=shop.example.com"). Keys in RSA/MachineKeys whose container the glob
// matches are MK004's (the scan judges those files itself); this rule covers the rest, CNG keys
// in Crypto/Keys above all.
#include <fmt/format.h>

#include "internal/cert_facts.hpp"
#include "mkeys/acl/access_check.hpp"
#include "mkeys/keystore/open_path.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

// The common name of an RFC 2253 subject ("CN=shop.example.com,O=Shop" -> "shop.example.com").
std::string CommonName(std::string_view subject) {
  std::size_t at = 0;
  while (at < subject.size()) {
    std::size_t end = subject.find(',', at);
    if (end == std::string_view::npos) end = subject.size();
    const std::string_view part = subject.substr(at, end - at);
    if (part.size() > 3 && (part[0] == 'C' || part[0] == 'c') &&
        (part[1] == 'N' || part[1] == 'n') && part[2] == '=') {
      return std::string(part.substr(3));
    }
    at = end + 1;
  }
  return {};
}

bool CoversCertificate(const ServiceCheck& s, const keystore::Certificate& cert) {
  const std::string& glob = s.declaration.container_glob;
  const std::string cn = CommonName(cert.subject);
  return GlobMatch(glob, cert.thumbprint) || GlobMatch(glob, cert.subject) ||
         (!cn.empty() && GlobMatch(glob, cn)) ||
         (cert.key && !cert.key->container.empty() && GlobMatch(glob, cert.key->container));
}

void Check(RuleId self, const RuleContext& ctx, std::span<const DirectoryState>,
           std::vector<Finding>& out) {
  bool any_declared = false;
  for (const auto& s : ctx.services) any_declared = any_declared || s.declared;
  if (!any_declared) return;
  for (const auto& f : internal::ReadCertKeyFacts(*ctx.root)) {
    // A missing key is MK040's; an unreadable descriptor is reported by the key's own checks.
    if (!f.location || !f.location->on_disk || !f.key_file_exists || !f.key_descriptor) continue;
    const auto& target = *f.location->target;
    for (const auto& s : ctx.services) {
      if (!s.declared || !CoversCertificate(s, f.cert)) continue;
      if (target.directories.back() == ctx.root->machine_keys_dir() &&
          ctx.Covers(s, f.cert.key->container)) {
        continue;  // MK004 judges this file
      }
      const auto check = acl::CheckAccess(*f.key_descriptor, s.token, keystore::kOpenAccess);
      if (check.allowed) continue;
      out.push_back({self, f.object,
                     fmt::format("{} cannot read the private key of {} ({}, {}): {}; opening it "
                                 "fails with NTE_BAD_KEYSET (0x80090016)",
                                 s.short_name, f.cert.subject, target.label,
                                 f.location->provider.empty() ? "?" : f.location->provider,
                                 check.Sentence(s.token, "read", *f.key_descriptor))});
    }
  }
}

}  // namespace

const RuleDefinition& ServiceCannotReadCertKey() {
  static const RuleDefinition rule{
      .info = {.code = "MK043",
               .severity = Severity::kError,
               .title = "A declared service cannot read its certificate's private key",
               .description =
                   "For every service or application pool declared with --service or in the "
                   "baseline, finds the LocalMachine\\My certificates its glob names (key name, "
                   "thumbprint, subject or the subject's common name) and runs the access check "
                   "an open of the key makes (FILE_GENERIC_READ) on the key file: CNG keys in "
                   "Crypto/Keys, CAPI keys in RSA or DSS MachineKeys.",
               .rationale =
                   "An IIS application pool or service that cannot read its certificate's key "
                   "gets \"Keyset does not exist\" (NTE_BAD_KEYSET) on every TLS handshake or "
                   "signature although certlm shows the private key: the usual result of an "
                   "import under another account, a renewal that dropped the custom ACL, or a "
                   "hardening.",
               .fix = "grant the identity read on the key: mkeys cert grant ROOT --cert "
                      "THUMBPRINT --to IDENTITY --rights R (journaled; --emit icacls|powershell "
                      "for the live server)",
               .auto_fix = false},
      .check_chain = &Check};
  return rule;
}

}  // namespace mkeys::repair::rules
