// SPDX-License-Identifier: GPL-3.0-or-later
// MK004, MK005: a declared service identity (--service IDENTITY=GLOB, the baseline) must read the
// containers its glob matches, and no deny ACE may take that from it — on the key file or on a
// directory of the chain. The access check itself is the engine's (ServiceAccess, once per
// distinct descriptor and service); these rules read it.
#include <fmt/format.h>

#include "internal/rule_helpers.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/repair/rule_definition.hpp"

namespace mkeys::repair::rules {
namespace {

using namespace internal;
using acl::Ace;
using acl::SecurityDescriptor;

// --- MK004 ---

void CheckCannotRead(RuleId self, const ServiceCheck& service, const ServiceAccess& access,
                     std::string_view object, std::string_view container_name,
                     std::vector<Finding>& out) {
  if (access.allowed) return;
  out.push_back({self, std::string(object),
                 fmt::format("container \"{}\": {}", container_name, access.sentence)});
  (void)service;
}

bool FixCannotRead(RuleId, const RuleContext& ctx, SecurityDescriptor& sd,
                   std::string_view container_name, std::span<const Finding>) {
  if (container_name.empty() || !sd.dacl) return false;
  bool changed = false;
  for (const auto& s : ctx.services) {
    if (!ctx.Covers(s, container_name)) continue;
    if (!acl::CheckAccess(sd, s.token, keystore::kOpenAccess).allowed) {
      AddGrant(sd, s.token.user(), r::kFileGenericRead);
      changed = true;
    }
  }
  return changed;
}

// --- MK005 ---

void CheckDenyOnDirectory(RuleId self, const RuleContext& ctx, std::span<const DirectoryState> dirs,
                          std::size_t i, std::vector<Finding>& out) {
  const DirectoryState& d = dirs[i];
  if (!d.sd || !d.sd->dacl) return;
  const auto& aces = d.sd->dacl->aces;
  for (const auto& s : ctx.services) {
    if (!s.declared) continue;
    for (std::size_t a = 0; a < aces.size(); ++a) {
      if (DenyHits(aces[a], s.token, kDirectoryBits)) {
        out.push_back({self, d.label,
                       fmt::format("{} denies {} traversal or listing", AceText(*d.sd->dacl, a),
                                   s.short_name)});
      }
    }
  }
}

void CheckDenyOnKeyFile(RuleId self, const ServiceCheck& service, const ServiceAccess& access,
                        std::string_view object, std::string_view container_name,
                        std::vector<Finding>& out) {
  for (const auto& ace : access.denying_aces) {
    out.push_back({self, std::string(object),
                   fmt::format("{} denies {} read of container \"{}\"", ace, service.short_name,
                               container_name)});
  }
}

bool FixDenyOnKeyFile(RuleId, const RuleContext& ctx, SecurityDescriptor& sd,
                      std::string_view container_name, std::span<const Finding>) {
  if (container_name.empty() || !sd.dacl) return false;
  const auto before = sd.dacl->aces.size();
  for (const auto& s : ctx.services) {
    if (!ctx.Covers(s, container_name)) continue;
    std::erase_if(sd.dacl->aces,
                  [&](const Ace& ace) { return DenyHits(ace, s.token, keystore::kOpenAccess); });
  }
  return sd.dacl->aces.size() != before;
}

void FixDenyOnDirectories(RuleId, const RuleContext& ctx, std::vector<DirectoryState>& dirs,
                          std::vector<bool>& changed) {
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    if (!dirs[i].sd || !dirs[i].sd->dacl) continue;
    auto& aces = dirs[i].sd->dacl->aces;
    for (const auto& s : ctx.services) {
      if (!s.declared) continue;
      const auto before = aces.size();
      std::erase_if(aces, [&](const Ace& ace) { return DenyHits(ace, s.token, kDirectoryBits); });
      if (aces.size() != before) changed[i] = true;
    }
  }
}

}  // namespace

const RuleDefinition& ServiceCannotRead() {
  static const RuleDefinition rule{
      .info = {.code = "MK004",
               .severity = Severity::kError,
               .title = "A declared service identity cannot read its container",
               .description =
                   "For every service declared with --service or in the baseline, runs the "
                   "access check CryptAcquireContext makes (FILE_GENERIC_READ) on each key file "
                   "whose container name matches the service's glob.",
               .rationale =
                   "A service that cannot read its container's file gets NTE_BAD_KEYSET "
                   "(0x80090016) as if the key did not exist: TLS bindings, token signing or "
                   "array joins fail although the key is there, usually after an ACL was "
                   "replaced or a key was imported under another account.",
               .fix = "grant the service read (A;;FR;;;<SID>) on the container file",
               .auto_fix = true},
      .check_service = &CheckCannotRead,
      .fix_key_file = &FixCannotRead,
      .fix_rank = 70};
  return rule;
}

const RuleDefinition& DenyHitsService() {
  static const RuleDefinition rule{
      .info = {.code = "MK005",
               .severity = Severity::kError,
               .title = "A deny ACE hits a declared service identity",
               .description =
                   "Looks for deny ACEs that match a declared service's token and take read "
                   "from its key files, or traversal or listing from a directory of the chain "
                   "(ProgramData to MachineKeys).",
               .rationale =
                   "A deny ACE wins over every grant before it in canonical order, so it keeps "
                   "the service from its key whatever else the DACL says; such ACEs are often "
                   "left by hardening scripts aimed at Everyone or Users, which the service "
                   "account's token also holds.",
               .fix = "remove the deny ACE",
               .auto_fix = true},
      .check_directory = &CheckDenyOnDirectory,
      .check_service = &CheckDenyOnKeyFile,
      .fix_key_file = &FixDenyOnKeyFile,
      .fix_directories = &FixDenyOnDirectories,
      .fix_rank = 60};
  return rule;
}

}  // namespace mkeys::repair::rules
