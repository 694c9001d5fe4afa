// SPDX-License-Identifier: GPL-3.0-or-later
// MK041: a CNG key file in Crypto/Keys that no LocalMachine\My certificate refers to (report
// only: mkeys never deletes keys).
#include <algorithm>

#include <fmt/format.h>

#include "internal/cert_facts.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

void Check(RuleId self, const RuleContext& ctx, std::span<const DirectoryState>,
           std::vector<Finding>& out) {
  auto keys = keystore::ListKeyDirectory(*ctx.root, keystore::KeyDirectory::kCngKeys);
  if (!keys || keys->empty()) return;
  const auto facts = internal::ReadCertKeyFacts(*ctx.root);
  for (const auto& k : *keys) {
    const bool referenced = std::any_of(facts.begin(), facts.end(), [&](const auto& f) {
      return f.location && f.location->on_disk &&
             text::EqualsIgnoreAsciiCase(f.location->target->file_name, k.file_name);
    });
    if (referenced) continue;
    out.push_back({self, k.label,
                   fmt::format("CNG key '{}' ({}) is not the key of any LocalMachine\\My "
                               "certificate",
                               k.name.empty() ? "?" : k.name,
                               k.algorithm.empty() ? "unknown algorithm" : k.algorithm)});
  }
}

}  // namespace

const RuleDefinition& OrphanedKeyFile() {
  static const RuleDefinition rule{
      .info = {.code = "MK041",
               .severity = Severity::kNote,
               .title = "CNG key file that no certificate refers to",
               .description = "Lists the key files in Crypto/Keys whose name no LocalMachine\\My "
                              "certificate's key-provider information resolves to.",
               .rationale =
                   "Keys left behind by deleted or renewed certificates keep private material on "
                   "disk; some belong to applications that use CNG keys without a certificate, "
                   "so this is reported only.",
               .fix = "check which application owns the key before removing it; mkeys never "
                      "deletes keys",
               .auto_fix = false},
      .check_chain = &Check};
  return rule;
}

}  // namespace mkeys::repair::rules
