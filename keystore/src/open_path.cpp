// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/open_path.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "internal/key_file_io.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/cng_key_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_store.hpp"

namespace mkeys::keystore {
namespace {

namespace r = acl::rights;

// Why a file's name or bytes stop the open, in the order a reader notices them.
std::vector<std::string> IntegrityProblems(const KeyFileVerdict& v, const OpenTarget& t,
                                           std::string_view machine_guid) {
  std::vector<std::string> out;
  if (v.not_a_container_name) {
    out.emplace_back("the name is not <32 hex digits>_<MachineGuid>: no open finds it");
  } else if (v.foreign_machine_guid) {
    const auto parts = SplitContainerFileName(t.file_name);
    out.push_back(fmt::format(
        "the file name carries MachineGuid {}; this machine's MachineGuid is {}: no open finds it",
        parts ? parts->machine_guid : std::string("?"), machine_guid));
  }
  if (v.corrupt) out.push_back("key file corrupt: " + v.problem);
  if (v.cng && t.kind == StoreKind::kCapiMachineKeys) {
    out.push_back(
        fmt::format("a CNG key file in the CAPI store (key \"{}\", {}): "
                    "CryptAcquireContext cannot open it; CNG keys live in Crypto/Keys",
                    v.cng->name, v.cng->DescribeKey()));
  }
  if (v.name_hash_mismatch && v.cng) {
    out.push_back(
        fmt::format("the file holds CNG key \"{}\", whose hash is {}; the file name says {}",
                    v.name(), CngKeyHash(v.name()), t.file_name.substr(0, 32)));
  } else if (v.name_hash_mismatch) {
    out.push_back(
        fmt::format("the file holds container \"{}\", whose hash is {}; the file name says {}",
                    v.name(), ContainerHash(v.name()), t.file_name.substr(0, 32)));
  }
  if (!v.corrupt && !v.private_keys_unchecked.empty()) {
    out.push_back("the private keys cannot be decrypted here: " + v.private_keys_unchecked);
  }
  return out;
}

// Steps are added through this, which records the first failure.
class Walk {
 public:
  Walk(const MachineRoot& root, OpenPath& path, const acl::Token& token, const WalkOptions& options)
      : root_(root), path_(path), token_(token), options_(options) {}

  void Run();

 private:
  const MachineRoot& root_;
  OpenPath& path_;
  const acl::Token& token_;
  const WalkOptions& options_;

  bool Stopped() const { return options_.stop_at_first_failure && !path_.ok(); }
  void Add(OpenStep step, ErrorCode failure, std::string reason);
  void ReadDirectories();
  void Traverse();
  void TraverseStep(std::size_t i, const acl::TraverseResult* blocked, bool bypassed);
  int OpenFile();
  void CheckIntents();
  void CheckIntent(OpenIntent intent);
  void CheckContents(int fd);
  OpenStep AccessStep(std::string object, std::string check, std::size_t object_index,
                      acl::AccessMask desired) const;
};

// A key file on a disk image: its bytes in a private memory file, read like an open file.
bool OpenImageKeyFile(const MachineRoot& root, const std::filesystem::path& file, int& fd,
                      std::string& problem) {
  fd = -1;
  auto exists = root.volume().Exists(file);
  if (!exists || !*exists) {
    if (!exists) problem = exists.error().message();
    return false;
  }
  auto copy = CopyToPrivateFile(root.volume(), file, internal::kMaxKeyFileBytes);
  if (!copy) {
    problem = copy.error().message();
    return false;
  }
  fd = copy->Release();
  ::lseek(fd, 0, SEEK_SET);
  return true;
}

void Walk::Add(OpenStep step, ErrorCode failure, std::string reason) {
  if (!step.passed) step.failure = std::move(reason);
  if (!step.passed && path_.ok()) {
    path_.failed_step = path_.steps.size();
    path_.windows_code = kNteBadKeyset;
    path_.failure = failure;
    path_.reason = step.failure;
  }
  path_.steps.push_back(std::move(step));
}

void Walk::ReadDirectories() {
  if (options_.known_directories != nullptr &&
      options_.known_directories->size() == path_.target.directories.size()) {
    path_.objects = *options_.known_directories;
    return;
  }
  for (const auto& dir : path_.target.directories) {
    PathObject obj;
    obj.path = dir;
    obj.label = root_.Relative(dir);
    auto raw = root_.security().ReadRaw(dir);
    if (!raw) {
      obj.problem = raw.error().message();
    } else {
      obj.raw = std::move(raw).value();
      auto sd = root_.security().DecodeRaw(obj.raw);
      if (sd) {
        obj.descriptor = std::move(sd).value();
      } else {
        obj.problem =
            fmt::format("{} is malformed: {}", root_.security().attribute(), sd.error().ToString());
      }
    }
    path_.objects.push_back(std::move(obj));
  }
}

OpenStep Walk::AccessStep(std::string object, std::string check, std::size_t object_index,
                          acl::AccessMask desired) const {
  const acl::SecurityDescriptor& sd = *path_.objects[object_index].descriptor;
  OpenStep step;
  step.kind = StepKind::kAccess;
  step.object = std::move(object);
  step.check = std::move(check);
  step.object_index = object_index;
  step.access = acl::CheckAccess(sd, token_, desired);
  step.passed = step.access->allowed;
  step.decided_by = DecidedBy(*step.access);
  step.detail = step.access->Sentence(token_, step.check, sd);
  return step;
}

// One directory's traverse step: `blocked` is CheckTraverse's answer when it stopped here.
void Walk::TraverseStep(std::size_t i, const acl::TraverseResult* blocked, bool bypassed) {
  const PathObject& dir = path_.objects[i];
  OpenStep step;
  step.kind = StepKind::kTraverse;
  step.object = dir.label;
  step.check = "traverse";
  step.object_index = i;
  if (!dir.descriptor) {
    step.detail = "descriptor unreadable: " + dir.problem;
    Add(std::move(step), ErrorCode::kCorrupt,
        fmt::format("cannot read the descriptor of {}: {}", dir.label, dir.problem));
    return;
  }
  if (bypassed) {
    step.passed = true;
    step.decided_by = std::string(acl::privileges::kChangeNotify);
    step.detail = fmt::format("traverse check bypassed: {} holds SeChangeNotifyPrivilege",
                              acl::TokenShortName(token_));
    Add(std::move(step), ErrorCode::kInternal, {});
    return;
  }
  if (blocked != nullptr) {
    step.access = blocked->blocking_check;
  } else {  // passed: the evidence of which ACE let it through
    step.access = acl::CheckAccess(*dir.descriptor, token_, r::kTraverse);
  }
  step.passed = step.access->allowed;
  step.decided_by = DecidedBy(*step.access);
  step.detail = step.access->Sentence(token_, "traverse", *dir.descriptor);
  std::string reason;
  if (!step.passed) {
    step.detail += " (and the token lacks SeChangeNotifyPrivilege)";
    reason = fmt::format("traverse denied at {}: {}", dir.label, step.detail);
  }
  Add(std::move(step), ErrorCode::kAccessDenied, std::move(reason));
}

// acl::CheckTraverse decides; a diagnosis resumes after a blocking directory to show the rest.
void Walk::Traverse() {
  const std::size_t n = path_.objects.size();
  std::size_t start = 0;
  while (start < n && !Stopped()) {
    std::vector<const acl::SecurityDescriptor*> sds;
    for (std::size_t i = start; i < n; ++i) {
      const auto& d = path_.objects[i].descriptor;
      sds.push_back(d ? &*d : nullptr);
    }
    const acl::TraverseResult result = acl::CheckTraverse(sds, token_);
    const std::size_t end = result.blocked_at ? start + *result.blocked_at : n;
    for (std::size_t i = start; i <= end && i < n && !Stopped(); ++i) {
      TraverseStep(i, i == end ? &result : nullptr, result.bypassed);
    }
    start = end + 1;
  }
}

int Walk::OpenFile() {
  const auto& t = path_.target;
  const std::filesystem::path file = t.directories.back() / t.file_name;
  int fd = -1;
  std::string problem;
  path_.file_exists = root_.is_image() ? OpenImageKeyFile(root_, file, fd, problem)
                                       : internal::OpenKeyFile(file, fd, problem);
  OpenStep step;
  step.kind = StepKind::kExists;
  step.object = t.label;
  step.check = "exists";
  step.passed = path_.file_exists;
  if (path_.file_exists) {
    step.detail =
        fmt::format("{} exists (file name from MachineGuid {})", t.label, root_.machine_guid());
    Add(std::move(step), ErrorCode::kInternal, {});
    return fd;
  }
  if (!problem.empty()) {
    step.detail = problem;
    Add(std::move(step), ErrorCode::kIo, problem);
    return -1;
  }
  if (!t.hash.empty()) path_.foreign_files = FindForeignGuidFiles(root_, t.hash);
  const std::string what =
      t.container.empty() ? t.label : fmt::format("container '{}'", t.container);
  if (path_.foreign_files.empty()) {
    step.detail =
        fmt::format("no such key file: {} does not exist on this machine (MachineGuid {})", what,
                    root_.machine_guid());
  } else {
    const auto parts = SplitContainerFileName(path_.foreign_files.front());
    step.detail = fmt::format(
        "no key file for {} under this machine's MachineGuid {}; a file for it exists under "
        "another MachineGuid {}: MachineKeys/{} (a cloned image or a changed MachineGuid)",
        what, root_.machine_guid(), parts ? parts->machine_guid : std::string("?"),
        path_.foreign_files.front());
  }
  std::string reason = step.detail;
  Add(std::move(step), ErrorCode::kNotFound, std::move(reason));
  return -1;
}

void Walk::CheckIntent(OpenIntent intent) {
  const std::size_t dir = path_.target.directories.size() - 1;
  const std::size_t file = path_.objects.size() - 1;
  const bool have_file = path_.file_exists && file > dir && path_.objects[file].descriptor;
  const bool have_dir = path_.objects[dir].descriptor.has_value();
  const std::string check(OpenIntentName(intent));
  OpenStep step;
  switch (intent) {
    case OpenIntent::kRead:
    case OpenIntent::kWrite:
      if (!have_file) return;
      step = AccessStep(path_.target.label, check, file,
                        intent == OpenIntent::kRead ? kOpenAccess : r::kFileGenericWrite);
      break;
    case OpenIntent::kDelete:
      if (!have_file) return;
      step = AccessStep(path_.target.label, check, file, r::kDelete);
      if (!step.passed && have_dir) {
        const auto child =
            acl::CheckAccess(*path_.objects[dir].descriptor, token_, r::kDeleteChild);
        if (child.allowed) {
          step.passed = true;
          step.decided_by = "DELETE_CHILD on " + path_.objects[dir].label;
          step.detail = fmt::format("{} may delete it: DELETE_CHILD on {}",
                                    acl::TokenShortName(token_), path_.objects[dir].label);
        }
      }
      break;
    case OpenIntent::kCreate:
      if (!have_dir) return;
      step = AccessStep(path_.objects[dir].label, check, dir, r::kAddFile);
      break;
  }
  std::string reason =
      step.passed ? std::string() : fmt::format("{} denied: {}", check, step.detail);
  Add(std::move(step), ErrorCode::kAccessDenied, std::move(reason));
}

void Walk::CheckIntents() {
  for (OpenIntent intent : options_.intents) {
    if (Stopped()) return;
    CheckIntent(intent);
  }
}

void Walk::CheckContents(int fd) {
  const auto& t = path_.target;
  OpenStep step;
  step.kind = StepKind::kIntegrity;
  step.object = t.label;
  step.check = "integrity";
  std::string problem;
  if (!internal::ReadOpenKeyFile(fd, path_.contents, problem)) {
    step.detail = problem;
    Add(std::move(step), ErrorCode::kIo, problem);
    return;
  }
  if (t.kind == StoreKind::kCngKeys && !LooksLikeCngKeyFile(path_.contents)) {
    auto parsed = ParseCngKeyFile(path_.contents);
    if (parsed) {
      step.detail = fmt::format("unknown format: not a CNG key file (type word {})",
                                CngTypeName(parsed->type));
    } else if (parsed.error().code() == ErrorCode::kUnsupported) {
      step.detail = parsed.error().ToString();
    } else {
      step.detail = "key file corrupt: " + parsed.error().ToString();
    }
    std::string reason = step.detail;
    Add(std::move(step), ErrorCode::kCorrupt, std::move(reason));
    return;
  }
  KeyFileChecker checker(root_);
  path_.integrity = checker.Check(t.unique_name.empty() ? t.file_name : t.unique_name,
                                  path_.contents, options_.unseal_keys ? &path_.keys : nullptr);
  const KeyFileVerdict& v = *path_.integrity;
  const std::vector<std::string> problems = IntegrityProblems(v, t, root_.machine_guid());
  step.passed = problems.empty();
  if (step.passed && v.cng) {
    step.detail = fmt::format("CNG key \"{}\" ({}): {}; private key {}", v.cng->name,
                              CngTypeName(v.cng->type), v.cng->DescribeKey(),
                              CngProtectionName(v.cng->private_key_protection));
  } else if (step.passed) {
    step.detail = fmt::format("{} container \"{}\": {}", ContainerFormatName(v.file->format),
                              v.name(), v.file->DescribeKeys());
  }
  for (const auto& p : problems) step.detail += (step.detail.empty() ? "" : "; ") + p;
  std::string reason = step.passed ? std::string() : step.detail;
  Add(std::move(step),
      v.corrupt || v.private_keys_unchecked.empty() ? ErrorCode::kCorrupt : ErrorCode::kUnsupported,
      std::move(reason));
}

void Walk::Run() {
  ReadDirectories();
  Traverse();
  if (Stopped()) return;
  const int fd = OpenFile();
  internal::FdCloser closer{fd};
  if (fd >= 0) {
    PathObject file;
    file.path = path_.target.directories.back() / path_.target.file_name;
    file.label = path_.target.label;
    file.is_directory = false;
    auto raw = root_.security().ReadRawFd(fd, file.path);
    if (raw) {
      file.raw = std::move(raw).value();
      auto sd = root_.security().DecodeRaw(file.raw);
      if (sd) {
        file.descriptor = std::move(sd).value();
      } else {
        file.problem =
            fmt::format("{} is malformed: {}", root_.security().attribute(), sd.error().ToString());
      }
    } else {
      file.problem = raw.error().message();
    }
    path_.objects.push_back(std::move(file));
    if (!path_.objects.back().descriptor) {
      OpenStep step;
      step.kind = StepKind::kDescriptor;
      step.object = path_.target.label;
      step.check = "descriptor";
      step.object_index = path_.objects.size() - 1;
      step.detail = path_.objects.back().problem;
      Add(std::move(step), ErrorCode::kCorrupt,
          "the key file's descriptor is unreadable: " + path_.objects.back().problem);
    }
  }
  if (Stopped()) return;
  CheckIntents();
  if (fd >= 0 && options_.check_contents && !Stopped()) CheckContents(fd);
}

}  // namespace

std::string_view OpenIntentName(OpenIntent intent) {
  switch (intent) {
    case OpenIntent::kRead:
      return "read";
    case OpenIntent::kWrite:
      return "write";
    case OpenIntent::kDelete:
      return "delete";
    case OpenIntent::kCreate:
      return "create";
  }
  return "read";
}

Result<OpenTarget> ResolveCapiContainer(const MachineRoot& root, std::string_view name) {
  MKEYS_TRY(ValidateContainerName(name));
  OpenTarget t;
  t.container.assign(name);
  // A unique container name (<hash>_<MachineGuid>, as certificates' key-provider info names
  // their keys) is the file name already: never hashed again.
  t.file_name = IsUniqueKeyFileName(name) ? text::ToLowerAscii(name)
                                          : ContainerFileName(name, root.machine_guid());
  t.label = MachineRoot::KeyFileLabel(t.file_name);
  t.directories = root.store_directories();
  t.hash = t.file_name.substr(0, 32);
  return t;
}

Result<OpenTarget> ResolveCapiKeyFile(const MachineRoot& root, std::string_view file) {
  OpenTarget t;
  t.file_name = std::filesystem::path(file).filename().string();
  if (t.file_name.empty() || t.file_name == "." || t.file_name == "..") {
    return Error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a key file name", file));
  }
  t.label = MachineRoot::KeyFileLabel(t.file_name);
  t.directories = root.store_directories();
  if (auto parts = SplitContainerFileName(t.file_name)) t.hash = parts->hash;
  return t;
}

Error OpenPath::ToError() const {
  return Error(failure, fmt::format("{}: {}", FormatWindowsCode(windows_code), reason))
      .On(target.label)
      .WithWindowsCode(windows_code);
}

const acl::SecurityDescriptor* OpenPath::FileDescriptor() const {
  if (!file_exists || objects.size() <= target.directories.size()) return nullptr;
  const auto& d = objects.back().descriptor;
  return d ? &*d : nullptr;
}

const acl::AccessCheckResult* OpenPath::AccessFor(std::string_view check) const {
  for (const auto& s : steps) {
    if (s.kind == StepKind::kAccess && s.check == check && s.access) return &*s.access;
  }
  return nullptr;
}

OpenPath WalkOpenPath(const MachineRoot& root, OpenTarget target, const acl::Token& token,
                      const WalkOptions& options) {
  OpenPath path;
  path.target = std::move(target);
  Walk(root, path, token, options).Run();
  return path;
}

std::string DecidedBy(const acl::AccessCheckResult& result) {
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

}  // namespace mkeys::keystore
