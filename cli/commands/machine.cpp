// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys machine init ROOT [--machine-guid GUID] [--xattr-name NAME]` and
// `mkeys machine show ROOT [--machine-guid GUID]`: create and describe machine roots.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "app.hpp"
#include "machine_policy_show.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::cli {
namespace {

struct MachineArgs {
  std::string root;
  std::string machine_guid;
  std::string xattr_name;
};

nlohmann::json FactsJson(const keystore::MachineRoot& machine) {
  const auto& facts = machine.facts();
  nlohmann::json policy = PolicyJson(machine);
  nlohmann::json privileges = nlohmann::json::array();
  for (const auto& p : facts.privileges) {
    nlohmann::json holders = nlohmann::json::array();
    for (const auto& sid : p.holders) {
      const auto& sources = policy["privilege_holder_sources"];
      const std::string source = sources.contains(sid.ToString())
                                     ? sources[sid.ToString()].get<std::string>()
                                     : facts.privileges_source;
      holders.push_back({{"sid", sid.ToString()},
                         {"name", keystore::MachineDisplayName(machine.policy(), sid)},
                         {"source", source}});
    }
    privileges.push_back({{"privilege", p.privilege}, {"holders", holders}});
  }
  nlohmann::json dirs = nlohmann::json::array();
  for (const auto& dir : machine.store_directories()) {
    nlohmann::json item = {{"path", machine.Relative(dir)}};
    if (auto sd = machine.security().Read(dir)) {
      item["sddl"] = acl::FormatSddl(*sd);
    } else {
      item["error"] = sd.error().ToString();
    }
    dirs.push_back(item);
  }
  return {{"root", machine.root().string()},
          {"kind", std::string(keystore::RootKindName(machine.kind()))},
          {"machine_guid", facts.machine_guid},
          {"machine_guid_source", facts.guid_source},
          {"security_attribute", facts.ntacl_attribute},
          {"master_key_path", facts.master_key_path},
          {"machine_keys", machine.Relative(machine.machine_keys_dir())},
          {"directories", dirs},
          {"privileges", privileges},
          {"privileges_source", facts.privileges_source},
          {"policy", policy}};
}

void PrintFacts(Context& ctx, const keystore::MachineRoot& machine) {
  const nlohmann::json doc = FactsJson(machine);
  if (ctx.out.json()) {
    ctx.out.Json(doc);
    return;
  }
  ctx.out.Line(fmt::format("root:          {}", doc["root"].get<std::string>()));
  ctx.out.Line(fmt::format("kind:          {}", doc["kind"].get<std::string>()));
  ctx.out.Line(fmt::format("MachineGuid:   {} (from {})", doc["machine_guid"].get<std::string>(),
                           doc["machine_guid_source"].get<std::string>()));
  ctx.out.Line(fmt::format("descriptors:   extended attribute {}",
                           doc["security_attribute"].get<std::string>()));
  if (!machine.facts().master_key_path.empty()) {
    ctx.out.Line(fmt::format("master key:    {}", machine.facts().master_key_path));
  }
  ctx.out.Line("store directories:");
  for (const auto& d : doc["directories"]) {
    ctx.out.Line(fmt::format("  {}", d["path"].get<std::string>()));
    ctx.out.Line(fmt::format(
        "    {}", d.contains("sddl") ? d["sddl"].get<std::string>()
                                     : ctx.out.Paint(d["error"].get<std::string>(), Color::kRed)));
  }
  PrintPolicy(ctx, doc["policy"]);
  ctx.out.Line(fmt::format("privileges (from {}):", doc["privileges_source"].get<std::string>()));
  for (const auto& p : doc["privileges"]) {
    std::string holders;
    for (const auto& h : p["holders"]) {
      if (!holders.empty()) holders += ", ";
      holders += h["name"].get<std::string>();
    }
    ctx.out.Line(fmt::format("  {}: {}", p["privilege"].get<std::string>(), holders));
  }
}

int RunInit(Context& ctx, const MachineArgs& args) {
  keystore::MachineInitOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  if (!args.xattr_name.empty()) options.xattr_name = args.xattr_name;
  auto machine = keystore::MachineRoot::Init(args.root, options);
  if (!machine) {
    ctx.out.PrintError(machine.error());
    const auto code = machine.error().code();
    return code == ErrorCode::kInvalidArgument ? kExitUsage : kExitInput;
  }
  if (!ctx.out.json())
    ctx.out.Note(fmt::format("created model machine at {}", machine->root().string()));
  PrintFacts(ctx, *machine);
  return kExitOk;
}

int RunShow(Context& ctx, const MachineArgs& args) {
  keystore::MachineOpenOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  if (!args.xattr_name.empty()) options.xattr_name = args.xattr_name;
  auto machine = keystore::MachineRoot::Open(args.root, options);
  if (!machine) {
    ctx.out.PrintError(machine.error());
    return kExitInput;
  }
  PrintFacts(ctx, *machine);
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("machine", "Create and describe machine roots");
  group->require_subcommand(1);

  auto init_args = std::make_shared<MachineArgs>();
  auto* init = group->add_subcommand(
      "init",
      "Create a model machine: the MachineKeys directory chain with Windows' default "
      "descriptors, the machine facts file and the machine master key");
  init->add_option("ROOT", init_args->root, "Directory to create the machine in")->required();
  init->add_option("--machine-guid", init_args->machine_guid,
                   "MachineGuid of the new machine (random if absent)");
  init->add_option("--xattr-name", init_args->xattr_name,
                   "Extended attribute for descriptors (default user.NTACL; security.NTACL to "
                   "share with Samba)");
  ctx.Bind(init, [init_args](Context& c) { return RunInit(c, *init_args); });

  auto show_args = std::make_shared<MachineArgs>();
  auto* show = group->add_subcommand("show", "Print a root's machine facts and store descriptors");
  show->add_option("ROOT", show_args->root, "Machine root (model machine or ntfs-3g mount)")
      ->required();
  show->add_option("--machine-guid", show_args->machine_guid, "Override the MachineGuid");
  show->add_option("--xattr-name", show_args->xattr_name, "Override the descriptor attribute");
  ctx.Bind(show, [show_args](Context& c) { return RunShow(c, *show_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(10, Register);
}  // namespace mkeys::cli
