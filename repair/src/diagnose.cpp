// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/diagnose.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "internal/engine.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_store.hpp"

namespace mkeys::repair {
namespace {

namespace r = acl::rights;

std::string DecidedBy(const acl::AccessCheckResult& result) {
  // The reason that decided the outcome: a deny, else the first missing right, else a grant.
  for (const auto& reason : result.reasons) {
    if (reason.kind == acl::ReasonKind::kDeniedByAce) {
      return fmt::format("ACE #{} {}", reason.ace_index.value_or(0), reason.ace_sddl);
    }
  }
  for (const auto& reason : result.reasons) {
    if ((result.granted & reason.right) == 0) return acl::ReasonText(reason);
  }
  for (const auto& reason : result.reasons) {
    if (reason.kind == acl::ReasonKind::kGrantedByAce) {
      return fmt::format("ACE #{} {}", reason.ace_index.value_or(0), reason.ace_sddl);
    }
  }
  return result.reasons.empty() ? std::string() : acl::ReasonText(result.reasons.front());
}

EvidenceItem CheckItem(std::string object, std::string check, const acl::SecurityDescriptor& sd,
                       const acl::Token& token, acl::AccessMask desired, std::string_view who,
                       std::string_view what) {
  EvidenceItem item;
  item.object = std::move(object);
  item.check = std::move(check);
  item.owner = sd.owner ? acl::DisplayName(*sd.owner) : "(no owner)";
  item.sddl = acl::FormatSddl(sd);
  const auto result = acl::CheckAccess(sd, token, desired);
  item.passed = result.allowed;
  item.decided_by = DecidedBy(result);
  item.detail = result.allowed ? fmt::format("{} may {} ({})", who, what, item.decided_by)
                               : internal::AccessSentence(result, who, what);
  return item;
}

// Traversal of every directory above the key file, descriptor by descriptor.
bool TraverseEvidence(const std::vector<internal::DirectoryState>& dirs, const acl::Token& token,
                      std::string_view who, std::vector<EvidenceItem>& out, std::string& reason) {
  const bool bypass = token.HasPrivilege(acl::privileges::kChangeNotify);
  bool ok = true;
  for (const auto& d : dirs) {
    if (!d.sd) {
      out.push_back(
          {d.label, "traverse", false, "", "", "descriptor unreadable: " + d.problem, ""});
      if (ok) reason = fmt::format("{}: descriptor unreadable ({})", d.label, d.problem);
      ok = false;
      continue;
    }
    if (bypass) {
      EvidenceItem item;
      item.object = d.label;
      item.check = "traverse";
      item.passed = true;
      item.owner = d.sd->owner ? acl::DisplayName(*d.sd->owner) : "(no owner)";
      item.decided_by = std::string(acl::privileges::kChangeNotify);
      item.detail = fmt::format("traverse check bypassed: {} holds SeChangeNotifyPrivilege", who);
      item.sddl = acl::FormatSddl(*d.sd);
      out.push_back(std::move(item));
      continue;
    }
    auto item = CheckItem(d.label, "traverse", *d.sd, token, r::kTraverse, who, "traverse");
    if (!item.passed) {
      item.detail = fmt::format("{} does not hold SeChangeNotifyPrivilege on this machine and {}",
                                who, item.detail);
      if (ok) reason = fmt::format("{}: {}", d.label, item.detail);
      ok = false;
    }
    out.push_back(std::move(item));
  }
  return ok;
}

void FillIdentity(Diagnosis& d, const acl::Token& token) {
  d.identity = token.display_name().empty() ? acl::DisplayName(token.user()) : token.display_name();
  d.identity_sid = token.user().ToString();
  d.short_name = internal::ShortName(token);
}

// The fix: the plan repair runs for this identity and container, restricted to the rules that
// govern the identity's access, and the command line that runs exactly that plan.
void AddFix(const keystore::MachineRoot& root, Diagnosis& d, const std::string& identity_arg,
            const std::string& glob, const std::vector<std::string>& files) {
  RepairOptions options;
  options.baseline.services.push_back({identity_arg, glob});
  options.only_rules = {RuleId::kFolderEveryoneMissing, RuleId::kServiceCannotRead,
                        RuleId::kDenyHitsService, RuleId::kTraverseDenied};
  options.only_files = files;
  auto plan = BuildPlan(root, options);
  if (!plan) {
    d.manual_fixes.push_back("planning the fix failed: " + plan.error().ToString());
    return;
  }
  std::vector<RuleId> used;
  for (const auto& s : plan->steps) used.insert(used.end(), s.rules.begin(), s.rules.end());
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  if (!plan->steps.empty()) {
    d.repair_command = {"mkeys", "repair", root.root().string(), "--service",
                        identity_arg + "=" + glob};
    for (RuleId id : used) {
      d.repair_command.emplace_back("--rule");
      d.repair_command.emplace_back(Rule(id).code);
    }
    d.repair_command.insert(d.repair_command.end(),
                            {"--apply", "--journal", "mkeys-repair.journal"});
  }
  d.plan = std::move(*plan);
}

}  // namespace

std::string_view WantName(Want want) {
  switch (want) {
    case Want::kRead:
      return "read";
    case Want::kWrite:
      return "write";
    case Want::kDelete:
      return "delete";
    case Want::kCreate:
      return "create";
  }
  return "read";
}

Result<Want> ParseWant(std::string_view text) {
  for (Want w : {Want::kRead, Want::kWrite, Want::kDelete, Want::kCreate}) {
    if (WantName(w) == text) return w;
  }
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("--want '{}': expected read, write, delete or create", text));
}

Result<Diagnosis> Diagnose(const keystore::MachineRoot& root, const DiagnoseRequest& request) {
  if (request.container.has_value() == request.file.has_value()) {
    return Error(ErrorCode::kInvalidArgument, "give exactly one of a container name or a file");
  }
  auto token_or = root.TokenFor(request.identity);
  if (!token_or) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--as '{}': {}", request.identity, token_or.error().message()));
  }
  const acl::Token token = std::move(*token_or);
  Diagnosis d;
  FillIdentity(d, token);
  d.machine_guid = root.machine_guid();
  std::string hash;
  if (request.container) {
    d.container = *request.container;
    d.file_name = keystore::ContainerFileName(*request.container, root.machine_guid());
    hash = keystore::ContainerHash(*request.container);
  } else {
    d.file_name = std::filesystem::path(*request.file).filename().string();
    if (auto parts = keystore::SplitContainerFileName(d.file_name)) hash = parts->hash;
  }
  if (d.file_name.empty() || d.file_name.find('/') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("'{}' is not a key file name", d.file_name));
  }
  const std::string label = keystore::MachineRoot::KeyFileLabel(d.file_name);
  const auto path = root.machine_keys_dir() / d.file_name;
  std::error_code ec;
  d.file_exists = std::filesystem::is_regular_file(std::filesystem::symlink_status(path, ec));

  Baseline baseline;
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine, internal::Engine::Create(root, baseline));
  const auto dirs = engine.ReadDirectories();
  std::vector<std::string> reasons;

  // 1. The file name and whether the file is there.
  EvidenceItem exists;
  exists.object = label;
  exists.check = "exists";
  exists.passed = d.file_exists;
  if (d.file_exists) {
    exists.detail = fmt::format("{} exists (file name from MachineGuid {})", label, d.machine_guid);
  } else {
    if (!hash.empty()) {
      for (const auto& f : keystore::FindForeignGuidFiles(root, hash)) {
        d.foreign_files.push_back(f);
        if (auto parts = keystore::SplitContainerFileName(f))
          d.foreign_guids.push_back(parts->machine_guid);
        d.findings.push_back(
            {RuleId::kForeignMachineGuid, keystore::MachineRoot::KeyFileLabel(f),
             fmt::format("the file name carries MachineGuid {}; this machine's "
                         "MachineGuid is {}",
                         d.foreign_guids.empty() ? "?" : d.foreign_guids.back(), d.machine_guid)});
      }
    }
    if (d.foreign_files.empty()) {
      exists.detail = fmt::format(
          "no such file: no container with this name exists on this "
          "machine (MachineGuid {})",
          d.machine_guid);
      d.manual_fixes.push_back(
          "create or import the container on this machine (its "
          "application's setup, or mkeys store create/import)");
    } else {
      exists.detail = fmt::format(
          "no such file, but {} exists: the same container under MachineGuid {} (a cloned "
          "image: the MachineGuid changed after the key was created)",
          d.foreign_files.front(), d.foreign_guids.front());
      d.manual_fixes.push_back(fmt::format(
          "re-create or re-import the key on this machine, or rename MachineKeys/{} to {} if the "
          "key is meant to move with the image",
          d.foreign_files.front(), d.file_name));
    }
    reasons.push_back(exists.detail);
  }
  d.evidence.push_back(exists);

  // 2. Traversal of every directory above the key file.
  std::string traverse_reason;
  const bool traverse_ok = TraverseEvidence(dirs, token, d.short_name, d.evidence, traverse_reason);
  if (!traverse_ok) reasons.push_back(traverse_reason);

  // 3. The file's descriptor and the access checks.
  std::optional<acl::SecurityDescriptor> sd;
  if (d.file_exists) {
    auto read = root.security().Read(path);
    if (!read) {
      d.evidence.push_back({label, "descriptor", false, "", "", read.error().ToString(), ""});
      reasons.push_back(fmt::format("{}: descriptor unreadable", label));
      d.findings.push_back({RuleId::kDescriptorUnreadable, label, read.error().message()});
    } else {
      sd = std::move(*read);
    }
  }
  const auto& machine_keys = dirs.back();
  if (sd) {
    for (Want want : request.wants) {
      EvidenceItem item;
      switch (want) {
        case Want::kRead:
          item = CheckItem(label, "read", *sd, token, keystore::kOpenAccess, d.short_name, "read");
          break;
        case Want::kWrite:
          item = CheckItem(label, "write", *sd, token, r::kFileGenericWrite, d.short_name, "write");
          break;
        case Want::kDelete: {
          item = CheckItem(label, "delete", *sd, token, r::kDelete, d.short_name, "delete");
          if (!item.passed && machine_keys.sd &&
              acl::CheckAccess(*machine_keys.sd, token, r::kDeleteChild).allowed) {
            item.passed = true;
            item.detail =
                fmt::format("{} may delete it: DELETE_CHILD on MachineKeys", d.short_name);
          }
          break;
        }
        case Want::kCreate:
          if (!machine_keys.sd) continue;
          item = CheckItem(machine_keys.label, "create", *machine_keys.sd, token, r::kAddFile,
                           d.short_name, "create files in");
          break;
      }
      if (!item.passed) reasons.push_back(fmt::format("{}: {}", item.object, item.detail));
      d.evidence.push_back(std::move(item));
    }
  } else if (!d.file_exists && machine_keys.sd &&
             std::find(request.wants.begin(), request.wants.end(), Want::kCreate) !=
                 request.wants.end()) {
    auto item = CheckItem(machine_keys.label, "create", *machine_keys.sd, token, r::kAddFile,
                          d.short_name, "create files in");
    if (!item.passed) reasons.push_back(fmt::format("{}: {}", item.object, item.detail));
    d.evidence.push_back(std::move(item));
  }

  // 4. The file's own integrity.
  std::string container_name;
  if (d.file_exists) {
    internal::KeyFileReader reader(root);
    auto contents = reader.Contents(d.file_name);
    const auto checked =
        engine.CheckKeyFile(d.file_name, contents, sd ? &*sd : nullptr, "descriptor unreadable");
    container_name = checked.container_name;
    EvidenceItem integrity;
    integrity.object = label;
    integrity.check = "integrity";
    integrity.passed = true;
    for (const auto& f : checked.findings) {
      if (f.rule == RuleId::kCorruptContainer || f.rule == RuleId::kNameHashMismatch ||
          f.rule == RuleId::kForeignMachineGuid || f.rule == RuleId::kNotAContainerName) {
        integrity.passed = false;
        integrity.detail += (integrity.detail.empty() ? "" : "; ") + f.evidence;
        d.findings.push_back(f);
        d.manual_fixes.emplace_back(Rule(f.rule).fix);
      }
    }
    if (integrity.passed) {
      auto file = keystore::ContainerFile::Parse(*contents);
      integrity.detail =
          file ? fmt::format("{} container \"{}\": {}", keystore::ContainerFormatName(file->format),
                             file->name, file->DescribeKeys())
               : "parsed";
    } else {
      reasons.push_back(fmt::format("{}: {}", label, integrity.detail));
    }
    if (d.container.empty()) d.container = container_name;
    d.evidence.push_back(std::move(integrity));
  }

  // Related findings on the chain (the same repair fixes them).
  for (const auto& f : engine.CheckDirectories(dirs)) {
    if (f.rule == RuleId::kFolderEveryoneMissing || f.rule == RuleId::kTraverseDenied ||
        f.rule == RuleId::kChangeNotifyRemoved || f.rule == RuleId::kDescriptorUnreadable ||
        f.rule == RuleId::kDenyHitsService) {
      d.findings.push_back(f);
    }
  }
  if (sd && !d.container.empty()) {
    Baseline with_service;
    with_service.services.push_back({request.identity, d.container});
    auto svc_engine = internal::Engine::Create(root, with_service);
    if (svc_engine) {
      std::vector<Finding> findings;
      svc_engine->CheckKeyFileDescriptor(label, d.container, *sd, findings);
      for (auto& f : findings) {
        if (f.rule == RuleId::kServiceCannotRead || f.rule == RuleId::kDenyHitsService) {
          d.findings.push_back(std::move(f));
        }
      }
    }
  }

  d.would_succeed = reasons.empty();
  if (d.would_succeed) {
    d.reason = fmt::format("{} can open {}: every check passes", d.short_name, label);
  } else {
    d.windows_code = keystore::kNteBadKeyset;
    d.windows_error = keystore::FormatWindowsCode(d.windows_code);
    d.reason = reasons.front();
    if (!d.container.empty()) {
      AddFix(root, d, request.identity, d.container,
             d.file_exists ? std::vector<std::string>{d.file_name} : std::vector<std::string>{});
      if (d.plan && d.plan->steps.empty()) d.plan.reset();
    }
  }
  std::sort(d.manual_fixes.begin(), d.manual_fixes.end());
  d.manual_fixes.erase(std::unique(d.manual_fixes.begin(), d.manual_fixes.end()),
                       d.manual_fixes.end());
  return d;
}

Result<Diagnosis> PreflightForService(const keystore::MachineRoot& root, const acl::Token& service,
                                      const PreflightOptions& options) {
  Diagnosis d;
  FillIdentity(d, service);
  d.machine_guid = root.machine_guid();
  d.container = options.container_name;
  d.file_name = keystore::ContainerFileName(options.container_name, root.machine_guid());
  MKEYS_ASSIGN_OR_RETURN(const acl::Token installer, root.TokenFor(options.installer_identity));
  Baseline baseline;
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine, internal::Engine::Create(root, baseline));
  const auto dirs = engine.ReadDirectories();
  std::vector<std::string> reasons;

  // The installer must reach MachineKeys and create files in it.
  std::vector<EvidenceItem> installer_evidence;
  std::string reason;
  const std::string installer_name = internal::ShortName(installer);
  if (!TraverseEvidence(dirs, installer, installer_name, installer_evidence, reason)) {
    reasons.push_back(reason);
    for (auto& e : installer_evidence) {
      if (!e.passed) d.evidence.push_back(std::move(e));
    }
  }
  const auto& machine_keys = dirs.back();
  if (machine_keys.sd) {
    auto create = CheckItem(machine_keys.label, "create", *machine_keys.sd, installer, r::kAddFile,
                            installer_name, "create containers in");
    if (!create.passed) reasons.push_back(fmt::format("{}: {}", create.object, create.detail));
    d.evidence.push_back(std::move(create));
  }
  // The service must be able to create containers itself, as the Windows default lets every
  // identity do (Everyone's 0x12019f on MachineKeys): services such as the TMG firewall service
  // create and replace their own keys there. Hardening that removes it is the seed's failure.
  if (machine_keys.sd && !(service.user() == installer.user())) {
    auto create = CheckItem(machine_keys.label, "create", *machine_keys.sd, service, r::kAddFile,
                            d.short_name, "create containers in");
    if (!create.passed) reasons.push_back(fmt::format("{}: {}", create.object, create.detail));
    d.evidence.push_back(std::move(create));
  }
  // The service must reach the containers and read them.
  reason.clear();
  if (!TraverseEvidence(dirs, service, d.short_name, d.evidence, reason)) reasons.push_back(reason);
  const acl::SecurityDescriptor descriptor =
      options.container_descriptor
          ? *options.container_descriptor
          : keystore::CspContainerDescriptor(installer,
                                             {acl::AllowAce(service.user(), r::kFileGenericRead)});
  auto read = CheckItem(keystore::MachineRoot::KeyFileLabel(d.file_name) + " (planned)", "read",
                        descriptor, service, keystore::kOpenAccess, d.short_name, "read");
  if (!read.passed) reasons.push_back(fmt::format("{}: {}", read.object, read.detail));
  d.evidence.push_back(std::move(read));
  for (const auto& f : engine.CheckDirectories(dirs)) {
    if (f.rule == RuleId::kFolderEveryoneMissing || f.rule == RuleId::kTraverseDenied ||
        f.rule == RuleId::kChangeNotifyRemoved || f.rule == RuleId::kDescriptorUnreadable) {
      d.findings.push_back(f);
    }
  }
  d.would_succeed = reasons.empty();
  if (d.would_succeed) {
    d.reason = fmt::format("{} can create containers and {} can reach and read them",
                           installer_name, d.short_name);
  } else {
    d.windows_code = keystore::kNteBadKeyset;
    d.windows_error = keystore::FormatWindowsCode(d.windows_code);
    d.reason = reasons.front();
    const std::string identity =
        service.display_name().empty() ? service.user().ToString() : service.display_name();
    AddFix(root, d, identity, options.container_name, {});
    if (d.plan && d.plan->steps.empty()) d.plan.reset();
  }
  return d;
}

}  // namespace mkeys::repair
