// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The rules themselves: checks and fixes over one object at a time, shared by diagnose, audit
// and repair. Private to the repair library.

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
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
inline bool Has(const RuleSet& set, RuleId id) {
  return set[static_cast<std::size_t>(id)];
}

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

using SharedBytes = std::shared_ptr<const std::vector<std::uint8_t>>;

// What the rules conclude about one service and one descriptor (MK004, MK005 on a key file).
struct ServiceVerdict {
  std::vector<std::string> denying_aces;  // AceText of every ACE that denies the service read
  bool allowed = true;                    // the access check grants kOpenAccess
  std::string sentence;                   // AccessSentence when not allowed
  std::string owner_name;                 // the descriptor's owner, when not allowed
};

// Everything the key-file rules conclude from one descriptor alone. A store holds few distinct
// descriptors, so a scan computes this once per distinct attribute value (DescriptorCache)
// rather than once per file; only the findings that name the file or its container are
// formatted per file.
struct DescriptorVerdict {
  SharedBytes raw;                            // the attribute exactly as stored
  std::optional<acl::SecurityDescriptor> sd;  // nullopt: `error` says why it does not decode
  std::optional<Error> error;
  // Findings that depend only on the descriptor (MK006, MK007, MK011, MK012), in the order
  // CheckKeyFileDescriptor reports them.
  std::vector<std::pair<RuleId, std::string>> findings;
  // Per service (index into Engine::services()), computed when a container first needs it.
  std::vector<std::optional<ServiceVerdict>> services;
  // Memo of the fix (filled by the planner): per set of matching services and rules.
  struct Fix {
    std::uint64_t services_mask = 0;
    RuleSet rules{};
    std::vector<RuleId> applied;
    SharedBytes after;
    std::optional<std::string> why;  // when it names no container
  };
  std::vector<Fix> fixes;
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
                              const acl::SecurityDescriptor& sd, std::vector<Finding>& out) const;
  // The same findings from a verdict (DescriptorCache), which computes the per-service checks
  // on first use.
  void CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                              DescriptorVerdict& verdict, std::vector<Finding>& out) const;
  // CheckKeyFile with the descriptor's verdict (nullptr: unreadable, `sd_problem` says why).
  KeyFileResult CheckKeyFile(std::string_view file_name,
                             const Result<std::span<const std::uint8_t>>& contents,
                             DescriptorVerdict* verdict, std::string_view sd_problem) const;
  // Fills a verdict's descriptor-only part from its `sd`.
  void Judge(DescriptorVerdict& verdict) const;
  // Bit i set: services()[i] is declared and its glob matches `container_name`. All bits when
  // there are more than 64 services (callers then do not memoise).
  std::uint64_t ServicesFor(std::string_view container_name) const;
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

  const ServiceVerdict& ServiceFor(DescriptorVerdict& verdict, std::size_t service) const;
  void AddKeyFileFindings(std::string_view file_name, std::string& label,
                          const Result<std::span<const std::uint8_t>>& contents,
                          KeyFileResult& result) const;
};

// Verdicts by raw descriptor bytes, for one thread. Bounded: past kMaxEntries distinct values
// it judges each further one afresh (a store where every descriptor differs gains nothing).
class DescriptorCache final {
 public:
  static constexpr std::size_t kMaxEntries = 4096;
  DescriptorCache(const Engine& engine, const keystore::ReadOnlySecurityStore& store)
      : engine_(&engine), store_(&store) {}
  DescriptorCache(const DescriptorCache&) = delete;
  DescriptorCache& operator=(const DescriptorCache&) = delete;

  // The verdict on `raw`, decoded with the store's format. Valid until the next call.
  DescriptorVerdict& Get(std::span<const std::uint8_t> raw);

 private:
  const Engine* engine_;
  const keystore::ReadOnlySecurityStore* store_;
  std::unordered_map<std::string_view, std::unique_ptr<DescriptorVerdict>> map_;
  std::unique_ptr<DescriptorVerdict> scratch_;
};

// Streams every key file of `root` through `work(worker, file_name)` on `threads` workers (a
// bounded queue between the readdir and the workers). `progress` is called from this thread.
Result<std::uint64_t> ParallelScan(const keystore::MachineRoot& root, std::size_t threads,
                                   const std::function<void(std::size_t, std::string_view)>& work,
                                   const std::function<void(std::uint64_t)>& progress);
std::size_t ThreadCount(std::size_t requested);

}  // namespace mkeys::repair::internal
