// SPDX-License-Identifier: GPL-3.0-or-later
// gen_machine: makes a model machine root (or fills an ntfs-3g mount) with N key containers
// for the benchmarks, as fast as the file system takes them.
//
//   gen_machine ROOT [--n N] [--damaged-permille P] [--all-too-open] [--threads T]
//               [--ntfs] [--machine-guid GUID] [--value-file FILE] [--open-value-file FILE]
//               [--seed S]
//
// Each container is a byte-realistic Windows CAPI file (version 2, its name, a synthetic RSA1
// 2048 public blob and DPAPI-like private blobs, about 1.5 KB) named <md5>_<MachineGuid>, with
// a per-file descriptor: owner SYSTEM, protected DACL SYSTEM + Administrators full control,
// one in five also NETWORK SERVICE read. P per mille (default 30) are damaged, in turn:
// Everyone read, non-canonical order, inherited ACEs, a foreign MachineGuid in the name, a
// truncated file, a zero-length file, an unexpected owner. --all-too-open gives every file an
// Everyone read ACE instead (every file then needs a repair: benchmark B2).
//
// Descriptors are encoded once per variant; the hot loop is openat + write + fsetxattr + close
// on as many threads as asked (default: one per core). On a model machine the chain above
// MachineKeys and the facts file come from MachineRoot::Init; with --ntfs, ROOT is an ntfs-3g
// mount (mounted with -o permissions) and the chain's descriptors go to system.ntfs_acl.
// --value-file writes the attribute value of a clean descriptor (what a repair writes) to FILE,
// --open-value-file that of the Everyone-read one (what --all-too-open writes).

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace {

namespace fs = std::filesystem;
namespace ks = mkeys::keystore;

constexpr std::string_view kCleanSddl = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)";
constexpr std::string_view kServiceSddl = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;NS)";
constexpr std::string_view kEveryoneSddl = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)";
constexpr std::string_view kNonCanonicalSddl = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(D;;FW;;;AN)";
constexpr std::string_view kInheritedSddl = "O:SYG:SYD:AI(A;;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;SY)";
constexpr std::string_view kForeignOwnerSddl =
    "O:S-1-5-21-1004336348-1177238915-682003330-1108G:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)";
// Names that no CSP on this machine finds: a cloned image's MachineGuid.
constexpr std::string_view kForeignGuid = "8e2f1c7a-5b3d-4c9e-a1f0-7d6b2e9c4a13";

enum Variant : int {
  kClean,
  kService,
  kEveryone,
  kNonCanonical,
  kInherited,
  kForeignGuidName,
  kTruncated,
  kZeroLength,
  kForeignOwner,
  kVariantCount
};
constexpr int kDamageKinds = kVariantCount - kEveryone;

struct Options {
  fs::path root;
  std::uint64_t n = 100000;
  unsigned damaged_permille = 30;
  bool all_too_open = false;
  unsigned threads = 0;
  bool ntfs = false;
  std::string machine_guid;
  std::string value_file;
  std::string open_value_file;
  std::uint64_t seed = 20261122;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "gen_machine: %s\nusage: gen_machine ROOT [--n N] [--damaged-permille P] "
               "[--all-too-open] [--threads T] [--ntfs] [--machine-guid GUID] "
               "[--value-file FILE] [--open-value-file FILE] [--seed S]\n",
               why);
  std::exit(2);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "gen_machine: %s\n", what.c_str());
  std::exit(3);
}

std::uint64_t ParseCount(const char* text, const char* flag) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    Usage((std::string("bad number for ") + flag + ": " + text).c_str());
  }
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool have_root = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) Usage((std::string(a) + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--n") {
      o.n = ParseCount(next(), "--n");
    } else if (a == "--damaged-permille") {
      o.damaged_permille = static_cast<unsigned>(ParseCount(next(), "--damaged-permille"));
      if (o.damaged_permille > 1000) Usage("--damaged-permille is at most 1000");
    } else if (a == "--all-too-open") {
      o.all_too_open = true;
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(ParseCount(next(), "--threads"));
    } else if (a == "--ntfs") {
      o.ntfs = true;
    } else if (a == "--machine-guid") {
      o.machine_guid = next();
    } else if (a == "--value-file") {
      o.value_file = next();
    } else if (a == "--open-value-file") {
      o.open_value_file = next();
    } else if (a == "--seed") {
      o.seed = ParseCount(next(), "--seed");
    } else if (!a.empty() && a[0] == '-') {
      Usage((std::string("unknown option ") + std::string(a)).c_str());
    } else if (!have_root) {
      o.root = a;
      have_root = true;
    } else {
      Usage("one ROOT only");
    }
  }
  if (!have_root) Usage("ROOT is required");
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

std::uint64_t SplitMix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A GUID-shaped container name, as .NET's X509Certificate2 imports and IIS make them.
std::string ContainerNameFor(std::uint64_t seed, std::uint64_t i) {
  const std::uint64_t a = SplitMix(seed ^ (i * 2 + 1));
  const std::uint64_t b = SplitMix(a ^ i);
  char buf[48];
  std::snprintf(buf, sizeof buf, "{%08x-%04x-%04x-%04x-%012llx}", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(0x4000 | (a & 0x0fff)),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

Variant VariantFor(const Options& o, std::uint64_t i) {
  if (o.all_too_open) return kEveryone;
  const std::uint64_t r = SplitMix(o.seed + 0x51ed27u + i);
  if (r % 1000 < o.damaged_permille) {
    return static_cast<Variant>(kEveryone + static_cast<int>((r / 1000) % kDamageKinds));
  }
  return (r / 1000) % 5 == 0 ? kService : kClean;
}

std::vector<std::uint8_t> EncodeAttribute(std::string_view sddl, bool ntfs) {
  auto sd = mkeys::acl::ParseSddl(sddl);
  if (!sd) Die("SDDL " + std::string(sddl) + ": " + sd.error().ToString());
  return ntfs ? sd->Encode() : ks::EncodeNtaclV1(*sd);
}

struct Shared {
  const Options* options = nullptr;
  int dir_fd = -1;
  std::string attribute;
  std::string guid;
  std::vector<std::vector<std::uint8_t>> values;  // per variant
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> damaged{0};
  std::atomic<bool> failed{false};
};

void Worker(Shared& s) {
  const Options& o = *s.options;
  constexpr std::uint64_t kChunk = 256;
  std::uint64_t damaged = 0;
  for (;;) {
    const std::uint64_t begin = s.next.fetch_add(kChunk);
    if (begin >= o.n || s.failed.load()) break;
    const std::uint64_t end = std::min(o.n, begin + kChunk);
    for (std::uint64_t i = begin; i < end; ++i) {
      const Variant v = VariantFor(o, i);
      if (v >= kEveryone) ++damaged;
      const std::string name = ContainerNameFor(o.seed, i);
      const std::string file =
          ks::ContainerFileName(name, v == kForeignGuidName ? kForeignGuid : s.guid);
      std::vector<std::uint8_t> content;
      if (v != kZeroLength) content = ks::MakeSyntheticCapiContainerFile(name, 2048);
      if (v == kTruncated) content.resize(content.size() / 3);
      const int fd =
          ::openat(s.dir_fd, file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) {
        std::fprintf(stderr, "gen_machine: create %s: %s\n", file.c_str(), std::strerror(errno));
        s.failed = true;
        return;
      }
      std::size_t off = 0;
      while (off < content.size()) {
        const ssize_t w = ::write(fd, content.data() + off, content.size() - off);
        if (w <= 0) {
          std::fprintf(stderr, "gen_machine: write %s: %s\n", file.c_str(), std::strerror(errno));
          s.failed = true;
          ::close(fd);
          return;
        }
        off += static_cast<std::size_t>(w);
      }
      const auto& value = s.values[static_cast<std::size_t>(v)];
      if (::fsetxattr(fd, s.attribute.c_str(), value.data(), value.size(), 0) != 0) {
        std::fprintf(stderr, "gen_machine: setxattr %s %s: %s\n", s.attribute.c_str(), file.c_str(),
                     std::strerror(errno));
        s.failed = true;
        ::close(fd);
        return;
      }
      ::close(fd);
    }
  }
  s.damaged += damaged;
}

// ntfs-3g: the directory chain with its default descriptors in system.ntfs_acl.
void MakeNtfsChain(const fs::path& root) {
  auto store = ks::MakeNtfsAclStore();
  for (const auto& d : ks::kDefaultDirectories) {
    const fs::path dir = root / d.relative_path;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) Die("mkdir " + dir.string() + ": " + ec.message());
    auto sd = mkeys::acl::ParseSddl(d.sddl);
    if (!sd) Die("SDDL: " + sd.error().ToString());
    auto written = store->Write(dir, *sd);
    if (!written) Die(written.error().ToString());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();

  Shared s;
  s.options = &o;
  fs::path keys_dir;
  if (o.ntfs) {
    if (o.machine_guid.empty()) Usage("--ntfs needs --machine-guid (no SOFTWARE hive is written)");
    auto guid = ks::NormalizeMachineGuid(o.machine_guid);
    if (!guid) Die(guid.error().ToString());
    s.guid = *guid;
    MakeNtfsChain(o.root);
    s.attribute = std::string(ks::kNtfsAclXattr);
    keys_dir = o.root / ks::kMachineKeysRelative;
  } else {
    ks::MachineInitOptions init;
    if (!o.machine_guid.empty()) init.machine_guid = o.machine_guid;
    auto root = ks::MachineRoot::Init(o.root, init);
    if (!root) Die(root.error().ToString());
    s.guid = root->machine_guid();
    s.attribute = root->facts().ntacl_attribute;
    keys_dir = root->machine_keys_dir();
  }

  const std::string_view sddl[kVariantCount] = {
      kCleanSddl,   kServiceSddl, kEveryoneSddl, kNonCanonicalSddl, kInheritedSddl,
      kServiceSddl, kCleanSddl,   kCleanSddl,    kForeignOwnerSddl};
  for (const auto text : sddl) s.values.push_back(EncodeAttribute(text, o.ntfs));
  auto write_value = [&](const std::string& path, Variant variant) {
    if (path.empty()) return;
    FILE* f = std::fopen(path.c_str(), "wb");
    const auto& v = s.values[static_cast<std::size_t>(variant)];
    if (f == nullptr || std::fwrite(v.data(), 1, v.size(), f) != v.size() || std::fclose(f) != 0) {
      Die("cannot write " + path);
    }
  };
  write_value(o.value_file, kClean);
  write_value(o.open_value_file, kEveryone);

  s.dir_fd = ::open(keys_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s.dir_fd < 0) Die("open " + keys_dir.string() + ": " + std::strerror(errno));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.threads; ++t) threads.emplace_back(Worker, std::ref(s));
  for (auto& t : threads) t.join();
  ::close(s.dir_fd);
  if (s.failed) return 3;

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "gen_machine: %llu containers (%llu damaged) in %.2f s (%.0f files/s, %u threads) at %s; "
      "MachineGuid %s; attribute %s\n",
      static_cast<unsigned long long>(o.n), static_cast<unsigned long long>(s.damaged.load()), secs,
      secs > 0 ? static_cast<double>(o.n) / secs : 0.0, o.threads, keys_dir.c_str(), s.guid.c_str(),
      s.attribute.c_str());
  return 0;
}
