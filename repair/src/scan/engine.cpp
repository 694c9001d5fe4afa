// SPDX-License-Identifier: GPL-3.0-or-later
// The engine: gathers facts and runs the registered rules' hooks over them.
#include "internal/engine.hpp"

#include <fcntl.h>

#include <algorithm>

#include <fmt/format.h>

#include "internal/key_file_class.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/keystore/key_store.hpp"

namespace mkeys::repair {

bool RuleContext::Covers(const ServiceCheck& service, std::string_view container_name) const {
  return service.declared && GlobMatch(service.declaration.container_glob, container_name);
}

bool RuleContext::IsMachineKeys(const DirectoryState& dir) const {
  return dir.path == root->machine_keys_dir();
}

namespace internal {

// --- Creation: the context and the hooks -----------------------------------------------------

Result<Engine> Engine::Create(const keystore::MachineRoot& root, const Baseline& baseline) {
  Engine engine;
  engine.state_ = std::make_unique<State>();
  engine.state_->baseline = baseline;
  MKEYS_TRY(engine.MakeContext(root));
  engine.state_->checker.emplace(root);
  engine.CollectHooks();
  return engine;
}

namespace {

// The service accounts every machine runs services as: checked for traversal (MK013).
void AddDefaultServices(const keystore::MachineRoot& root, std::vector<ServiceCheck>& services) {
  for (const char* identity : {"NT AUTHORITY\\NETWORK SERVICE", "NT AUTHORITY\\LOCAL SERVICE"}) {
    auto token = root.TokenFor(identity);
    if (!token) continue;
    const bool known = std::any_of(services.begin(), services.end(), [&](const ServiceCheck& s) {
      return s.token.user() == token->user();
    });
    if (!known) services.push_back({{identity, ""}, *token, acl::TokenShortName(*token), false});
  }
}

// The machine's own accounts (the built-in Administrator, local users) own containers they
// create; their SIDs share the machine's account domain.
std::optional<acl::Sid> MachineDomain(const keystore::MachineRoot& root) {
  auto admin = root.TokenFor("administrator");
  if (!admin) return std::nullopt;
  const acl::Sid& user = admin->user();
  if (user.authority() != 5 || user.sub_authority_count() != 5 || user.sub_authorities()[0] != 21)
    return std::nullopt;
  const auto subs = user.sub_authorities();
  return acl::Sid::Of(5, {21, subs[1], subs[2], subs[3]});
}

}  // namespace

Result<void> Engine::MakeContext(const keystore::MachineRoot& root) {
  RuleContext& ctx = state_->context;
  ctx.root = &root;
  ctx.baseline = &state_->baseline;
  for (const auto& decl : state_->baseline.services) {
    auto token = root.TokenFor(decl.identity);
    if (!token) {
      return Error(  // unknown: kNotFound, an input error (exit 3) as in every command
          token.error().code(),
          fmt::format("service identity '{}': {}", decl.identity, token.error().message()));
    }
    ctx.services.push_back({decl, *token, acl::TokenShortName(*token), true});
  }
  AddDefaultServices(root, ctx.services);
  ctx.machine_domain = MachineDomain(root);
  for (const auto& owner : state_->baseline.expected_owners) {
    auto name = acl::ResolveName(owner);
    if (!name) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("baseline expected_owners: '{}': {}",
                                                            owner, name.error().message()));
    }
    ctx.expected_owners.push_back(name->sid);
  }
  return Ok();
}

void Engine::CollectHooks() {
  State& s = *state_;
  const auto add = [](auto& hooks, RuleId id, auto fn) {
    if (fn != nullptr) hooks.emplace_back(id, fn);
  };
  for (RuleId id : CheckOrder()) {
    const RuleDefinition& rule = Definition(id);
    add(s.check_directory, id, rule.check_directory);
    add(s.check_chain, id, rule.check_chain);
    add(s.check_key_file, id, rule.check_key_file);
    add(s.check_descriptor, id, rule.check_descriptor);
    add(s.check_service, id, rule.check_service);
    add(s.check_store, id, rule.check_store);
  }
  for (RuleId id : FixOrder()) {
    const RuleDefinition& rule = Definition(id);
    add(s.fix_key_file, id, rule.fix_key_file);
    add(s.fix_directories, id, rule.fix_directories);
  }
}

bool Engine::AnyServiceFor(std::string_view container_name) const {
  const auto& services = state_->context.services;
  return std::any_of(services.begin(), services.end(), [&](const ServiceCheck& s) {
    return state_->context.Covers(s, container_name);
  });
}

std::uint64_t Engine::ServicesFor(std::string_view container_name) const {
  const auto& services = state_->context.services;
  if (services.size() > 64) return ~std::uint64_t{0};
  std::uint64_t mask = 0;
  if (container_name.empty()) return mask;
  for (std::size_t i = 0; i < services.size(); ++i) {
    if (state_->context.Covers(services[i], container_name)) mask |= std::uint64_t{1} << i;
  }
  return mask;
}

namespace {
// The security store's words for an attribute it could not read (permission, I/O): not a
// missing ("no security descriptor") or malformed one.
bool DescriptorReadFailed(std::string_view problem) {
  return problem.starts_with("cannot read extended attribute");
}

// The target of the symlink `link` (relative to the root), read without following it.
keystore::LinkDescription LinkBeneath(const files::RootDir& root, const std::string& link) {
  const auto slash = link.rfind('/');
  const std::string parent = slash == std::string::npos ? "" : link.substr(0, slash);
  const std::string name = slash == std::string::npos ? link : link.substr(slash + 1);
  auto dir = root.OpenBeneath(parent, O_RDONLY | O_DIRECTORY);
  return dir ? keystore::DescribeLink(dir->get(), name.c_str()) : keystore::LinkDescription{};
}
}  // namespace

// --- The directory chain ---------------------------------------------------------------------

std::vector<DirectoryState> Engine::ReadDirectories() const {
  const keystore::MachineRoot& r = root();
  std::vector<DirectoryState> dirs;
  // Each directory opened beneath the root: a symlink on the way is reported, never followed.
  auto root_dir = files::RootDir::Open(r.root().string());
  for (const auto& path : r.store_directories()) {
    DirectoryState d;
    d.path = path;
    d.label = r.Relative(path);
    // (A disk image's volume resolves its own paths: read by path there.)
    auto raw = r.is_image() ? r.security().ReadRaw(path)
               : root_dir   ? r.security().ReadRawBeneath(*root_dir, d.label)
                            : Result<std::vector<std::uint8_t>>(root_dir.error());
    if (r.is_image()) {  // a junction or symlink in the chain, as a mount shows it (MK031)
      if (!dirs.empty() && !dirs.back().link.empty()) {
        d.link = dirs.back().link;
        d.link_target = dirs.back().link_target;
        d.link_kind = dirs.back().link_kind;
      } else if (auto st = r.volume().Lstat(path); st && st->is_symlink) {
        d.link = d.label;
        d.link_target = st->link_target;
        d.link_kind = st->link_kind;
      }
      if (!d.link.empty()) {  // never read through it (a mount refuses it the same way)
        d.problem = d.link + " is a symbolic link or junction: not followed";
        dirs.push_back(std::move(d));
        continue;
      }
    }
    if (!raw) {
      d.problem = raw.error().message();
      if (root_dir && !r.is_image()) d.link = root_dir->FirstSymlink(d.label).value_or("");
      if (!d.link.empty() && !r.is_image()) {
        auto link = LinkBeneath(*root_dir, d.link);
        d.link_target = std::move(link.target);
        d.link_kind = std::move(link.kind);
      }
      d.unreadable = d.link.empty() && raw.error().code() == ErrorCode::kIo;
    } else {
      d.raw = std::move(*raw);
      auto sd = r.security().DecodeRaw(d.raw);
      if (sd) {
        d.sd = std::move(*sd);
      } else {
        d.problem = sd.error().ToString();
      }
    }
    dirs.push_back(std::move(d));
  }
  return dirs;
}

std::vector<Finding> Engine::CheckDirectories(const std::vector<DirectoryState>& dirs) const {
  std::vector<Finding> out;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    for (const auto& [id, check] : state_->check_directory) check(id, context(), dirs, i, out);
  }
  for (const auto& [id, check] : state_->check_chain) check(id, context(), dirs, out);
  return out;
}

std::vector<std::vector<RuleId>> Engine::FixDirectories(std::vector<DirectoryState>& dirs,
                                                        const RuleSet& rules) const {
  std::vector<std::vector<RuleId>> changed(dirs.size());
  for (const auto& [id, fix] : state_->fix_directories) {
    if (!Has(rules, id)) continue;
    std::vector<bool> touched(dirs.size(), false);
    fix(id, context(), dirs, touched);
    for (std::size_t i = 0; i < dirs.size(); ++i) {
      if (touched[i]) changed[i].push_back(id);
    }
  }
  for (auto& c : changed) std::sort(c.begin(), c.end());
  return changed;
}

std::vector<Finding> Engine::CheckStore(std::uint64_t key_files) const {
  std::vector<Finding> out;
  // The facts the check_store hooks read (state_ is this engine's own, made per run).
  auto oddities = keystore::FindStoreOddities(root());
  state_->context.store_oddities =
      oddities ? std::move(*oddities) : std::vector<keystore::StoreOddity>{};
  const std::string object = root().Relative(root().machine_keys_dir());
  for (const auto& [id, check] : state_->check_store) check(id, context(), key_files, object, out);
  return out;
}

// --- Key files -------------------------------------------------------------------------------

ServiceAccess JudgeService(const acl::SecurityDescriptor& sd, const ServiceCheck& s) {
  ServiceAccess v;
  if (sd.dacl) {
    for (std::size_t i = 0; i < sd.dacl->aces.size(); ++i) {
      if (DenyHits(sd.dacl->aces[i], s.token, keystore::kOpenAccess)) {
        v.denying_aces.push_back(AceText(*sd.dacl, i));
      }
    }
  }
  const auto check = acl::CheckAccess(sd, s.token, keystore::kOpenAccess);
  v.allowed = check.allowed;
  if (!v.allowed) {
    v.sentence = check.Sentence(s.token, "read", sd);
  }
  return v;
}

void Engine::JudgeDescriptor(const acl::SecurityDescriptor& sd, DescriptorFindings& out) const {
  for (const auto& [id, check] : state_->check_descriptor) check(id, context(), sd, out);
}

void Engine::Judge(DescriptorVerdict& verdict) const {
  verdict.findings.clear();
  verdict.services.assign(services().size(), std::nullopt);
  verdict.fixes.clear();
  if (verdict.sd) JudgeDescriptor(*verdict.sd, verdict.findings);
}

const ServiceAccess& Engine::ServiceFor(DescriptorVerdict& verdict, std::size_t service) const {
  auto& slot = verdict.services[service];
  if (!slot) slot = JudgeService(*verdict.sd, services()[service]);
  return *slot;
}

void Engine::AddServiceFindings(std::string_view label, std::string_view container_name,
                                const ServiceCheck& service, const ServiceAccess& access,
                                std::vector<Finding>& out) const {
  for (const auto& [id, check] : state_->check_service) {
    check(id, service, access, label, container_name, out);
  }
}

void Engine::CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                                    const acl::SecurityDescriptor& sd,
                                    std::vector<Finding>& out) const {
  DescriptorFindings findings;
  JudgeDescriptor(sd, findings);
  for (auto& [rule, evidence] : findings) {
    out.push_back({rule, std::string(label), std::move(evidence)});
  }
  if (container_name.empty()) return;
  for (const auto& s : services()) {
    if (!context().Covers(s, container_name)) continue;
    AddServiceFindings(label, container_name, s, JudgeService(sd, s), out);
  }
}

void Engine::CheckKeyFileDescriptor(std::string_view label, std::string_view container_name,
                                    DescriptorVerdict& verdict, std::vector<Finding>& out) const {
  for (const auto& [rule, evidence] : verdict.findings) {
    out.push_back({rule, std::string(label), evidence});
  }
  if (container_name.empty() || !verdict.sd) return;
  for (std::size_t i = 0; i < services().size(); ++i) {
    const auto& s = services()[i];
    if (!context().Covers(s, container_name)) continue;
    AddServiceFindings(label, container_name, s, ServiceFor(verdict, i), out);
  }
}

Engine::KeyFileResult Engine::CheckKeyFile(std::string_view file_name,
                                           const Result<std::span<const std::uint8_t>>& contents,
                                           const acl::SecurityDescriptor* sd,
                                           std::string_view sd_problem) const {
  KeyFileFacts facts;
  ClassifyKeyFile(*state_->checker, file_name, contents, facts);
  facts.descriptor = sd;
  facts.descriptor_problem = sd_problem;
  facts.descriptor_unreadable = sd == nullptr && DescriptorReadFailed(sd_problem);
  KeyFileResult result;
  for (const auto& [id, check] : state_->check_key_file) {
    check(id, context(), facts, result.findings);
  }
  result.container_name.assign(facts.container_name);
  if (sd != nullptr) {
    CheckKeyFileDescriptor(facts.object(), result.container_name, *sd, result.findings);
  }
  return result;
}

Engine::KeyFileResult Engine::CheckKeyFile(std::string_view file_name,
                                           const Result<std::span<const std::uint8_t>>& contents,
                                           DescriptorVerdict* verdict,
                                           std::string_view sd_problem) const {
  KeyFileFacts facts;
  ClassifyKeyFile(*state_->checker, file_name, contents, facts);
  if (verdict != nullptr && verdict->sd) facts.descriptor = &*verdict->sd;
  facts.descriptor_problem = sd_problem;
  facts.descriptor_unreadable = DescriptorReadFailed(sd_problem);
  KeyFileResult result;
  for (const auto& [id, check] : state_->check_key_file) {
    check(id, context(), facts, result.findings);
  }
  result.container_name.assign(facts.container_name);
  if (facts.descriptor == nullptr) return result;
  // The descriptor's findings are the verdict's; only their object is this file's, named once
  // one exists.
  const std::size_t first = result.findings.size();
  CheckKeyFileDescriptor({}, result.container_name, *verdict, result.findings);
  for (std::size_t i = first; i < result.findings.size(); ++i) {
    result.findings[i].object = facts.object();
  }
  return result;
}

std::vector<RuleId> Engine::FixKeyFile(acl::SecurityDescriptor& sd, std::string_view container_name,
                                       const RuleSet& rules) const {
  std::vector<Finding> found;
  CheckKeyFileDescriptor("", container_name, sd, found);
  std::vector<RuleId> changed;
  for (const auto& [id, fix] : state_->fix_key_file) {
    if (Has(rules, id) && fix(id, context(), sd, container_name, found)) changed.push_back(id);
  }
  std::sort(changed.begin(), changed.end());
  return changed;
}

// --- DescriptorCache -------------------------------------------------------------------------

DescriptorVerdict& DescriptorCache::Get(std::span<const std::uint8_t> raw) {
  const std::string_view key(reinterpret_cast<const char*>(raw.data()), raw.size());
  if (auto it = map_.find(key); it != map_.end()) return *it->second;
  auto verdict = std::make_unique<DescriptorVerdict>();
  verdict->raw = std::make_shared<const std::vector<std::uint8_t>>(raw.begin(), raw.end());
  auto decoded = store_->DecodeRaw(*verdict->raw);
  if (decoded) {
    verdict->sd = std::move(*decoded);
  } else {
    verdict->error = std::move(decoded).error();
  }
  engine_->Judge(*verdict);
  if (map_.size() >= kMaxEntries) {
    scratch_ = std::move(verdict);
    return *scratch_;
  }
  const std::string_view stored(reinterpret_cast<const char*>(verdict->raw->data()),
                                verdict->raw->size());
  auto& slot = map_[stored];
  slot = std::move(verdict);
  return *slot;
}

}  // namespace internal
}  // namespace mkeys::repair
