// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sd get PATH [--format sddl|icacls|hex]` and `mkeys sd set PATH SDDL`: the security
// descriptor of any object under a machine root, on both backends (model machines' NTACL
// attribute, ntfs-3g's system.ntfs_acl).
#include <sys/xattr.h>

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "app.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::cli {
namespace {

namespace fs = std::filesystem;
namespace ks = keystore;

struct SdArgs {
  std::string path;
  std::string format = "sddl";
  std::string sddl;
  std::string xattr_name;
};

// The store for `path`: the NTACL attribute of the model machine it lies in (found by walking
// up to mkeys-machine.json), else system.ntfs_acl when the file system offers it.
Result<std::unique_ptr<ks::SecurityStore>> StoreFor(const SdArgs& args) {
  std::error_code ec;
  const fs::path path = fs::absolute(args.path, ec).lexically_normal();
  if (!fs::exists(fs::symlink_status(path, ec))) {
    return Error(ErrorCode::kNotFound, "no such file or directory").On(args.path);
  }
  for (fs::path dir = path; !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ks::kMachineFactsFile, ec)) {
      ks::MachineOpenOptions options;
      if (!args.xattr_name.empty()) options.xattr_name = args.xattr_name;
      MKEYS_ASSIGN_OR_RETURN(auto machine, ks::MachineRoot::Open(dir, options));
      return ks::MakeXattrNtaclStore(machine.security().attribute());
    }
    if (dir == dir.root_path()) break;
  }
  if (!args.xattr_name.empty()) return ks::MakeXattrNtaclStore(args.xattr_name);
  if (::lgetxattr(path.c_str(), std::string(ks::kNtfsAclXattr).c_str(), nullptr, 0) > 0) {
    return ks::MakeNtfsAclStore();
  }
  return Error(ErrorCode::kNotFound,
               fmt::format("not under a machine root: no {} above it and no {} (not an ntfs-3g "
                           "mount); pass --xattr-name to read an attribute directly",
                           ks::kMachineFactsFile, ks::kNtfsAclXattr))
      .On(args.path);
}

int RunGet(Context& ctx, const SdArgs& args) {
  auto store = StoreFor(args);
  if (!store) {
    ctx.out.PrintError(store.error());
    return kExitInput;
  }
  auto raw = (*store)->ReadRaw(args.path);
  if (!raw) {
    ctx.out.PrintError(raw.error());
    return kExitInput;
  }
  auto sd = (*store)->DecodeRaw(*raw);
  if (!sd) {
    ctx.out.PrintError(
        Error(sd.error().code(), fmt::format("{} attribute is malformed: {}", (*store)->attribute(),
                                             sd.error().ToString()))
            .On(args.path));
    return kExitInput;
  }
  const std::string sddl = acl::FormatSddl(*sd);
  std::vector<std::string> icacls;
  if (sd->dacl) icacls = acl::FormatIcacls(*sd->dacl);
  if (ctx.out.json()) {
    ctx.out.Json({{"path", args.path},
                  {"attribute", (*store)->attribute()},
                  {"sddl", sddl},
                  {"owner", sd->owner ? acl::DisplayName(*sd->owner) : ""},
                  {"group", sd->group ? acl::DisplayName(*sd->group) : ""},
                  {"icacls", icacls},
                  {"hex", HexEncode(*raw)}});
    return kExitOk;
  }
  if (args.format == "hex") {
    ctx.out.Line(HexEncode(*raw));
  } else if (args.format == "icacls") {
    // As icacls prints it: the path before the first ACE, the others aligned under it.
    if (sd->HasNullDacl()) {
      ctx.out.Line(args.path + " Everyone:(F)  (NULL DACL)");
    } else if (icacls.empty()) {
      ctx.out.Line(args.path + " (no ACEs: nobody has access)");
    }
    for (std::size_t i = 0; i < icacls.size(); ++i) {
      ctx.out.Line((i == 0 ? args.path : std::string(args.path.size(), ' ')) + " " + icacls[i]);
    }
    if (sd->owner) ctx.out.Line(fmt::format("owner: {}", acl::DisplayName(*sd->owner)));
  } else {
    ctx.out.Line(sddl);
  }
  return kExitOk;
}

int RunSet(Context& ctx, const SdArgs& args) {
  auto parsed = acl::ParseSddl(args.sddl);
  if (!parsed) {
    // Malformed input data is an input error (3), as for every other SDDL-taking command.
    ctx.out.PrintError(Error(parsed.error().code(), "SDDL: " + parsed.error().ToString()));
    return kExitInput;
  }
  auto store = StoreFor(args);
  if (!store) {
    ctx.out.PrintError(store.error());
    return kExitInput;
  }
  if (auto written = (*store)->Write(args.path, *parsed); !written) {
    ctx.out.PrintError(written.error());
    return kExitInput;
  }
  auto back = (*store)->Read(args.path);
  if (!back) {
    ctx.out.PrintError(back.error());
    return kExitInput;
  }
  const std::string sddl = acl::FormatSddl(*back);
  if (ctx.out.json()) {
    ctx.out.Json({{"path", args.path}, {"attribute", (*store)->attribute()}, {"sddl", sddl}});
  } else {
    ctx.out.Line(sddl);
  }
  return kExitOk;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("sd", "Security descriptors of objects under a machine root");
  group->require_subcommand(1);

  auto get_args = std::make_shared<SdArgs>();
  auto* get = group->add_subcommand("get", "Print the descriptor of PATH");
  get->add_option("PATH", get_args->path, "File or directory under a machine root")->required();
  get->add_option("--format", get_args->format, "sddl (default), icacls or hex")
      ->check(CLI::IsMember({"sddl", "icacls", "hex"}));
  get->add_option("--xattr-name", get_args->xattr_name, "Read this NTACL attribute instead");
  ctx.Bind(get, [get_args](Context& c) { return RunGet(c, *get_args); });

  auto set_args = std::make_shared<SdArgs>();
  auto* set = group->add_subcommand("set", "Replace the descriptor of PATH with SDDL");
  set->add_option("PATH", set_args->path, "File or directory under a machine root")->required();
  set->add_option("SDDL", set_args->sddl, "The new descriptor, e.g. O:SYG:SYD:P(A;;FA;;;SY)")
      ->required();
  set->add_option("--xattr-name", set_args->xattr_name, "Write this NTACL attribute instead");
  ctx.Bind(set, [set_args](Context& c) { return RunSet(c, *set_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(30, Register);
}  // namespace mkeys::cli
