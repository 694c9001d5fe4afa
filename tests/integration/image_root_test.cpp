// SPDX-License-Identifier: GPL-3.0-or-later
// A disk image as a machine root (issue 13): a GPT disk with an EFI partition and an NTFS
// partition holding a hardened Windows tree (hives included) is built with Debian tools as
// root (set-up only); then `mkeys audit/store list/diagnose/sd get/repair --apply/restore`
// run on the image file as nobody (setpriv), and what they find and write is compared with
// what the same tree shows through an ntfs-3g mount.
#include <unistd.h>

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"
#include "support/ntfs.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";
constexpr const char* kName = "TMGArrayKey";
constexpr std::uint64_t kNtfsStart = 18432;     // sectors
constexpr std::uint64_t kNtfsSectors = 110592;  // 54 MiB

std::string Sh(const std::string& script) {
  auto r = test::Run({"sh", "-c", "set -e; " + script});
  INFO(script << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string Q(const fs::path& p) {
  return "'" + p.string() + "'";
}

void WriteFile(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint8_t> Bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void SetSddl(const fs::path& path, std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(test::NtfsMount::SetDescriptor(path, sd->Encode()));
}

// Every descriptor under ProgramData, by path relative to the mount.
using Descriptors = std::map<std::string, std::vector<std::uint8_t>>;
Descriptors ReadDescriptors(const fs::path& mnt) {
  Descriptors out;
  for (const auto& e : fs::recursive_directory_iterator(mnt / "ProgramData")) {
    out[e.path().lexically_relative(mnt).generic_string()] =
        test::NtfsMount::GetDescriptor(e.path());
  }
  return out;
}

std::string Why() {
  if (geteuid() != 0) return "needs root to build the image (mkntfs, an ntfs-3g mount)";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is not available";
  for (const char* tool :
       {"/usr/sbin/mkntfs", "/usr/bin/ntfs-3g", "/usr/sbin/sfdisk", "/usr/bin/setpriv"}) {
    if (::access(tool, X_OK) != 0) return std::string(tool) + " is not installed";
  }
  return {};
}

// The GPT disk and what its tree looked like through the mount.
struct Disk {
  test::TempDir dir;
  fs::path image;
  Descriptors before;
  std::string keys_rel;  // ProgramData/.../MachineKeys
  std::string array_key;
};

// Mounts the NTFS partition of `image` (copied out with dd: no loop device) at dir/mnt,
// runs `body`, unmounts; when `write_back`, the partition is copied back into the image.
template <typename Body>
void WithMount(const Disk& d, bool write_back, Body body) {
  const fs::path vol = d.dir.path() / "part.img", mnt = d.dir.path() / "mnt";
  fs::create_directories(mnt);
  Sh("dd if=" + Q(d.image) + " of=" + Q(vol) + " bs=512 skip=" + std::to_string(kNtfsStart) +
     " count=" + std::to_string(kNtfsSectors) + " status=none && ntfs-3g " + Q(vol) + " " + Q(mnt) +
     " -o permissions");
  struct Guard {
    fs::path mnt;
    ~Guard() { (void)test::Run({"umount", "-l", mnt.string()}); }
  } guard{mnt};
  body(mnt);
  Sh("umount " + Q(mnt));
  if (write_back) {
    Sh("dd if=" + Q(vol) + " of=" + Q(d.image) + " bs=512 seek=" + std::to_string(kNtfsStart) +
       " conv=notrunc status=none");
  }
  fs::remove(vol);
}

void BuildTree(Disk& d, const fs::path& mnt, int extra_keys) {
  for (const auto& dd : keystore::kDefaultDirectories) {
    fs::create_directories(mnt / dd.relative_path);
    SetSddl(mnt / dd.relative_path, dd.sddl);
  }
  // Hives as `machine init` writes them: Windows' default user rights (everyone holds
  // SeChangeNotifyPrivilege), so the damage below is the only damage.
  const fs::path staging = d.dir.path() / "hives";
  fs::create_directories(staging);
  REQUIRE(keystore::WriteModelPolicy(staging, kGuid, acl::DefaultPrivilegeAssignments()));
  fs::create_directories(mnt / "Windows/System32/config");
  Sh("cp " + Q(staging / "Windows/System32/config") + "/* " + Q(mnt / "Windows/System32/config"));
  const fs::path keys = mnt / keystore::kMachineKeysRelative;
  d.keys_rel = std::string(keystore::kMachineKeysRelative);
  const auto array_key = keys / keystore::ContainerFileName(kName, kGuid);
  d.array_key = array_key.filename().string();
  WriteFile(array_key, keystore::MakeSyntheticCapiContainerFile(kName, 2048, 2048));
  const auto other = keys / keystore::ContainerFileName("iisConfigurationKey", kGuid);
  WriteFile(other, keystore::MakeSyntheticCapiContainerFile("iisConfigurationKey", 2048));
  SetSddl(other, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)");
  // Hardened as a vendor did: the damage the audit finds.
  SetSddl(keys, "O:SYG:SYD:PAI(A;;FA;;;BA)");
  SetSddl(array_key, "O:SYG:SYD:P(A;;FA;;;SY)");
  // More containers the service must read and cannot: one repair step each.
  for (int i = 0; i < extra_keys; ++i) {
    const std::string name = std::string(kName) + std::to_string(i);
    const auto file = keys / keystore::ContainerFileName(name, kGuid);
    WriteFile(file, keystore::MakeSyntheticCapiContainerFile(name, 2048));
    SetSddl(file, "O:SYG:SYD:P(A;;FA;;;SY)");
  }
}

void BuildDisk(Disk& d, int extra_keys = 0) {
  const fs::path root = d.dir.path();
  d.image = root / "disk.img";
  Sh("cd " + Q(root) + " && truncate -s 64M disk.img && printf 'label: gpt\\n" +
     "start=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI\"\\n" +
     "start=" + std::to_string(kNtfsStart) + ", size=" + std::to_string(kNtfsSectors) +
     ", type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"Windows\"\\n' | sfdisk -q disk.img" +
     " && truncate -s $((" + std::to_string(kNtfsSectors) + " * 512)) ntfs.img" +
     " && mkntfs -F -Q -q -L WinTest ntfs.img 2>/dev/null && dd if=ntfs.img of=disk.img bs=512" +
     " seek=" + std::to_string(kNtfsStart) + " conv=notrunc status=none && rm ntfs.img");
  WithMount(d, true, [&](const fs::path& mnt) {
    BuildTree(d, mnt, extra_keys);
    d.before = ReadDescriptors(mnt);
  });
  // nobody may read and write the image and write its journal beside it.
  Sh("chmod 777 " + Q(root) + " && chmod 666 " + Q(d.image));
}

// ntfssecaudit -a on a copy of the NTFS partition: the volume's security data consistent.
std::string SecAudit(const Disk& d) {
  const fs::path vol = d.dir.path() / "audit.img";
  Sh("dd if=" + Q(d.image) + " of=" + Q(vol) + " bs=512 skip=" + std::to_string(kNtfsStart) +
     " count=" + std::to_string(kNtfsSectors) + " status=none");
  auto r = test::Run({"ntfssecaudit", "-a", vol.string()});
  fs::remove(vol);
  INFO(r.out << r.err);
  return r.out + r.err;
}

test::RunResult AsNobody(std::vector<std::string> args) {
  args.insert(args.begin(),
              {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", MKEYS_BINARY});
  return test::Run(args);
}

// The same command on the mount (as root) and on the image (as nobody): the outputs with the
// root's name taken out.
std::string WithoutRoot(std::string text, const std::string& root) {
  for (std::size_t at; (at = text.find(root)) != std::string::npos;)
    text.replace(at, root.size(), "ROOT");
  return text;
}

nlohmann::json Results(const std::string& audit_json) {
  auto doc = nlohmann::json::parse(audit_json, nullptr, false);
  REQUIRE(!doc.is_discarded());
  return doc["results"];
}

}  // namespace

TEST_CASE("audit store list diagnose sd get repair and restore on a GPT disk image as nobody",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  const std::string service = std::string(kNs) + "=" + kName;
  const std::string img = d.image.string();

  // What the mount shows: audit, store list, diagnose, one descriptor.
  std::string mount_audit, mount_list, mount_diag, mount_root;
  WithMount(d, false, [&](const fs::path& mnt) {
    mount_root = mnt.string();
    mount_audit = test::Mkeys({"audit", mount_root, "--service", service, "--format", "json"}).out;
    mount_list = test::Mkeys({"store", "list", mount_root}).out;
    mount_diag = test::Mkeys({"diagnose", mount_root, "--as", kNs, "--container", kName}).out;
  });

  // The image, as nobody.
  const auto image_before = Bytes(d.image);
  auto audit = AsNobody({"audit", img, "--service", service, "--format", "json"});
  INFO(audit.err);
  CHECK(audit.exit_code == 1);
  const auto results = Results(audit.out);
  CHECK(results == Results(mount_audit));
  std::map<std::string, int> rules;
  for (const auto& r : results) rules[r["rule"].get<std::string>()] = 1;
  CHECK(rules.count("MK001") == 1u);
  CHECK(rules.count("MK004") == 1u);

  auto list = AsNobody({"store", "list", img});
  INFO(list.out << list.err);
  CHECK(list.exit_code == 0);
  CHECK(WithoutRoot(list.out, img) == WithoutRoot(mount_list, mount_root));
  CHECK(list.out.find(kName) != std::string::npos);

  auto diag = AsNobody({"diagnose", img, "--as", kNs, "--container", kName});
  CHECK(diag.exit_code == 1);
  CHECK(WithoutRoot(diag.out, img) == WithoutRoot(mount_diag, mount_root));
  CHECK(diag.out.find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);

  auto sd = AsNobody({"sd", "get", img + "/" + d.keys_rel, "--format", "hex"});
  CHECK(sd.exit_code == 0);
  std::string hex;
  for (auto b : d.before.at(d.keys_rel)) hex += fmt::format("{:02x}", b);
  CHECK(sd.out.substr(0, sd.out.find('\n')) == hex);
  CHECK(Bytes(d.image) == image_before);  // read-only commands wrote nothing

  // Repair, as nobody: journal first, the fixed descriptors visible through a mount afterwards.
  const fs::path journal = d.dir.path() / "repair.journal";
  auto apply =
      AsNobody({"repair", img, "--service", service, "--apply", "--journal", journal.string()});
  INFO(apply.out << apply.err);
  CHECK(apply.out.find("Verified") != std::string::npos);
  CHECK((apply.exit_code == 0 || apply.exit_code == 1));
  const std::string array_rel = d.keys_rel + "/" + d.array_key;
  WithMount(d, false, [&](const fs::path& mnt) {
    const auto after = ReadDescriptors(mnt);
    std::size_t changed = 0;
    for (const auto& [path, bytes] : d.before) changed += after.at(path) != bytes ? 1 : 0;
    CHECK(changed == 2u);
    CHECK(acl::FormatSddl(*acl::SecurityDescriptor::Decode(after.at(array_rel))) ==
          "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  });
  CHECK(SecAudit(d).find("No errors were found") != std::string::npos);
  auto again = AsNobody({"diagnose", img, "--as", kNs, "--container", kName});
  CHECK(again.exit_code == 0);

  // Restore, as nobody: every descriptor back byte for byte.
  auto restore = AsNobody({"restore", journal.string()});
  INFO(restore.out << restore.err);
  CHECK(restore.exit_code == 0);
  WithMount(d, false, [&](const fs::path& mnt) { CHECK(ReadDescriptors(mnt) == d.before); });
}

TEST_CASE("a VHDX made from the disk image gives the same audit and refuses repair",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  if (::access("/usr/bin/qemu-img", X_OK) != 0) {
    WARN("SKIPPED: qemu-img is not installed");
    return;
  }
  Disk d;
  BuildDisk(d);
  const fs::path vhdx = d.dir.path() / "disk.vhdx";
  Sh("qemu-img convert -O vhdx " + Q(d.image) + " " + Q(vhdx) + " && chmod 666 " + Q(vhdx));
  const std::string service = std::string(kNs) + "=" + kName;
  auto raw = AsNobody({"audit", d.image.string(), "--service", service, "--format", "json"});
  auto vx = AsNobody({"audit", vhdx.string(), "--service", service, "--format", "json"});
  INFO(vx.err);
  CHECK(vx.exit_code == 1);
  CHECK(Results(vx.out) == Results(raw.out));

  const auto before = Bytes(vhdx);
  const fs::path journal = d.dir.path() / "vhdx.journal";
  auto apply = AsNobody(
      {"repair", vhdx.string(), "--service", service, "--apply", "--journal", journal.string()});
  CHECK(apply.exit_code == 3);
  CHECK(apply.err.find("qemu-img convert -O raw") != std::string::npos);
  CHECK(Bytes(vhdx) == before);
  CHECK(!fs::exists(journal));
}

TEST_CASE("images that are not NTFS or are truncated or whose table points past the end exit 3",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  const fs::path dir = d.dir.path();
  // Not NTFS: random bytes. Truncated: the disk cut inside its NTFS partition (the table then
  // points past the end). A bare NTFS volume cut short: truncated inside the volume.
  Sh("cd " + Q(dir) + " && head -c 4194304 /dev/urandom > random.img && cp disk.img cut.img" +
     " && truncate -s 40M cut.img && dd if=disk.img of=bare.img bs=512 skip=" +
     std::to_string(kNtfsStart) + " count=20000 status=none && chmod 666 *.img");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"random.img", "not an NTFS volume"},
      {"cut.img", "past the end of the image"},
      {"bare.img", "truncated image"},
  };
  for (const auto& [file, message] : cases) {
    const fs::path image = dir / file;
    const auto before = Bytes(image);
    for (const bool apply : {false, true}) {
      std::vector<std::string> args = {apply ? "repair" : "audit", image.string()};
      if (apply) args.insert(args.end(), {"--apply", "--journal", (dir / (file + ".j")).string()});
      auto r = AsNobody(args);
      INFO(file << " " << r.err);
      CHECK(r.exit_code == 3);
      CHECK(r.err.find(message) != std::string::npos);
      CHECK(Bytes(image) == before);
      CHECK(!fs::exists(dir / (file + ".j")));
    }
  }
}

TEST_CASE("strace of audit and repair on an image shows no mount no loop device and no copy",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  if (::access("/usr/bin/strace", X_OK) != 0) {
    WARN("SKIPPED: strace is not installed");
    return;
  }
  Disk d;
  BuildDisk(d);
  const std::string service = std::string(kNs) + "=" + kName;
  const fs::path journal = d.dir.path() / "s.journal";
  const std::vector<std::vector<std::string>> commands = {
      {"audit", d.image.string(), "--service", service, "--format", "json"},
      {"repair", d.image.string(), "--service", service, "--apply", "--journal", journal.string()},
  };
  for (const auto& command : commands) {
    const fs::path log = d.dir.path() / "strace.log";
    std::vector<std::string> args = {"strace",
                                     "-f",
                                     "-qq",
                                     "-o",
                                     log.string(),
                                     "-e",
                                     "trace=mount,umount2,fsopen,move_mount,ioctl,openat,open,"
                                     "copy_file_range,sendfile,splice,memfd_create",
                                     "setpriv",
                                     "--reuid=nobody",
                                     "--regid=nogroup",
                                     "--clear-groups",
                                     MKEYS_BINARY};
    args.insert(args.end(), command.begin(), command.end());
    auto r = test::Run(args);
    INFO(command[0] << " " << r.err);
    CHECK((r.exit_code == 0 || r.exit_code == 1));
    std::ifstream in(log);
    std::string line;
    std::size_t image_opens = 0;
    while (std::getline(in, line)) {
      INFO(line);
      CHECK(line.find("mount(") == std::string::npos);
      CHECK(line.find("LOOP_") == std::string::npos);
      CHECK(line.find("/dev/loop") == std::string::npos);
      CHECK(line.find("copy_file_range(") == std::string::npos);
      CHECK(line.find("sendfile(") == std::string::npos);
      CHECK(line.find("splice(") == std::string::npos);
      // Every file created is the journal (and its directory's sync): no copy of the image.
      if (line.find("O_CREAT") != std::string::npos) {
        CHECK(line.find(journal.filename().string()) != std::string::npos);
      }
      if (line.find(d.image.string()) != std::string::npos &&
          line.find("open") != std::string::npos) {
        ++image_opens;
        if (command[0] == "audit") CHECK(line.find("O_RDONLY") != std::string::npos);
      }
    }
    CHECK(image_opens >= 1u);
  }
}

TEST_CASE("repair on an image killed at 10 points is restored byte for byte",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d, 12);  // 14 steps: MachineKeys, the array key, 12 more containers
  const fs::path pristine = d.dir.path() / "pristine.img";
  fs::copy_file(d.image, pristine);
  const std::string service = std::string(kNs) + "=" + kName + "*";
  for (int k = 0; k < 10; ++k) {
    INFO("killed after " << k << " writes");
    Sh("cp " + Q(pristine) + " " + Q(d.image) + " && chmod 666 " + Q(d.image));
    const fs::path journal = d.dir.path() / ("kill" + std::to_string(k) + ".journal");
    auto killed = test::Run({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             "env", "MKEYS_FAULT_AFTER_N=" + std::to_string(k), MKEYS_BINARY,
                             "repair", d.image.string(), "--service", service, "--apply",
                             "--journal", journal.string()});
    INFO(killed.out << killed.err);
    CHECK(killed.exit_code == 128 + 9);
    if (k > 0) {
      // The writes before the kill are on disk: the image differs from the pristine one.
      CHECK(Bytes(d.image) != Bytes(pristine));
    }
    auto restore = AsNobody({"restore", journal.string()});
    INFO(restore.out << restore.err);
    CHECK(restore.exit_code == 0);
    WithMount(d, false, [&](const fs::path& mnt) { CHECK(ReadDescriptors(mnt) == d.before); });
  }
  CHECK(SecAudit(d).find("No errors were found") != std::string::npos);
}
