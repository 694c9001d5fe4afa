// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The scanning engine: gathers the facts about each object (directory chain, key files) and runs
// the registered rules' checks and fixes over them. Shared by diagnose, audit and repair. The
// rules themselves are in repair/src/rules/; the I/O in key_file_reader.hpp, the threads in
// parallel_scan.hpp. Private to the repair library.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "internal/key_file_reader.hpp"
#include "internal/parallel_scan.hpp"
#include "internal/registry.hpp"
#include "internal/rule_helpers.hpp"
#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/keystore/key_file_check.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/rule_definition.hpp"
#include "mkeys/repair/rules.hpp"

namespace mkeys::repair::internal {

using repair::DirectoryState;
using repair::ServiceCheck;
using ServiceVerdict = ServiceAccess;
using SharedBytes = std::shared_ptr<const std::vector<std::uint8_t>>;

// Everything the key-file rules conclude from one descriptor alone. A store holds few distinct
// descriptors, so a scan computes this once per distinct attribute value (DescriptorCache)
// rather than once per file; only the findings that name the file or its container are
// formatted per file.
struct DescriptorVerdict {
  SharedBytes raw;                            // the attribute exactly as stored
  std::optional<acl::SecurityDescriptor> sd;  // nullopt: `error` says why it does not decode
  std::optional<Error> error;
  DescriptorFindings findings;  // the check_descriptor hooks', in check order
  // Per service (index into Engine::services()), computed when a container first needs it.
  std::vector<std::optional<ServiceAccess>> services;
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
  // Tokens for the declared services (and the default service identities for MK013), and the
  // registered rules' hooks.
  static Result<Engine> Create(const keystore::MachineRoot& root, const Baseline& baseline);

  const keystore::MachineRoot& root() const { return *state_->context.root; }
  const Baseline& baseline() const { return state_->baseline; }
  const std::vector<ServiceCheck>& services() const { return state_->context.services; }
  const RuleContext& context() const { return state_->context; }

  // Reads the directory chain (ProgramData ... MachineKeys).
  std::vector<DirectoryState> ReadDirectories() const;
  // Findings on the chain (MK001-3, MK005, MK007, MK013, MK016) and machine-wide (MK014).
  std::vector<Finding> CheckDirectories(const std::vector<DirectoryState>& dirs) const;
  // Applies the fixes of `rules` to the chain; returns, per directory, the rules that changed
  // it (empty: unchanged) and updates dirs[i].sd in place.
  std::vector<std::vector<RuleId>> FixDirectories(std::vector<DirectoryState>& dirs,
                                                  const RuleSet& rules) const;
  // Findings on the store as a whole (MK015), after a scan of `key_files` files.
  std::vector<Finding> CheckStore(std::uint64_t key_files) const;

  // Findings on one key file. `container_name` receives the name stored in the file ("" when it
  // cannot be read).
  struct KeyFileResult {
    std::vector<Finding> findings;
    std::string container_name;
  };
  KeyFileResult CheckKeyFile(std::string_view file_name,
                             const Result<std::span<const std::uint8_t>>& contents,
                             const acl::SecurityDescriptor* sd, std::string_view sd_problem) const;
  // CheckKeyFile with the descriptor's verdict (nullptr: unreadable, `sd_problem` says why).
  KeyFileResult CheckKeyFile(std::string_view file_name,
                             const Result<std::span<const std::uint8_t>>& contents,
                             DescriptorVerdict* verdict, std::string_view sd_problem) const;
  // Descriptor-only findings of one key file (MK004-7, MK011-12).
  void CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                              const acl::SecurityDescriptor& sd, std::vector<Finding>& out) const;
  // The same findings from a verdict (DescriptorCache), which computes the per-service checks
  // on first use.
  void CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                              DescriptorVerdict& verdict, std::vector<Finding>& out) const;
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
  template <class F>
  using Hooks = std::vector<std::pair<RuleId, F>>;
  struct State {
    Baseline baseline;
    std::optional<keystore::KeyFileChecker> checker;  // one per scan: the master key read once
    RuleContext context;
    Hooks<decltype(RuleDefinition::check_directory)> check_directory;
    Hooks<decltype(RuleDefinition::check_chain)> check_chain;
    Hooks<decltype(RuleDefinition::check_key_file)> check_key_file;
    Hooks<decltype(RuleDefinition::check_descriptor)> check_descriptor;
    Hooks<decltype(RuleDefinition::check_service)> check_service;
    Hooks<decltype(RuleDefinition::check_store)> check_store;
    Hooks<decltype(RuleDefinition::fix_key_file)> fix_key_file;        // in fix order
    Hooks<decltype(RuleDefinition::fix_directories)> fix_directories;  // in fix order
  };
  Engine() = default;
  void CollectHooks();
  Result<void> MakeContext(const keystore::MachineRoot& root);
  const ServiceAccess& ServiceFor(DescriptorVerdict& verdict, std::size_t service) const;
  void JudgeDescriptor(const acl::SecurityDescriptor& sd, DescriptorFindings& out) const;
  void AddServiceFindings(std::string_view label, std::string_view container_name,
                          const ServiceCheck& service, const ServiceAccess& access,
                          std::vector<Finding>& out) const;
  std::unique_ptr<State> state_;
};

// What the access check says about `service` on `sd` (MK004, MK005 read it).
ServiceAccess JudgeService(const acl::SecurityDescriptor& sd, const ServiceCheck& service);

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

}  // namespace mkeys::repair::internal
