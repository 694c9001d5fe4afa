// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sd export-icacls DIR --output FILE` and `mkeys sd import-icacls FILE --root ROOT`:
// `icacls /save` files (UTF-16LE), so ACLs saved on a Windows machine can be diagnosed here.
#include <fcntl.h>
#include <sys/xattr.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::cli {
namespace {

namespace fs = std::filesystem;
namespace ks = mkeys::keystore;

struct ExportArgs {
  std::string dir;
  std::string output;
};

struct ImportArgs {
  std::string file;
  std::string root;
  std::string parent;
  bool parent_given = false;
  CLI::Option* parent_option = nullptr;
  std::string machine_guid;
};

// The security store of the root `path` lies in: a model machine above it, else ntfs-3g.
Result<std::unique_ptr<ks::SecurityStore>> StoreAbove(const fs::path& path) {
  std::error_code ec;
  for (fs::path dir = path; !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ks::kMachineFactsFile, ec)) {
      MKEYS_ASSIGN_OR_RETURN(auto machine, ks::MachineRoot::Open(dir));
      return ks::MakeXattrNtaclStore(machine.security().attribute());
    }
    if (dir == dir.root_path()) break;
  }
  if (::lgetxattr(path.c_str(), std::string(ks::kNtfsAclXattr).c_str(), nullptr, 0) > 0) {
    return ks::MakeNtfsAclStore();
  }
  return Error(ErrorCode::kNotFound, fmt::format("not under a machine root (no {} above it, no {})",
                                                 ks::kMachineFactsFile, ks::kNtfsAclXattr))
      .On(path.string());
}

std::string WindowsRelative(const fs::path& base, const fs::path& path) {
  std::string rel = path.lexically_relative(base).string();
  std::replace(rel.begin(), rel.end(), '/', '\\');
  return rel;
}

int RunExport(Context& ctx, const ExportArgs& args) {
  std::error_code ec;
  const fs::path dir = fs::absolute(args.dir, ec).lexically_normal();
  if (!fs::is_directory(dir, ec)) {
    ctx.out.PrintError(Error(ErrorCode::kNotFound, "no such directory").On(args.dir));
    return kExitInput;
  }
  auto store = StoreAbove(dir);
  if (!store) {
    ctx.out.PrintError(store.error());
    return kExitInput;
  }
  const fs::path base = dir.parent_path();
  std::vector<fs::path> paths = {dir};
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec)) continue;
    const auto name = it->path().filename().string();
    if (name.rfind(".staging-", 0) == 0) continue;
    paths.push_back(it->path());
  }
  std::sort(paths.begin() + 1, paths.end());
  std::vector<acl::IcaclsSaveEntry> entries;
  for (const auto& p : paths) {
    auto sd = (*store)->Read(p);
    if (!sd) {
      ctx.out.PrintError(sd.error());
      return kExitInput;
    }
    acl::SecurityDescriptor dacl_only = *sd;
    dacl_only.owner.reset();
    dacl_only.group.reset();
    entries.push_back({WindowsRelative(base, p), acl::FormatSddl(dacl_only)});
  }
  const auto bytes = acl::FormatIcaclsSave(entries);
  std::ofstream out(args.output, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    ctx.out.PrintError(Error(ErrorCode::kIo, "cannot write").On(args.output));
    return kExitInput;
  }
  if (ctx.out.json()) {
    ctx.out.Json({{"output", args.output}, {"objects", entries.size()}});
  } else {
    ctx.out.Line(fmt::format("Saved the DACLs of {} object(s) to {} (icacls /save format).",
                             entries.size(), args.output));
  }
  return kExitOk;
}

int RunImport(Context& ctx, const ImportArgs& args) {
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    ctx.out.PrintError(Error(ErrorCode::kNotFound, "cannot open").On(args.file));
    return kExitInput;
  }
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  auto entries = acl::ParseIcaclsSave(bytes);
  if (!entries) {
    ctx.out.PrintError(Error(entries.error()).On(args.file));
    return kExitInput;
  }
  ks::MachineOpenOptions options;
  if (!args.machine_guid.empty()) options.machine_guid = args.machine_guid;
  auto root = ks::MachineRoot::Open(args.root, options);
  if (!root) {
    ctx.out.PrintError(root.error());
    return root.error().ToExitCode();
  }
  // Paths in the file are relative to the parent of the directory saved; by default that is
  // the parent of MachineKeys. Everything resolves beneath the root: an absolute or climbing
  // path, or a symlink anywhere on the way, refuses the whole file before anything is written.
  if (args.parent_given && args.parent.empty()) {
    ctx.out.PrintError(Error(ErrorCode::kInvalidArgument,
                             "--parent is empty: give a directory relative to the root, or omit "
                             "it for the parent of MachineKeys"));
    return kExitUsage;
  }
  std::string base_rel =
      args.parent_given ? args.parent : root->Relative(root->machine_keys_dir().parent_path());
  std::replace(base_rel.begin(), base_rel.end(), '\\', '/');
  auto root_dir = files::RootDir::Open(root->root().string());
  if (!root_dir) {
    ctx.out.PrintError(root_dir.error());
    return kExitInput;
  }
  if (auto base_fd = root_dir->OpenBeneath(base_rel, O_RDONLY | O_DIRECTORY); !base_fd) {
    ctx.out.PrintError(Error(base_fd.error()).On("--parent " + base_rel));
    return kExitInput;
  }
  struct Target {
    std::string shown;  // as the file names it
    files::UniqueFd fd;
    acl::SecurityDescriptor sd;
  };
  std::vector<Target> targets;
  std::vector<std::string> missing;
  for (const auto& entry : *entries) {
    std::string rel = entry.path;
    std::replace(rel.begin(), rel.end(), '\\', '/');
    const std::string full = base_rel.empty() ? rel : base_rel + "/" + rel;
    if (!rel.empty() && rel.front() == '/') {
      ctx.out.PrintError(
          Error(ErrorCode::kParse, "unsafe path in icacls file: " + entry.path).On(args.file));
      return kExitInput;
    }
    auto fd = root_dir->OpenBeneath(full, O_RDONLY);
    if (!fd && fd.error().code() == ErrorCode::kNotFound) {
      missing.push_back(entry.path);
      continue;
    }
    if (!fd) {
      ctx.out.PrintError(
          Error(fd.error().code(), fd.error().message())
              .On(args.file + ": " + entry.path + " (" + fd.error().object().value_or(full) + ")"));
      return kExitInput;
    }
    auto parsed = acl::ParseSddl(entry.sddl);
    if (!parsed) {
      ctx.out.PrintError(Error(parsed.error()).On(args.file + ": " + entry.path));
      return kExitInput;
    }
    targets.push_back({entry.path, std::move(*fd), *parsed});
  }
  auto& store = root->writable_security();
  std::size_t applied = 0;
  for (auto& target : targets) {
    // icacls /save holds no owner and group: keep the object's, else SYSTEM. The object is
    // read and written through the descriptor opened above, never by path again.
    auto raw = files::ReadXattrFd(target.fd.get(), store.attribute(), target.shown);
    auto current = raw ? store.DecodeRaw(*raw) : Result<acl::SecurityDescriptor>(raw.error());
    acl::SecurityDescriptor& sd = target.sd;
    sd.owner = current && current->owner ? *current->owner : acl::sids::LocalSystem();
    sd.group = current && current->group ? *current->group : acl::sids::LocalSystem();
    auto written = store.WriteFd(target.fd.get(), target.shown, sd);
    if (!written) {
      ctx.out.PrintError(written.error());
      return kExitInput;
    }
    ++applied;
  }
  const fs::path base = root->root() / base_rel;
  if (ctx.out.json()) {
    ctx.out.Json({{"applied", applied}, {"missing", missing}});
  } else {
    ctx.out.Line(fmt::format("Applied {} DACL(s) from {} under {}.", applied, args.file,
                             root->Relative(base)));
    for (const auto& m : missing) ctx.out.Note("mkeys: not found under the root, skipped: " + m);
  }
  return missing.empty() ? kExitOk : kExitNegative;
}

void Register(CLI::App& app, Context& ctx) {
  CLI::App* group = nullptr;
  try {
    group = app.get_subcommand("sd");
  } catch (const CLI::OptionNotFound&) {
    group = app.add_subcommand("sd", "Security descriptors of objects under a machine root");
    group->require_subcommand(1);
  }
  auto export_args = std::make_shared<ExportArgs>();
  auto* exp = group->add_subcommand(
      "export-icacls", "Save the DACLs of DIR and everything below it as `icacls DIR /save` does");
  exp->add_option("DIR", export_args->dir, "Directory under a machine root")->required();
  exp->add_option("--output", export_args->output, "The icacls save file (UTF-16LE)")->required();
  ctx.Bind(exp, [export_args](Context& c) { return RunExport(c, *export_args); });

  auto import_args = std::make_shared<ImportArgs>();
  auto* imp = group->add_subcommand(
      "import-icacls",
      "Apply an `icacls /save` file (e.g. from a Windows server) to a machine root");
  imp->add_option("FILE", import_args->file, "The icacls save file")->required();
  imp->add_option("--root", import_args->root, "Machine root")->required();
  import_args->parent_option =
      imp->add_option("--parent", import_args->parent,
                      "Directory (relative to the root) the saved paths are relative to (default: "
                      "the parent of MachineKeys)");
  imp->add_option("--machine-guid", import_args->machine_guid, "Override the root's MachineGuid");
  ctx.Bind(imp, [import_args](Context& c) {
    import_args->parent_given = import_args->parent_option->count() > 0;
    return RunImport(c, *import_args);
  });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(31, Register);
}  // namespace mkeys::cli
