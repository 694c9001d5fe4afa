// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/diagnose.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "internal/engine.hpp"
#include "internal/plan_known.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/open_path.hpp"

namespace mkeys::repair {
namespace {

namespace r = acl::rights;

// A step of the open path as the diagnosis shows it.
EvidenceItem ItemOf(const keystore::OpenPath& path, const keystore::OpenStep& step) {
  EvidenceItem item;
  item.object = step.object;
  item.check = step.check;
  item.passed = step.passed;
  item.decided_by = step.decided_by;
  item.detail = step.detail;
  if (step.object_index) {
    const auto& obj = path.objects[*step.object_index];
    if (obj.descriptor) {
      const auto& sd = *obj.descriptor;
      item.owner = sd.owner ? acl::DisplayName(*sd.owner) : "(no owner)";
      item.sddl = acl::FormatSddl(sd);
    }
  }
  return item;
}

// The directory chain as the rules read it, from what the walk read.
std::vector<internal::DirectoryState> DirectoriesOf(const keystore::OpenPath& path) {
  std::vector<internal::DirectoryState> dirs;
  for (std::size_t i = 0; i < path.target.directories.size() && i < path.objects.size(); ++i) {
    const auto& obj = path.objects[i];
    dirs.push_back({obj.path, obj.label, obj.raw, obj.descriptor, obj.problem, {}, {}, {}, false});
  }
  return dirs;
}

// What the walk read, for planning without reading it again.
internal::KnownObjects KnownOf(const keystore::OpenPath& path) {
  internal::KnownObjects known;
  known.directories = DirectoriesOf(path);
  if (known.directories.size() != path.target.directories.size()) known.directories.clear();
  if (path.file_exists && path.objects.size() > path.target.directories.size()) {
    const auto& file = path.objects.back();
    known.file_name = path.target.file_name;
    if (file.descriptor || !file.raw.empty()) {
      known.descriptor_raw = file.raw;
    } else {
      known.descriptor_problem = file.problem;
    }
    if (path.integrity) known.contents = std::span<const std::uint8_t>(path.contents);
  }
  return known;
}

keystore::OpenIntent IntentOf(Want want) {
  switch (want) {
    case Want::kRead:
      return keystore::OpenIntent::kRead;
    case Want::kWrite:
      return keystore::OpenIntent::kWrite;
    case Want::kDelete:
      return keystore::OpenIntent::kDelete;
    case Want::kCreate:
      return keystore::OpenIntent::kCreate;
  }
  return keystore::OpenIntent::kRead;
}

void FillIdentity(Diagnosis& d, const acl::Token& token) {
  d.identity = token.display_name().empty() ? acl::DisplayName(token.user()) : token.display_name();
  d.identity_sid = token.user().ToString();
  d.short_name = acl::TokenShortName(token);
}

// The fix: the plan repair runs for this identity and container, restricted to the rules that
// govern the identity's access, and the command line that runs exactly that plan.
// `known`: what the walk read (planning then reads nothing again).
void AddFix(const keystore::MachineRoot& root, Diagnosis& d, const std::string& identity_arg,
            const std::string& glob, const std::vector<std::string>& files,
            const internal::KnownObjects& known) {
  RepairOptions options;
  options.baseline.services.push_back({identity_arg, glob});
  options.only_rules = {RuleId::kFolderEveryoneMissing, RuleId::kServiceCannotRead,
                        RuleId::kDenyHitsService, RuleId::kTraverseDenied};
  options.only_files = files;
  auto engine = internal::Engine::Create(root, options.baseline);
  auto plan = engine ? internal::BuildPlanFrom(root, options, *engine, known)
                     : Result<Plan>(engine.error());
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

namespace {

// The existence step's consequences: the same hash under other MachineGuids, manual fixes.
void AddMissingFile(const keystore::OpenPath& path, Diagnosis& d) {
  for (const auto& f : path.foreign_files) {
    d.foreign_files.push_back(f);
    const auto parts = keystore::SplitContainerFileName(f);
    d.foreign_guids.push_back(parts ? parts->machine_guid : std::string("?"));
    d.findings.push_back({RuleId::kForeignMachineGuid, keystore::MachineRoot::KeyFileLabel(f),
                          fmt::format("the file name carries MachineGuid {}; this machine's "
                                      "MachineGuid is {}",
                                      d.foreign_guids.back(), d.machine_guid)});
  }
  if (d.foreign_files.empty()) {
    d.manual_fixes.push_back(
        "create or import the container on this machine (its "
        "application's setup, or mkeys store create/import)");
  } else {
    d.manual_fixes.push_back(fmt::format(
        "re-create or re-import the key on this machine, or rename MachineKeys/{} to {} if the "
        "key is meant to move with the image",
        d.foreign_files.front(), d.file_name));
  }
}

// The rule findings the key file's own name and bytes raise (the verdict of the one check).
void AddIntegrityFindings(const keystore::OpenPath& path, Diagnosis& d) {
  if (!path.integrity) return;
  const auto& v = *path.integrity;
  const std::string& label = path.target.label;
  auto add = [&](RuleId rule, std::string evidence) {
    d.findings.push_back({rule, label, std::move(evidence)});
    d.manual_fixes.emplace_back(Rule(rule).fix);
  };
  if (v.not_a_container_name) {
    add(RuleId::kNotAContainerName, "the name is not <32 hex digits>_<MachineGuid>");
  } else if (v.foreign_machine_guid) {
    const auto parts = keystore::SplitContainerFileName(d.file_name);
    add(RuleId::kForeignMachineGuid,
        fmt::format("the file name carries MachineGuid {}; this machine's MachineGuid is {}",
                    parts ? parts->machine_guid : std::string("?"), d.machine_guid));
  }
  if (v.corrupt) add(RuleId::kCorruptContainer, v.problem);
  if (v.name_hash_mismatch) {
    add(RuleId::kNameHashMismatch,
        fmt::format("the file holds container \"{}\", whose hash is {}; the file name says {}",
                    v.name(), keystore::ContainerHash(v.name()), d.file_name.substr(0, 32)));
  }
}

// Findings on the chain and on the file's descriptor that the same repair fixes.
Result<void> AddRelatedFindings(const keystore::MachineRoot& root, const DiagnoseRequest& request,
                                const keystore::OpenPath& path, Diagnosis& d) {
  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine, internal::Engine::Create(root, {}));
  for (const auto& f : engine.CheckDirectories(DirectoriesOf(path))) {
    if (f.rule == RuleId::kFolderEveryoneMissing || f.rule == RuleId::kTraverseDenied ||
        f.rule == RuleId::kChangeNotifyRemoved || f.rule == RuleId::kDescriptorUnreadable ||
        f.rule == RuleId::kDenyHitsService) {
      d.findings.push_back(f);
    }
  }
  if (path.file_exists && path.FileDescriptor() == nullptr) {
    d.findings.push_back(
        {RuleId::kDescriptorUnreadable, path.target.label, path.objects.back().problem});
  }
  const acl::SecurityDescriptor* sd = path.FileDescriptor();
  if (sd == nullptr || d.container.empty()) return Ok();
  Baseline with_service;
  with_service.services.push_back({request.identity, d.container});
  auto svc_engine = internal::Engine::Create(root, with_service);
  if (!svc_engine) return Ok();
  std::vector<Finding> findings;
  svc_engine->CheckKeyFileDescriptor(path.target.label, d.container, *sd, findings);
  for (auto& f : findings) {
    if (f.rule == RuleId::kServiceCannotRead || f.rule == RuleId::kDenyHitsService) {
      d.findings.push_back(std::move(f));
    }
  }
  return Ok();
}

// Whether a descriptor change can help: some traverse or access step failed.
bool AccessFailed(const keystore::OpenPath& path) {
  return std::any_of(path.steps.begin(), path.steps.end(), [](const keystore::OpenStep& s) {
    return !s.passed &&
           (s.kind == keystore::StepKind::kTraverse || s.kind == keystore::StepKind::kAccess);
  });
}

}  // namespace

Result<Diagnosis> Diagnose(const keystore::MachineRoot& root, const DiagnoseRequest& request) {
  if (int(request.container.has_value()) + int(request.file.has_value()) +
          int(request.target.has_value()) !=
      1) {
    return Error(ErrorCode::kInvalidArgument, "give exactly one of a container name or a file");
  }
  auto token_or = root.TokenFor(request.identity);
  if (!token_or) {
    // An identity the machine does not know is an input error (exit 3), as in every command.
    return Error(token_or.error().code(),
                 fmt::format("--as '{}': {}", request.identity, token_or.error().message()));
  }
  const acl::Token token = std::move(*token_or);
  MKEYS_ASSIGN_OR_RETURN(auto target, request.target ? Result<keystore::OpenTarget>(*request.target)
                                      : request.container
                                          ? keystore::ResolveCapiContainer(root, *request.container)
                                          : keystore::ResolveKeyFileAnywhere(root, *request.file));
  keystore::WalkOptions options;
  options.stop_at_first_failure = false;
  options.intents.clear();
  for (Want want : request.wants) options.intents.push_back(IntentOf(want));
  const keystore::OpenPath path = keystore::WalkOpenPath(root, std::move(target), token, options);

  Diagnosis d;
  FillIdentity(d, token);
  d.machine_guid = root.machine_guid();
  d.file_name = path.target.file_name;
  d.container = request.container ? *request.container
                : request.target && !request.target->container.empty()
                    ? request.target->container
                    : std::string(path.integrity ? path.integrity->name() : std::string_view());
  d.file_exists = path.file_exists;
  for (const auto& step : path.steps) d.evidence.push_back(ItemOf(path, step));
  if (!path.file_exists) AddMissingFile(path, d);
  AddIntegrityFindings(path, d);
  MKEYS_TRY(AddRelatedFindings(root, request, path, d));

  d.would_succeed = path.ok();
  if (d.would_succeed) {
    d.reason = fmt::format("{} can open {}: every check passes", d.short_name, path.target.label);
  } else {
    d.windows_code = path.windows_code;
    d.windows_error = keystore::FormatWindowsCode(d.windows_code);
    d.reason = path.reason;
    // The plan fixes descriptors: built only when an access or traverse check failed.
    if (!d.container.empty() && AccessFailed(path)) {
      AddFix(root, d, request.identity, d.container,
             d.file_exists ? std::vector<std::string>{d.file_name} : std::vector<std::string>{},
             KnownOf(path));
      if (d.plan && d.plan->steps.empty()) d.plan.reset();
    }
  }
  std::sort(d.manual_fixes.begin(), d.manual_fixes.end());
  d.manual_fixes.erase(std::unique(d.manual_fixes.begin(), d.manual_fixes.end()),
                       d.manual_fixes.end());
  return d;
}

namespace {

// The walk of `token` towards a probe container: traverse, then ADD_FILE on MachineKeys.
keystore::OpenPath WalkToCreate(const keystore::MachineRoot& root,
                                const keystore::OpenTarget& target, const acl::Token& token,
                                const std::vector<keystore::PathObject>* known) {
  keystore::WalkOptions walk;
  walk.intents = {keystore::OpenIntent::kCreate};
  walk.stop_at_first_failure = false;
  walk.check_contents = false;
  walk.known_directories = known;
  return keystore::WalkOpenPath(root, target, token, walk);
}

// The steps of `path` of `kind` into the evidence (only the failing ones with `failed_only`),
// their failures into `reasons`.
void TakeSteps(const keystore::OpenPath& path, keystore::StepKind kind, bool failed_only,
               Diagnosis& d, std::vector<std::string>& reasons) {
  for (const auto& step : path.steps) {
    if (step.kind != kind || (failed_only && step.passed)) continue;
    d.evidence.push_back(ItemOf(path, step));
    if (!step.passed) reasons.push_back(step.failure);
  }
}

// The service reading a container that carries `sd` (checked on the descriptor, before any
// file exists).
EvidenceItem PlannedRead(const Diagnosis& d, const acl::SecurityDescriptor& sd,
                         const acl::Token& service) {
  const auto check = acl::CheckAccess(sd, service, keystore::kOpenAccess);
  EvidenceItem item;
  item.object = keystore::MachineRoot::KeyFileLabel(d.file_name) + " (planned)";
  item.check = "read";
  item.passed = check.allowed;
  item.owner = sd.owner ? acl::DisplayName(*sd.owner) : "(no owner)";
  item.decided_by = keystore::DecidedBy(check);
  item.detail = check.Sentence(service, "read", sd);
  item.sddl = acl::FormatSddl(sd);
  return item;
}

}  // namespace

Result<Diagnosis> PreflightForService(const keystore::MachineRoot& root, const acl::Token& service,
                                      const PreflightOptions& options) {
  Diagnosis d;
  FillIdentity(d, service);
  d.machine_guid = root.machine_guid();
  d.container = options.container_name;
  MKEYS_ASSIGN_OR_RETURN(const acl::Token installer, root.TokenFor(options.installer_identity));
  MKEYS_ASSIGN_OR_RETURN(auto target, keystore::ResolveCapiContainer(root, options.container_name));
  target.hash.clear();  // a probe: nothing to look for under other MachineGuids
  d.file_name = target.file_name;
  std::vector<std::string> reasons;

  // The installer must reach MachineKeys and create files in it.
  const auto as_installer = WalkToCreate(root, target, installer, nullptr);
  const std::vector<keystore::PathObject> dirs(
      as_installer.objects.begin(),
      as_installer.objects.begin() + static_cast<std::ptrdiff_t>(std::min(
                                         as_installer.objects.size(), target.directories.size())));
  TakeSteps(as_installer, keystore::StepKind::kTraverse, true, d, reasons);
  TakeSteps(as_installer, keystore::StepKind::kAccess, false, d, reasons);
  // The service must be able to create containers itself, as the Windows default lets every
  // identity do (Everyone's 0x12019f on MachineKeys): services such as the TMG firewall service
  // create and replace their own keys there. Hardening that removes it is the seed's failure.
  // And it must reach the containers and read them.
  const auto as_service = WalkToCreate(root, target, service, &dirs);
  if (!(service.user() == installer.user())) {
    TakeSteps(as_service, keystore::StepKind::kAccess, false, d, reasons);
  }
  TakeSteps(as_service, keystore::StepKind::kTraverse, false, d, reasons);
  const acl::SecurityDescriptor descriptor =
      options.container_descriptor
          ? *options.container_descriptor
          : keystore::CspContainerDescriptor(installer,
                                             {acl::AllowAce(service.user(), r::kFileGenericRead)});
  auto read = PlannedRead(d, descriptor, service);
  if (!read.passed) reasons.push_back(fmt::format("{}: read denied: {}", read.object, read.detail));
  d.evidence.push_back(std::move(read));

  MKEYS_ASSIGN_OR_RETURN(const internal::Engine engine, internal::Engine::Create(root, {}));
  for (const auto& f : engine.CheckDirectories(DirectoriesOf(as_installer))) {
    if (f.rule == RuleId::kFolderEveryoneMissing || f.rule == RuleId::kTraverseDenied ||
        f.rule == RuleId::kChangeNotifyRemoved || f.rule == RuleId::kDescriptorUnreadable) {
      d.findings.push_back(f);
    }
  }
  d.would_succeed = reasons.empty();
  if (d.would_succeed) {
    d.reason = fmt::format("{} can create containers and {} can reach and read them",
                           acl::TokenShortName(installer), d.short_name);
  } else {
    d.windows_code = keystore::kNteBadKeyset;
    d.windows_error = keystore::FormatWindowsCode(d.windows_code);
    d.reason = reasons.front();
    const std::string identity =
        service.display_name().empty() ? service.user().ToString() : service.display_name();
    AddFix(root, d, identity, options.container_name, {}, KnownOf(as_installer));
    if (d.plan && d.plan->steps.empty()) d.plan.reset();
  }
  return d;
}

}  // namespace mkeys::repair
