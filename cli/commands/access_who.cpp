// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys access who ROOT PATH [--only-readers] [--filter TEXT]`: the effective access of every
// identity the machine knows on one object beneath the root (AccessChk's view, offline). Each
// identity's token is the one MachineRoot::TokenFor builds (services, app pools, local users,
// SYSTEM, LOCAL SERVICE, NETWORK SERVICE); a group is a token holding that group, Everyone and
// the aliases the machine lists it in. Every token walks the one open path (open_path.hpp): the
// traverse checks of the folders above, then read and write on the object. Added to the
// "access" group that cli/commands/access.cpp registers.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/cng_store.hpp"
#include "mkeys/keystore/iis_config.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/open_path.hpp"
#include "output/identity_json.hpp"

namespace mkeys::cli {
namespace {

namespace fs = std::filesystem;
namespace ks = keystore;

struct WhoArgs {
  std::string root;
  std::string path;
  bool only_readers = false;
  std::string filter;
  std::string machine_guid;  // --machine-guid: an ntfs-3g volume without a SOFTWARE hive
  int partition = -1;        // --partition: disk images
};

// One identity to check: how it was found and its token (or why none could be built).
struct Candidate {
  std::string kind;   // "well-known", "group", "user", "service", "app-pool"
  std::string asked;  // what TokenFor was given ("service:CryptSvc"), for messages
  Result<acl::Token> token;
};

// The verdict for one identity.
struct Row {
  std::string kind;
  acl::Token token;
  acl::AccessMask granted = 0;
  bool traverse = true;
  std::string traverse_decided_by;  // "SeChangeNotifyPrivilege", "ACE #0 (...) on <folder>"
  std::string traverse_failure;     // "traverse denied at ...: ..."
  bool read = false;
  bool write = false;
  std::string read_decided_by;
  std::string write_decided_by;
  std::string reason;  // why it cannot read ("" when it can)
};

// A group as AccessChk checks it: a token whose user is the group, with Everyone and the aliases
// the machine lists it in, and the privileges the machine assigns to any of them.
acl::Token GroupToken(const ks::MachineRoot& root, const acl::Sid& sid) {
  acl::Token base(sid, {}, {}, ks::MachineDisplayName(root.policy(), sid));
  if (sid != acl::sids::Everyone()) base.AddGroup({acl::sids::Everyone(), false});
  for (const auto& member : {sid, acl::sids::Everyone()}) {
    for (const ks::LocalAlias* alias : root.policy()->AliasesOf(member)) {
      if (alias->sid != sid && !base.MatchesForAllow(alias->sid))
        base.AddGroup({alias->sid, false});
    }
  }
  std::vector<acl::TokenPrivilege> privileges;
  for (const auto& assignment : root.privileges()) {
    const bool holds = std::any_of(assignment.holders.begin(), assignment.holders.end(),
                                   [&](const acl::Sid& h) { return base.MatchesForAllow(h); });
    if (holds) {
      privileges.push_back(
          {assignment.privilege, acl::PrivilegeEnabledByDefault(assignment.privilege)});
    }
  }
  return acl::Token(base.user(), base.groups(), std::move(privileges), base.display_name());
}

// Every identity the machine knows, each once: the service accounts, the well-known groups, the
// SAM's aliases and users, the SYSTEM hive's services, the app pools of applicationHost.config.
std::vector<Candidate> Candidates(const ks::MachineRoot& root) {
  std::vector<Candidate> out;
  std::vector<acl::Sid> groups_seen;
  auto add = [&](std::string kind, const std::string& asked) {
    out.push_back({std::move(kind), asked, root.TokenFor(asked)});
  };
  add("well-known", "NT AUTHORITY\\SYSTEM");
  add("well-known", "NT AUTHORITY\\LOCAL SERVICE");
  add("well-known", "NT AUTHORITY\\NETWORK SERVICE");
  auto add_group = [&](const acl::Sid& sid) {
    if (std::find(groups_seen.begin(), groups_seen.end(), sid) != groups_seen.end()) return;
    groups_seen.push_back(sid);
    out.push_back({"group", sid.ToString(), GroupToken(root, sid)});
  };
  for (const auto& sid :
       {acl::sids::Administrators(), acl::sids::Users(), acl::sids::Everyone(),
        acl::sids::AuthenticatedUsers(), acl::sids::Service(), acl::sids::Interactive(),
        acl::sids::IisUsers(), acl::sids::Guests(), acl::sids::BackupOperators()}) {
    add_group(sid);
  }
  const ks::MachinePolicy& policy = *root.policy();
  if (policy.sam) {
    for (const auto& alias : policy.sam->aliases) add_group(alias.sid);
    // By SID: a user named "Administrator" is not the catalogue's "administrator".
    for (const auto& user : policy.sam->users) add("user", user.sid.ToString());
  }
  if (policy.system) {
    for (const auto& service : policy.system->services) {
      add("service", std::string(ks::kServicePrefix) + service.name);
    }
  }
  if (policy.iis) {
    for (const auto& pool : policy.iis->pools) add("app-pool", "IIS APPPOOL\\" + pool.name);
  }
  return out;
}

// PATH relative to the root ("ProgramData/Microsoft/Crypto/Keys/<f>"), or an error (exit 3)
// for a path that climbs out of it.
Result<fs::path> RelativeToRoot(const ks::MachineRoot& root, const std::string& path) {
  fs::path p(path);
  if (p.is_absolute()) {
    const fs::path rel = p.lexically_normal().lexically_relative(root.root().lexically_normal());
    if (rel.empty() || *rel.begin() == "..") {
      return Error(ErrorCode::kInvalidArgument,
                   "not beneath the machine root " + root.root().string())
          .On(path);
    }
    p = rel;
  }
  p = p.lexically_normal();
  if (p.empty() || p == "." || *p.begin() == "..") {
    return Error(ErrorCode::kInvalidArgument, "not an object beneath the machine root").On(path);
  }
  if (p.filename().empty()) p = p.parent_path();  // "dir/" names dir
  return p;
}

// The object as a walk target: the folders above it (outermost first) and its name. A bare key
// file name that is not at the root is looked for in the key directories, as `diagnose` does.
Result<ks::OpenTarget> TargetOf(const ks::MachineRoot& root, const std::string& path) {
  MKEYS_ASSIGN_OR_RETURN(fs::path rel, RelativeToRoot(root, path));
  auto exists = root.volume().Exists(root.root() / rel);
  if ((!exists || !*exists) && !rel.has_parent_path()) {
    if (auto key = ks::ResolveKeyFileAnywhere(root, rel.string())) {
      rel = fs::path(root.Relative(key->directories.back())) / key->file_name;
      exists = root.volume().Exists(root.root() / rel);
    }
  }
  // A symbolic link on the way could lead out of the root: named, never followed.
  if (!root.is_image()) {
    MKEYS_ASSIGN_OR_RETURN(const auto dir, files::RootDir::Open(root.root().string()));
    if (auto link = dir.FirstSymlink(rel.generic_string())) {
      return Error(ErrorCode::kInvalidArgument,
                   *link + ": a symbolic link (not followed: it may lead out of the machine root)")
          .On(path);
    }
  }
  if (!exists) return Error(exists.error()).On(path);
  if (!*exists) {
    return Error(ErrorCode::kNotFound, "no such file or folder beneath the machine root").On(path);
  }
  ks::OpenTarget target;
  target.file_name = rel.filename().string();
  target.label = rel.generic_string();
  fs::path dir = root.root();
  for (const auto& part : rel.parent_path()) {
    dir /= part;
    target.directories.push_back(dir);
  }
  return target;
}

const ks::OpenStep* StepOf(const ks::OpenPath& path, std::string_view check) {
  for (const auto& step : path.steps) {
    if (step.check == check && step.kind == ks::StepKind::kAccess) return &step;
  }
  return nullptr;
}

// One identity's walk to the object and the verdict from its steps. `known` holds the folders'
// descriptors the first walk read (each is read once).
Row Check(const ks::MachineRoot& root, const ks::OpenTarget& target, std::string kind,
          const acl::Token& token, std::vector<ks::PathObject>& known) {
  Row row;
  row.kind = std::move(kind);
  row.token = token;
  ks::WalkOptions options;
  options.intents = {ks::OpenIntent::kRead, ks::OpenIntent::kWrite};
  options.stop_at_first_failure = false;
  options.check_contents = false;
  options.known_directories = known.empty() ? nullptr : &known;
  const acl::SecurityDescriptor* sd = nullptr;
  std::optional<acl::SecurityDescriptor> own;
  std::optional<ks::OpenPath> path;
  if (!target.directories.empty()) {
    path.emplace(ks::WalkOpenPath(root, target, token, options));
    if (known.empty() && path->objects.size() >= target.directories.size()) {
      known.assign(path->objects.begin(),
                   path->objects.begin() + static_cast<std::ptrdiff_t>(target.directories.size()));
    }
    for (const auto& step : path->steps) {
      if (step.kind != ks::StepKind::kTraverse) continue;
      if (!step.passed && row.traverse) {
        row.traverse = false;
        row.traverse_failure = step.failure;
        row.traverse_decided_by = step.decided_by + " on " + step.object;
      } else if (row.traverse && step.decided_by == acl::privileges::kChangeNotify) {
        row.traverse_decided_by = step.decided_by;
      }
    }
    if (row.traverse && row.traverse_decided_by.empty()) {
      row.traverse_decided_by = "the folders' ACEs";
    }
    sd = path->FileDescriptor();
  }
  // A top-level object, or a folder on a disk image (the walk opens files only): its own
  // descriptor, checked as the walk checks a file.
  if (sd == nullptr) {
    if (auto read = root.security().Read(target.directories.empty()
                                             ? root.root() / target.file_name
                                             : target.directories.back() / target.file_name)) {
      own = std::move(*read);
      sd = &*own;
    }
  }
  if (sd == nullptr) {
    row.reason = path ? path->reason : "the object's descriptor cannot be read";
    return row;
  }
  row.granted = acl::CheckAccess(*sd, token, acl::rights::kMaximumAllowed).granted;
  auto verdict = [&](std::string_view check, acl::AccessMask want, bool& allowed,
                     std::string& decided, std::string& failure) {
    if (const ks::OpenStep* step = path ? StepOf(*path, check) : nullptr) {
      allowed = step->passed;
      decided = step->decided_by;
      failure = step->failure;
      return;
    }
    const auto result = acl::CheckAccess(*sd, token, want);
    allowed = result.allowed;
    decided = ks::DecidedBy(result);
    if (!allowed) failure = fmt::format("{} denied: {}", check, result.Sentence(token, check, *sd));
  };
  std::string read_failure;
  std::string write_failure;
  verdict("read", ks::kOpenAccess, row.read, row.read_decided_by, read_failure);
  verdict("write", acl::rights::kFileGenericWrite, row.write, row.write_decided_by, write_failure);
  row.read = row.read && row.traverse;
  row.write = row.write && row.traverse;
  row.reason = !row.traverse ? row.traverse_failure : read_failure;
  return row;
}

// The deciding ACE or privilege for the read verdict: the traverse when that blocked.
std::string DecidedBy(const Row& row) {
  return row.traverse ? row.read_decided_by : "traverse: " + row.traverse_decided_by;
}

std::string NameOf(const acl::Token& token) {
  return token.display_name().empty() ? acl::DisplayName(token.user()) : token.display_name();
}

bool Matches(const Row& row, const std::string& filter) {
  if (filter.empty()) return true;
  const std::string needle = text::ToLowerAscii(filter);
  for (const std::string& hay : {NameOf(row.token), row.token.user().ToString(), row.kind}) {
    if (text::ToLowerAscii(hay).find(needle) != std::string::npos) return true;
  }
  return false;
}

nlohmann::json RowJson(const Row& row) {
  nlohmann::json doc = {
      {"identity", IdentityJson(row.token)},
      {"kind", row.kind},
      {"granted", acl::FormatIcaclsRights(row.granted)},
      {"mask", fmt::format("0x{:x}", row.granted)},
      {"rights", acl::RightNames(row.granted)},
      {"read", row.read},
      {"write", row.write},
      {"traverse", {{"allowed", row.traverse}, {"decided_by", row.traverse_decided_by}}},
      {"decided_by", DecidedBy(row)},
      {"read_decided_by", row.read_decided_by},
      {"write_decided_by", row.write_decided_by},
  };
  if (!row.traverse) doc["traverse"]["failure"] = row.traverse_failure;
  if (!row.reason.empty()) doc["reason"] = row.reason;
  return doc;
}

int RunWho(Context& ctx, const WhoArgs& args) {
  ks::MachineOpenOptions open;
  if (!args.machine_guid.empty()) open.machine_guid = args.machine_guid;
  if (args.partition >= 0) open.partition = args.partition;
  auto root = ks::MachineRoot::Open(args.root, open);
  if (!root) {
    ctx.out.PrintError(root.error());
    return kExitInput;
  }
  auto target = TargetOf(*root, args.path);
  if (!target) {
    ctx.out.PrintError(target.error());
    return kExitInput;
  }
  std::vector<ks::PathObject> known;
  std::vector<Row> rows;
  for (auto& candidate : Candidates(*root)) {
    if (!candidate.token) {
      // A service logging on as a domain account, a malformed applicationHost.config: said, and
      // the others are still answered.
      ctx.out.Note(
          fmt::format("mkeys: skipped {}: {}", candidate.asked, candidate.token.error().message()));
      continue;
    }
    Row row = Check(*root, *target, candidate.kind, *candidate.token, known);
    if (args.only_readers && !row.read) continue;
    if (!Matches(row, args.filter)) continue;
    rows.push_back(std::move(row));
  }
  if (ctx.out.json()) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& row : rows) doc.push_back(RowJson(row));
    ctx.out.Json(doc);
    return kExitOk;
  }
  ctx.out.Line(fmt::format("object: {} ({} {})", target->label, rows.size(),
                           rows.size() == 1 ? "identity" : "identities"));
  ctx.out.Line("RW granted mask       identity                                      decided by");
  for (const auto& row : rows) {
    const std::string who = fmt::format("{} ({})", NameOf(row.token), row.token.user().ToString());
    ctx.out.Line(fmt::format("{}{} {:<7} {:<10} {:<45} {}", row.read ? 'R' : '-',
                             row.write ? 'W' : '-',
                             row.granted ? acl::FormatIcaclsRights(row.granted) : "-",
                             fmt::format("0x{:x}", row.granted), who, DecidedBy(row)));
    if (!row.traverse) ctx.out.Line("   " + row.traverse_failure);
  }
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  CLI::App* group = nullptr;
  try {
    group = app.get_subcommand("access");
  } catch (const CLI::OptionNotFound&) {
    group = app.add_subcommand("access", "Access checks (MS-DTYP 2.5.3.2) with reasons");
    group->require_subcommand(1);
  }
  auto args = std::make_shared<WhoArgs>();
  auto* who = group->add_subcommand(
      "who",
      "The effective access of every identity the machine knows (services, app pools, local "
      "users and groups, well-known principals) on one file or folder, with the ACE or "
      "privilege that decided it (AccessChk's view). Exit 0, 3 for a missing object or bad root.");
  who->add_option("ROOT", args->root, "Machine root (model, ntfs-3g mount or disk image)")
      ->required();
  who->add_option("PATH", args->path,
                  "File or folder beneath the root (relative to it, or absolute), or a key "
                  "file's name")
      ->required();
  who->add_flag("--only-readers", args->only_readers, "Only the identities that can read it");
  who->add_option("--filter", args->filter,
                  "Only identities whose name, SID or kind (service, app-pool, user, group, "
                  "well-known) contains TEXT (case-insensitive)");
  who->add_option("--machine-guid", args->machine_guid,
                  "Override the root's MachineGuid (an ntfs-3g volume without a SOFTWARE hive)");
  who->add_option("--partition", args->partition,
                  "Disk image root: the partition (1-based; 0 for a bare volume)");
  ctx.Bind(who, [args](Context& c) { return RunWho(c, *args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(61, Register);
}  // namespace mkeys::cli
