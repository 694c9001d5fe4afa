#pragma once
// The rules themselves: checks and fixes over one object at a time, shared by diagnose, audit
// and repair. Private to the repair library.

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair::internal {

using RuleSet = std::array<bool, kRuleCount>;
RuleSet AllRules();
RuleSet RulesFrom(const std::vector<RuleId>& ids);  // empty: every auto-fixable rule
inline bool Has(const RuleSet& set, RuleId id) { return set[static_cast<std::size_t>(id)]; }

struct ServiceCheck {
  ServiceDeclaration declaration;
  acl::Token token;
  std::string short_name;  // "NETWORK SERVICE"
  bool declared = true;    // false: checked for traversal only (MK013 defaults)
};

// "NETWORK SERVICE" for S-1-5-20, the display name otherwise.
std::string ShortName(const acl::Token& token);
// "no ACE grants NETWORK SERVICE read", "ACE #1 (D;;FR;;;NS) denies NETWORK SERVICE read", ...
std::string AccessSentence(const acl::AccessCheckResult& result, std::string_view who,
                           std::string_view what);

// One directory of the chain above a key file.
struct DirectoryState {
  std::filesystem::path path;
  std::string label;  // relative to the root
  std::vector<std::uint8_t> raw;
  std::optional<acl::SecurityDescriptor> sd;  // nullopt: unreadable (error in `problem`)
  std::string problem;
};

// Reads a key file's contents and descriptor with as few system calls as possible; one per
// thread.
class KeyFileReader final {
 public:
  KeyFileReader(const keystore::MachineRoot& root);
  KeyFileReader(const KeyFileReader&) = delete;
  KeyFileReader& operator=(const KeyFileReader&) = delete;
  ~KeyFileReader();

  // The key file's descriptor attribute, then its bytes (each valid until the next call of the
  // same method). Both come from one openat(): fgetxattr on the open file saves the path walk a
  // getxattr by name costs, which dominates a scan. Call Descriptor first, then Contents (which
  // closes the file).
  Result<std::span<const std::uint8_t>> Descriptor(std::string_view file_name);
  Result<std::span<const std::uint8_t>> Contents(std::string_view file_name);

 private:
  void OpenFile(std::string_view file_name);
  void CloseFile();
  int dir_fd_ = -1;
  int file_fd_ = -1;
  int open_errno_ = 0;
  std::string open_name_;
  std::string attribute_;
  keystore::RawDescriptorReader reader_;
  std::vector<std::uint8_t> buffer_;
  std::vector<std::uint8_t> sd_buffer_;
};

class Engine final {
 public:
  // Tokens for the declared services (and the default service identities for MK013).
  static Result<Engine> Create(const keystore::MachineRoot& root, const Baseline& baseline);

  const keystore::MachineRoot& root() const { return *root_; }
  const Baseline& baseline() const { return baseline_; }
  const std::vector<ServiceCheck>& services() const { return services_; }

  // Reads the directory chain (ProgramData ... MachineKeys).
  std::vector<DirectoryState> ReadDirectories() const;
  // Findings on the chain (MK001-3, MK005, MK007, MK013) and machine-wide (MK014).
  std::vector<Finding> CheckDirectories(const std::vector<DirectoryState>& dirs) const;
  // Applies the fixes of `rules` to the chain; returns, per directory, the rules that changed
  // it (empty: unchanged) and updates dirs[i].sd in place.
  std::vector<std::vector<RuleId>> FixDirectories(std::vector<DirectoryState>& dirs,
                                                  const RuleSet& rules) const;

  // Findings on one key file. `container_name` receives the name stored in the file ("" when it
  // cannot be read).
  struct KeyFileResult {
    std::vector<Finding> findings;
    std::string container_name;
  };
  KeyFileResult CheckKeyFile(std::string_view file_name,
                             const Result<std::span<const std::uint8_t>>& contents,
                             const acl::SecurityDescriptor* sd, std::string_view sd_problem) const;
  // Descriptor-only findings of one key file (MK004-7, MK011-12).
  void CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                              const acl::SecurityDescriptor& sd,
                              std::vector<Finding>& out) const;
  // Applies the fixes of `rules` to a key file's descriptor; returns the rules that changed it.
  std::vector<RuleId> FixKeyFile(acl::SecurityDescriptor& sd, std::string_view container_name,
                                 const RuleSet& rules) const;

  // Services whose glob matches `container_name`.
  bool AnyServiceFor(std::string_view container_name) const;

 private:
  Engine() = default;
  const keystore::MachineRoot* root_ = nullptr;
  Baseline baseline_;
  std::vector<ServiceCheck> services_;
  std::vector<acl::Sid> expected_owners_;
  std::optional<acl::Sid> machine_domain_;  // S-1-5-21-a-b-c of the machine's local accounts
};

// Streams every key file of `root` through `work(worker, file_name)` on `threads` workers (a
// bounded queue between the readdir and the workers). `progress` is called from this thread.
Result<std::uint64_t> ParallelScan(const keystore::MachineRoot& root, std::size_t threads,
                                   const std::function<void(std::size_t, std::string_view)>& work,
                                   const std::function<void(std::uint64_t)>& progress);
std::size_t ThreadCount(std::size_t requested);

}  // namespace mkeys::repair::internal
