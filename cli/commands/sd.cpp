// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sd get PATH [--format sddl|icacls|hex]` and `mkeys sd set PATH SDDL`: the security
// descriptor of any object under a machine root, on both backends (model machines' NTACL
// attribute, ntfs-3g's system.ntfs_acl).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "app.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/beneath.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/machine_volume.hpp"
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
  int partition = -1;  // a path inside a disk image: its partition
};

// The object of `sd get/set`: the store of the machine root it lies in, and the object opened
// beneath that root (no symlink followed), so that it is read and written through its own
// descriptor and never by path again.
struct SdTarget {
  std::unique_ptr<ks::SecurityStore> store;
  files::UniqueFd fd;
  std::optional<fs::path> image_object;  // a path inside a disk image: read/written by path
};

// PATH = IMAGE/inside/the/volume: the longest proper prefix that is a regular file.
std::optional<fs::path> ImageAbove(const fs::path& path) {
  std::error_code ec;
  for (fs::path dir = path.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path()) {
    if (fs::is_regular_file(dir, ec)) return dir;
  }
  return std::nullopt;
}

Result<SdTarget> ImageTarget(const SdArgs& args, const fs::path& image, const fs::path& path,
                             bool write) {
  ks::ImageOpenOptions open;
  if (args.partition >= 0) open.partition = args.partition;
  open.writable = write;
  MKEYS_ASSIGN_OR_RETURN(auto opened, ks::OpenImageRoot(image, open));
  MKEYS_ASSIGN_OR_RETURN(const bool exists, opened.volume->Exists(path));
  if (!exists) return Error(ErrorCode::kNotFound, "no such file or directory").On(args.path);
  SdTarget target;
  target.store = std::move(opened.security);
  target.image_object = path;
  return target;
}

// The machine root above `path`: the nearest directory with mkeys-machine.json (a model
// machine), else the top of the ntfs-3g volume `path` is on (the highest ancestor on the same
// device that still carries system.ntfs_acl).
std::optional<std::pair<fs::path, bool>> RootAbove(const fs::path& path) {
  std::error_code ec;
  for (fs::path dir = path; !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / ks::kMachineFactsFile, ec)) return std::make_pair(dir, true);
    if (dir == dir.root_path()) break;
  }
  struct stat st {};
  if (::lgetxattr(path.c_str(), std::string(ks::kNtfsAclXattr).c_str(), nullptr, 0) <= 0 ||
      ::lstat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  fs::path top = S_ISDIR(st.st_mode) ? path : path.parent_path();
  while (top != top.root_path()) {
    struct stat up {};
    const fs::path parent = top.parent_path();
    if (::stat(parent.c_str(), &up) != 0 || up.st_dev != st.st_dev) break;
    top = parent;
  }
  return std::make_pair(top, false);
}

Result<SdTarget> TargetFor(const SdArgs& args, bool write) {
  std::error_code ec;
  const fs::path path = fs::absolute(args.path, ec).lexically_normal();
  if (const auto image = ImageAbove(path)) return ImageTarget(args, *image, path, write);
  if (!fs::exists(fs::symlink_status(path, ec))) {
    return Error(ErrorCode::kNotFound, "no such file or directory").On(args.path);
  }
  SdTarget target;
  const auto root = RootAbove(path);
  if (!root) {
    if (args.xattr_name.empty()) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("not under a machine root: no {} above it and not on an ntfs-3g "
                               "volume; pass --xattr-name to read an attribute of any file",
                               ks::kMachineFactsFile))
          .On(args.path);
    }
    // Outside any root, by explicit request: the attribute of this very file, never a link.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return Error(ErrorCode::kIo, fmt::format("cannot open: {}", std::strerror(errno)))
          .On(args.path);
    }
    target.fd = files::UniqueFd(fd);
    target.store = ks::MakeXattrNtaclStore(args.xattr_name);
  } else {
    const auto& [root_dir, model] = *root;
    if (model) {
      ks::MachineOpenOptions options;
      if (!args.xattr_name.empty()) options.xattr_name = args.xattr_name;
      MKEYS_ASSIGN_OR_RETURN(auto machine, ks::MachineRoot::Open(root_dir, options));
      target.store = ks::MakeXattrNtaclStore(machine.security().attribute());
    } else {
      target.store = args.xattr_name.empty() ? ks::MakeNtfsAclStore()
                                             : ks::MakeXattrNtaclStore(args.xattr_name);
    }
    MKEYS_ASSIGN_OR_RETURN(auto dir, files::RootDir::Open(root_dir.string()));
    auto fd = dir.OpenBeneath(path.lexically_relative(root_dir).string(), O_RDONLY);
    if (!fd) {
      return Error(fd.error().code(),
                   fmt::format("{}: {}", fd.error().object().value_or(""), fd.error().message()))
          .On(args.path);
    }
    target.fd = std::move(*fd);
  }
  return target;
}

// Which bytes `--format hex` and the JSON "hex" hold: the attribute exactly as stored.
std::string HexOf(const keystore::SecurityStore& store) {
  return store.backend() == keystore::SecurityBackend::kNtfs3g
             ? store.attribute() + " attribute as stored: the raw self-relative descriptor"
             : store.attribute() +
                   " attribute as stored: an NTACL v1 blob (8-byte header, then the descriptor)";
}

int RunGet(Context& ctx, const SdArgs& args) {
  auto target = TargetFor(args, false);
  if (!target) {
    ctx.out.PrintError(target.error());
    return kExitInput;
  }
  auto& store = target->store;
  auto raw = target->image_object
                 ? store->ReadRaw(*target->image_object)
                 : files::ReadXattrFd(target->fd.get(), store->attribute(), args.path);
  if (!raw) {
    ctx.out.PrintError(raw.error());
    return kExitInput;
  }
  auto sd = store->DecodeRaw(*raw);
  if (!sd) {
    ctx.out.PrintError(
        Error(sd.error().code(), fmt::format("{} attribute is malformed: {}", store->attribute(),
                                             sd.error().ToString()))
            .On(args.path));
    return kExitInput;
  }
  const std::string sddl = acl::FormatSddl(*sd);
  std::vector<std::string> icacls;
  if (sd->dacl) icacls = acl::FormatIcacls(*sd->dacl);
  if (ctx.out.json()) {
    ctx.out.Json({{"path", args.path},
                  {"attribute", store->attribute()},
                  {"sddl", sddl},
                  {"owner", sd->owner ? acl::DisplayName(*sd->owner) : ""},
                  {"group", sd->group ? acl::DisplayName(*sd->group) : ""},
                  {"icacls", icacls},
                  {"hex", HexEncode(*raw)},
                  {"hex_of", HexOf(*store)}});
    return kExitOk;
  }
  if (args.format == "hex") {
    ctx.out.Note("mkeys: hex of the " + HexOf(*store));
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
  auto target = TargetFor(args, true);
  if (!target) {
    ctx.out.PrintError(target.error());
    return kExitInput;
  }
  auto& store = target->store;
  auto written = target->image_object ? store->Write(*target->image_object, *parsed)
                                      : store->WriteFd(target->fd.get(), args.path, *parsed);
  if (!written) {
    ctx.out.PrintError(written.error());
    return kExitInput;
  }
  auto back_raw = target->image_object
                      ? store->ReadRaw(*target->image_object)
                      : files::ReadXattrFd(target->fd.get(), store->attribute(), args.path);
  auto back =
      back_raw ? store->DecodeRaw(*back_raw) : Result<acl::SecurityDescriptor>(back_raw.error());
  if (!back) {
    ctx.out.PrintError(back.error());
    return kExitInput;
  }
  const std::string sddl = acl::FormatSddl(*back);
  if (ctx.out.json()) {
    ctx.out.Json({{"path", args.path}, {"attribute", store->attribute()}, {"sddl", sddl}});
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
  get->add_option("--partition", get_args->partition,
                  "PATH inside a disk image (IMAGE/Windows/...): its partition (1-based)");
  ctx.Bind(get, [get_args](Context& c) { return RunGet(c, *get_args); });

  auto set_args = std::make_shared<SdArgs>();
  auto* set = group->add_subcommand("set", "Replace the descriptor of PATH with SDDL");
  set->add_option("PATH", set_args->path, "File or directory under a machine root")->required();
  set->add_option("SDDL", set_args->sddl, "The new descriptor, e.g. O:SYG:SYD:P(A;;FA;;;SY)")
      ->required();
  set->add_option("--xattr-name", set_args->xattr_name, "Write this NTACL attribute instead");
  set->add_option("--partition", set_args->partition,
                  "PATH inside a disk image (IMAGE/Windows/...): its partition (1-based)");
  ctx.Bind(set, [set_args](Context& c) { return RunSet(c, *set_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(30, Register);
}  // namespace mkeys::cli
