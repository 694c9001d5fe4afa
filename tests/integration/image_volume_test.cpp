// SPDX-License-Identifier: GPL-3.0-or-later
// Disk images read and written without a mount, as an unprivileged user: a GPT disk with an
// EFI partition and an NTFS partition is built with Debian tools as root (set-up only), then
// ImageVolume runs in a child that has dropped to nobody/nogroup, and what it reads is
// compared with what an ntfs-3g mount showed.
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mkeys/keystore/image_volume.hpp"
#include "support/process.hpp"
#include "support/reparse.hpp"

namespace fs = std::filesystem;
using mkeys::keystore::ImageOpenOptions;
using mkeys::keystore::ImageVolume;

namespace {

constexpr std::uint64_t kNtfsStart = 18432;  // sectors
constexpr const char* kKeys = "ProgramData/Microsoft/Crypto/RSA/MachineKeys";
constexpr int kKeyFiles = 200;

std::string Sh(const std::string& script) {
  auto r = mkeys::test::Run({"sh", "-c", "set -e; " + script});
  INFO(script << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string Hex(const std::vector<std::uint8_t>& b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

std::vector<std::uint8_t> Unhex(const std::string& h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
  return out;
}

bool NeedRoot() {
  if (geteuid() == 0) return true;
  WARN("SKIPPED: needs root to build the image (mkntfs, an ntfs-3g mount in set-up)");
  return false;
}

// Descriptor of `rel` as the ntfs-3g mount at `mnt` shows it (hex, no 0x).
std::string MountedAcl(const fs::path& mnt, const std::string& rel) {
  const auto out = Sh("getfattr -h -e hex -n system.ntfs_acl '" + (mnt / rel).string() +
                      "' | sed -n 's/^system.ntfs_acl=0x//p'");
  return out.substr(0, out.find('\n'));
}

constexpr const char* kSystem = "010100000000000512000000";
constexpr const char* kAdmins = "01020000000000052000000020020000";
constexpr const char* kNetworkService = "010100000000000514000000";
constexpr const char* kLocalService = "010100000000000513000000";

std::string Le32Hex(std::size_t v) {
  return Hex({static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
              static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)});
}

// A self-relative descriptor (hex): owner, group, a DACL with one ACCESS_ALLOWED ACE.
std::string Sd(const std::string& owner, const std::string& group, const std::string& mask,
               const std::string& trustee) {
  const std::size_t owner_at = 20, group_at = owner_at + owner.size() / 2;
  const std::size_t dacl_at = group_at + group.size() / 2;
  const std::size_t ace_size = 8 + trustee.size() / 2, acl_size = 8 + ace_size;
  return "01000480" + Le32Hex(owner_at) + Le32Hex(group_at) + "00000000" + Le32Hex(dacl_at) +
         owner + group + "0200" + Le32Hex(acl_size).substr(0, 4) + "01000000" + "0000" +
         Le32Hex(ace_size).substr(0, 4) + mask + trustee;
}

// Unmounts `dir` when the scope ends unless done: a failed set-up leaves no mount behind.
struct MountGuard {
  std::string dir;
  ~MountGuard() {
    if (!dir.empty()) (void)mkeys::test::Run({"umount", "-l", dir});
  }
};

struct Disk {
  mkeys::test::TempDir dir;
  fs::path image;
  std::map<std::string, std::string> acls;  // path -> hex, as the mount showed them
};

// The GPT disk: EFI (8 MiB) + NTFS partition holding a small Windows tree.
void BuildDisk(Disk& d) {
  const fs::path root = d.dir.path();
  d.image = root / "disk.img";
  const fs::path vol = root / "ntfs.img", mnt = root / "mnt";
  fs::create_directories(mnt);
  Sh("cd '" + root.string() + "' && truncate -s 48M disk.img && printf 'label: gpt\\n" +
     "start=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI\"\\n" +
     "start=18432, size=77824, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"Windows\"\\n' " +
     "| sfdisk -q disk.img && truncate -s $((77824 * 512)) ntfs.img && " +
     "mkntfs -F -Q -q -L WinTest ntfs.img 2>/dev/null && ntfs-3g ntfs.img mnt");
  const std::string m = mnt.string();
  MountGuard guard{m};
  Sh("cd '" + m + "' && mkdir -p Windows/System32/config " + kKeys +
     " ProgramData/Junction && echo regf > Windows/System32/config/SOFTWARE && cd " + kKeys +
     " && i=0; while [ $i -lt " + std::to_string(kKeyFiles) +
     " ]; do printf 'key%d' $i > k$i; i=$((i+1)); done");
  // Three descriptors differ from the inherited one: owner, group, one ACE each.
  const std::vector<std::string> sds = {Sd(kSystem, kSystem, "ff011f00", kSystem),
                                        Sd(kSystem, kAdmins, "89001200", kNetworkService),
                                        Sd(kAdmins, kSystem, "9f011200", kLocalService)};
  for (int i = 0; i < 3; ++i)
    Sh("setfattr -n system.ntfs_acl -v 0x" + sds[static_cast<std::size_t>(i)] + " '" + m + "/" +
       kKeys + "/k" + std::to_string(i) + "'");
  Sh("setfattr -n system.ntfs_reparse_data -v 0x" + mkeys::test::JunctionReparseHex("C:\\Windows") +
     " '" + m + "/ProgramData/Junction'");
  for (int i = 0; i < kKeyFiles; ++i) {
    const std::string rel = std::string(kKeys) + "/k" + std::to_string(i);
    d.acls[rel] = MountedAcl(mnt, rel);
  }
  d.acls[kKeys] = MountedAcl(mnt, kKeys);
  guard.dir.clear();
  Sh("umount '" + m + "' && dd if='" + vol.string() + "' of='" + d.image.string() +
     "' bs=512 seek=" + std::to_string(kNtfsStart) + " conv=notrunc status=none && rm '" +
     vol.string() + "' && chmod 755 '" + root.string() + "' && chmod 644 '" + d.image.string() +
     "'");
}

// Runs `body` in a child that is nobody/nogroup with no supplementary groups and no
// capabilities; returns what it wrote to stdout (a pipe) and its exit code.
template <typename Body>
std::pair<int, std::string> AsNobody(Body body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0 || geteuid() == 0)
      _exit(99);
    std::ostringstream out;
    const int rc = body(out);
    const std::string s = out.str();
    if (write(1, s.data(), s.size()) != static_cast<ssize_t>(s.size())) _exit(98);
    _exit(rc);
  }
  close(fds[1]);
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

// Child: open the image and print "path\thex" for every descriptor, then "ms\tN".
int DumpAcls(std::ostream& out, const fs::path& image, const std::vector<std::string>& paths) {
  const auto start = std::chrono::steady_clock::now();
  auto vol = ImageVolume::Open(image);
  if (!vol) {
    out << "error\t" << vol.error().ToString() << "\n";
    return 3;
  }
  for (const auto& p : paths) {
    auto sd = (*vol)->ReadSecurityDescriptor(p);
    out << p << "\t" << (sd ? Hex(*sd) : "ERR " + sd.error().ToString()) << "\n";
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  out << "ms\t" << ms.count() << "\n";
  return 0;
}

std::map<std::string, std::string> ParseDump(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos) m[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return m;
}

std::vector<std::string> Keys(const Disk& d) {
  std::vector<std::string> v;
  for (const auto& [path, hex] : d.acls) v.push_back(path);
  return v;
}

std::string OpenError(const fs::path& image, ImageOpenOptions options = {}) {
  auto vol = ImageVolume::Open(image, options);
  REQUIRE_FALSE(vol.ok());
  CHECK(vol.error().ToExitCode() == mkeys::kExitInput);
  return vol.error().ToString();
}

}  // namespace

TEST_CASE("Image descriptors read as nobody equal what the ntfs-3g mount showed",
          "[integration][image]") {
  if (!NeedRoot()) return;
  Disk d;
  BuildDisk(d);
  auto [rc, out] = AsNobody([&](std::ostream& o) { return DumpAcls(o, d.image, Keys(d)); });
  INFO(out);
  REQUIRE(rc == 0);
  auto got = ParseDump(out);
  for (const auto& [path, hex] : d.acls) {
    INFO(path);
    CHECK(got[path] == hex);
  }
  CHECK(got[std::string(kKeys) + "/k0"] != got[std::string(kKeys) + "/k1"]);
  WARN(kKeyFiles + 1 << " descriptors read as nobody in " << got["ms"]
                     << " ms (open of the image included)");
}

TEST_CASE("Image listing and files are read case-insensitively as nobody", "[integration][image]") {
  if (!NeedRoot()) return;
  Disk d;
  BuildDisk(d);
  auto [rc, out] = AsNobody([&](std::ostream& o) {
    auto vol = ImageVolume::Open(d.image);
    if (!vol) return 3;
    const auto& info = (*vol)->info();
    o << "partition\t" << info.partition.index << " " << info.partition.type << " "
      << info.partition.offset << " " << info.has_windows << " " << info.volume_label << "\n";
    auto root = (*vol)->ListDirectory("");
    auto pd = (*vol)->ListDirectory("programdata");
    auto keys = (*vol)->ListDirectory("PROGRAMDATA/microsoft/CRYPTO/rsa/machinekeys");
    auto file = (*vol)->ReadFile("programdata/Microsoft/Crypto/RSA/MachineKeys/K7", 1 << 20);
    auto big = (*vol)->ReadFile("programdata/Microsoft/Crypto/RSA/MachineKeys/K7", 2);
    if (!root || !pd || !keys || !file || big) return 4;
    o << "root\t";
    for (const auto& e : *root) o << e.name << (e.is_directory ? "/ " : " ");
    o << "\nprogramdata\t";
    for (const auto& e : *pd) o << e.name << (e.is_reparse_point ? "@ " : " ");
    o << "\nkeys\t" << keys->size() << "\nk7\t" << std::string(file->begin(), file->end())
      << "\nbig\t" << big.error().ToString() << "\n";
    return 0;
  });
  INFO(out);
  REQUIRE(rc == 0);
  auto got = ParseDump(out);
  CHECK(got["partition"] == "2 basic-data " + std::to_string(kNtfsStart * 512) + " 1 WinTest");
  CHECK(got["root"] == "ProgramData/ Windows/ ");
  CHECK(got["programdata"] == "Junction@ Microsoft ");
  CHECK(got["keys"] == std::to_string(kKeyFiles));
  CHECK(got["k7"] == "key7");
  CHECK_THAT(got["big"], Catch::Contains("more than the 2 allowed"));
}

TEST_CASE("A junction in an image path is a finding and is never followed",
          "[integration][image]") {
  if (!NeedRoot()) return;
  Disk d;
  BuildDisk(d);
  auto vol = ImageVolume::Open(d.image);
  REQUIRE(vol.ok());
  auto is = (*vol)->IsReparsePoint("ProgramData/Junction");
  REQUIRE(is.ok());
  CHECK(*is);
  auto st = (*vol)->Stat("ProgramData/Junction");
  REQUIRE(st.ok());
  CHECK(st->reparse_tag == mkeys::keystore::kReparseTagMountPoint);
  auto found = (*vol)->FindReparsePoint("programdata/junction/System32/config/SAM");
  REQUIRE(found.ok());
  CHECK(found->value_or("none") == "programdata/junction");  // the caller's spelling
  auto clean = (*vol)->FindReparsePoint(std::string(kKeys) + "/k1");
  REQUIRE(clean.ok());
  CHECK_FALSE(clean->has_value());
  auto through = (*vol)->ReadFile("ProgramData/Junction/System32/config/SOFTWARE", 100);
  REQUIRE_FALSE(through.ok());
  CHECK_THAT(through.error().ToString(),
             Catch::Contains("ProgramData/Junction") && Catch::Contains("reparse point"));
}

TEST_CASE("A descriptor written to an image as nobody shows on the mount afterwards",
          "[integration][image]") {
  if (!NeedRoot()) return;
  Disk d;
  BuildDisk(d);
  Sh("chmod 666 '" + d.image.string() + "'");
  const std::string target = std::string(kKeys) + "/k5";
  const std::string wanted = d.acls[std::string(kKeys) + "/k1"];
  auto [rc, out] = AsNobody([&](std::ostream& o) {
    ImageOpenOptions rw;
    rw.writable = true;
    auto vol = ImageVolume::Open(d.image, rw);
    if (!vol) {
      o << "error\t" << vol.error().ToString() << "\n";
      return 3;
    }
    auto w = (*vol)->WriteSecurityDescriptor(target, Unhex(wanted));
    auto bad = (*vol)->WriteSecurityDescriptor(target, std::vector<std::uint8_t>{1, 0, 4, 0});
    o << "write\t" << (w ? "ok" : w.error().ToString()) << "\nbad\t"
      << (bad ? "accepted" : bad.error().ToString()) << "\n";
    return 0;
  });
  INFO(out);
  REQUIRE(rc == 0);
  auto got = ParseDump(out);
  REQUIRE(got["write"] == "ok");
  CHECK_THAT(got["bad"], Catch::Contains("not a valid self-relative security descriptor"));
  const fs::path part = d.dir.path() / "part.img", mnt = d.dir.path() / "m";
  fs::create_directories(mnt);
  Sh("dd if='" + d.image.string() + "' of='" + part.string() +
     "' bs=512 skip=" + std::to_string(kNtfsStart) + " status=none");
  std::string shown, other;
  {
    Sh("ntfs-3g -o ro '" + part.string() + "' '" + mnt.string() + "'");
    MountGuard guard{mnt.string()};
    shown = MountedAcl(mnt, target);
    other = MountedAcl(mnt, std::string(kKeys) + "/k6");
  }
  CHECK(shown == wanted);
  CHECK(other == d.acls[std::string(kKeys) + "/k6"]);
  const auto audit = Sh("ntfssecaudit -a '" + part.string() + "' 2>&1");
  CHECK_THAT(audit, Catch::Contains("No errors were found"));
}

TEST_CASE("The same descriptors are read from a VHDX made with qemu-img", "[integration][image]") {
  if (!NeedRoot()) return;
  Disk d;
  BuildDisk(d);
  const fs::path vhdx = d.dir.path() / "disk.vhdx";
  Sh("qemu-img convert -O vhdx '" + d.image.string() + "' '" + vhdx.string() + "' && chmod 644 '" +
     vhdx.string() + "'");
  auto [rc, out] = AsNobody([&](std::ostream& o) { return DumpAcls(o, vhdx, Keys(d)); });
  INFO(out);
  REQUIRE(rc == 0);
  auto got = ParseDump(out);
  for (const auto& [path, hex] : d.acls) {
    INFO(path);
    CHECK(got[path] == hex);
  }
  ImageOpenOptions rw;
  rw.writable = true;
  CHECK_THAT(OpenError(vhdx, rw),
             Catch::Contains("read-only") && Catch::Contains("qemu-img convert -O raw"));
}

TEST_CASE("Broken images give clear errors and are not written", "[integration][image]") {
  if (!NeedRoot()) return;
  Disk d;
  BuildDisk(d);
  const fs::path root = d.dir.path();
  Sh("cd '" + root.string() + "' && cp disk.img short.img && truncate -s 30M short.img && " +
     "truncate -s 1M zeros.img && dd if=disk.img of=bare.img bs=512 skip=" +
     std::to_string(kNtfsStart) + " count=20000 status=none");
  CHECK_THAT(OpenError(root / "short.img"), Catch::Contains("partition 2 (basic-data)") &&
                                                Catch::Contains("past the end of the image"));
  CHECK_THAT(OpenError(root / "zeros.img"),
             Catch::Contains("not an NTFS volume and no partition table"));
  CHECK_THAT(OpenError(root / "bare.img"), Catch::Contains("truncated image"));
  CHECK_THAT(OpenError(root / "missing.img"), Catch::Contains("cannot open the image"));
  ImageOpenOptions efi;
  efi.partition = 1;
  CHECK_THAT(OpenError(d.image, efi), Catch::Contains("partition 1 is not an NTFS volume"));
  const auto before = Sh("sha256sum < '" + (root / "short.img").string() + "'");
  ImageOpenOptions rw;
  rw.writable = true;
  (void)OpenError(root / "short.img", rw);
  CHECK(Sh("sha256sum < '" + (root / "short.img").string() + "'") == before);
}

TEST_CASE("A hibernated Windows volume in an image is refused", "[integration][image]") {
  if (!NeedRoot()) return;
  mkeys::test::TempDir dir;
  const std::string vol = (dir.path() / "vol.img").string();
  const std::string mnt = (dir.path() / "m").string();
  fs::create_directories(mnt);
  Sh("truncate -s 16M '" + vol + "' && mkntfs -F -Q -q '" + vol + "' 2>/dev/null && ntfs-3g '" +
     vol + "' '" + mnt + "' && mkdir -p '" + mnt + "/Windows/System32/config' && (printf HIBR; " +
     "head -c 8188 /dev/zero) > '" + mnt + "/hiberfil.sys' && umount '" + mnt + "'");
  const auto before = Sh("sha256sum < '" + vol + "'");
  ImageOpenOptions rw;
  rw.writable = true;
  for (const auto& options : {ImageOpenOptions{}, rw}) {
    CHECK_THAT(OpenError(vol, options),
               Catch::Contains("refused") && Catch::Contains("hibernated"));
  }
  CHECK(Sh("sha256sum < '" + vol + "'") == before);
}
