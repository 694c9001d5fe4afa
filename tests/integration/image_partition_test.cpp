// SPDX-License-Identifier: GPL-3.0-or-later
// Disk images with several NTFS partitions and store oddities (issue 13): the repair journal
// records the partition it wrote (restore opens that one again, and refuses when the table
// moved it), and MK031-MK033 (links, staging files, hard links in MachineKeys) are found on
// the image read without a mount as they are on an ntfs-3g mount of it. The images are built
// as root with Debian tools (set-up only); mkeys runs on them as nobody.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
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
#include "support/reparse.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "5d0c9a51-77e2-4b1f-9a8c-3e6f1b2a4c7d";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";
constexpr const char* kName = "TMGArrayKey";

struct Part {
  std::uint64_t start;    // sectors
  std::uint64_t sectors;  // sectors
};
// Two NTFS partitions (basic data); free space after the second, so the table can grow it.
constexpr Part kParts[2] = {{2048, 40960}, {43008, 110592}};

std::string Sh(const std::string& script) {
  auto r = test::Run({"sh", "-c", "set -e; " + script});
  INFO(script << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string Q(const fs::path& p) {
  return "'" + p.string() + "'";
}

std::vector<std::uint8_t> Bytes(const fs::path& path, std::uint64_t offset = 0,
                                std::uint64_t length = ~0ull) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<std::uint8_t> all{std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>()};
  if (all.size() > length) all.resize(length);
  return all;
}

void WriteFile(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void SetSddl(const fs::path& path, std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(test::NtfsMount::SetDescriptor(path, sd->Encode()));
}

using Descriptors = std::map<std::string, std::vector<std::uint8_t>>;
Descriptors ReadDescriptors(const fs::path& mnt) {
  Descriptors out;
  for (const auto& e : fs::recursive_directory_iterator(mnt / "ProgramData")) {
    if (fs::is_symlink(e.symlink_status())) continue;
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

struct Disk {
  test::TempDir dir;
  fs::path image;
};

// Mounts partition `index` (1 or 2) of the image, copied out with dd, at dir/mnt; runs `body`;
// when `write_back`, copies the partition back into the image.
template <typename Body>
void WithMount(const Disk& d, int index, bool write_back, Body body) {
  const Part p = kParts[index - 1];
  const fs::path vol = d.dir.path() / "part.img", mnt = d.dir.path() / "mnt";
  fs::create_directories(mnt);
  Sh("dd if=" + Q(d.image) + " of=" + Q(vol) + " bs=512 skip=" + std::to_string(p.start) +
     " count=" + std::to_string(p.sectors) + " status=none && ntfs-3g " + Q(vol) + " " + Q(mnt) +
     " -o permissions");
  struct Guard {
    fs::path mnt;
    ~Guard() { (void)test::Run({"umount", "-l", mnt.string()}); }
  } guard{mnt};
  body(mnt);
  Sh("umount " + Q(mnt));
  if (write_back) {
    Sh("dd if=" + Q(vol) + " of=" + Q(d.image) + " bs=512 seek=" + std::to_string(p.start) +
       " conv=notrunc status=none");
  }
  fs::remove(vol);
}

// The store chain with default descriptors, the machine's hives, and a hardened MachineKeys
// (two descriptors a repair changes).
void BuildTree(const Disk& d, const fs::path& mnt) {
  for (const auto& dd : keystore::kDefaultDirectories) {
    fs::create_directories(mnt / dd.relative_path);
    SetSddl(mnt / dd.relative_path, dd.sddl);
  }
  const fs::path staging = d.dir.path() / "hives";
  if (!fs::exists(staging)) {  // written once: both partitions get the same machine's hives
    fs::create_directories(staging);
    REQUIRE(keystore::WriteModelPolicy(staging, kGuid, acl::DefaultPrivilegeAssignments()));
  }
  fs::create_directories(mnt / "Windows/System32/config");
  Sh("cp " + Q(staging / "Windows/System32/config") + "/* " + Q(mnt / "Windows/System32/config"));
  const fs::path keys = mnt / keystore::kMachineKeysRelative;
  const auto array_key = keys / keystore::ContainerFileName(kName, kGuid);
  WriteFile(array_key, keystore::MakeSyntheticCapiContainerFile(kName, 2048, 2048));
  SetSddl(keys, "O:SYG:SYD:PAI(A;;FA;;;BA)");
  SetSddl(array_key, "O:SYG:SYD:P(A;;FA;;;SY)");
}

// A GPT disk with two NTFS partitions, each holding a Windows tree of the same machine (an
// installation and its copy): without --partition, the first would be taken.
void BuildDisk(Disk& d) {
  const fs::path root = d.dir.path();
  d.image = root / "disk.img";
  std::string script = "cd " + Q(root) + " && truncate -s 96M disk.img && printf 'label: gpt\\n";
  for (const auto& p : kParts) {
    script += "start=" + std::to_string(p.start) + ", size=" + std::to_string(p.sectors) +
              ", type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\\n";
  }
  script += "' | sfdisk -q disk.img";
  for (const auto& p : kParts) {
    script += " && truncate -s $((" + std::to_string(p.sectors) + " * 512)) ntfs.img" +
              " && mkntfs -F -Q -q ntfs.img 2>/dev/null && dd if=ntfs.img of=disk.img bs=512" +
              " seek=" + std::to_string(p.start) + " conv=notrunc status=none && rm ntfs.img";
  }
  Sh(script);
  for (int i = 1; i <= 2; ++i) {
    WithMount(d, i, true, [&](const fs::path& mnt) { BuildTree(d, mnt); });
  }
  Sh("chmod 777 " + Q(root) + " && chmod 666 " + Q(d.image));
}

test::RunResult AsNobody(std::vector<std::string> args) {
  args.insert(args.begin(),
              {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", MKEYS_BINARY});
  return test::Run(args);
}

std::vector<std::uint8_t> Partition(const Disk& d, int index) {
  const Part p = kParts[index - 1];
  return Bytes(d.image, p.start * 512, p.sectors * 512);
}

// (rule, object) of every MK031-MK033 finding of an audit's JSON.
std::set<std::pair<std::string, std::string>> LinkFindings(const std::string& audit_json) {
  auto doc = nlohmann::json::parse(audit_json, nullptr, false);
  REQUIRE(!doc.is_discarded());
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& r : doc["results"]) {
    const auto rule = r["rule"].get<std::string>();
    if (rule != "MK031" && rule != "MK032" && rule != "MK033") continue;
    for (const auto& f : r["findings"]) out.insert({rule, f.value("object", std::string())});
  }
  return out;
}

}  // namespace

TEST_CASE("restore of a repair on partition 2 restores partition 2 without --partition",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  const std::string img = d.image.string();
  const std::string service = std::string(kNs) + "=" + kName;
  Descriptors before;
  WithMount(d, 2, false, [&](const fs::path& mnt) { before = ReadDescriptors(mnt); });
  const auto part1 = Partition(d, 1);

  const fs::path journal = d.dir.path() / "repair.journal";
  auto apply = AsNobody({"repair", img, "--partition", "2", "--service", service, "--apply",
                         "--journal", journal.string()});
  INFO(apply.out << apply.err);
  CHECK((apply.exit_code == 0 || apply.exit_code == 1));
  WithMount(d, 2, false, [&](const fs::path& mnt) {
    const auto after = ReadDescriptors(mnt);
    std::size_t changed = 0;
    for (const auto& [path, bytes] : before) changed += after.at(path) != bytes ? 1 : 0;
    CHECK(changed == 2u);
  });
  CHECK(Partition(d, 1) == part1);

  // No --partition: the journal names partition 2 (the first would be taken otherwise).
  auto restore = AsNobody({"restore", journal.string()});
  INFO(restore.out << restore.err);
  CHECK(restore.exit_code == 0);
  WithMount(d, 2, false, [&](const fs::path& mnt) { CHECK(ReadDescriptors(mnt) == before); });
  CHECK(Partition(d, 1) == part1);
}

TEST_CASE("restore refuses when the partition table no longer places the journal's partition",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  const std::string img = d.image.string();
  const fs::path journal = d.dir.path() / "repair.journal";
  auto apply = AsNobody({"repair", img, "--partition", "2", "--service",
                         std::string(kNs) + "=" + kName, "--apply", "--journal", journal.string()});
  INFO(apply.out << apply.err);
  REQUIRE((apply.exit_code == 0 || apply.exit_code == 1));
  // Partition 2 grown into the free space after it: same number, other bytes.
  Sh("echo ',+' | sfdisk -q --no-reread -N 2 " + Q(d.image));
  const auto image = Bytes(d.image);
  auto restore = AsNobody({"restore", journal.string()});
  INFO(restore.out << restore.err);
  CHECK(restore.exit_code == 3);
  CHECK(restore.err.find("partition 2") != std::string::npos);
  CHECK(restore.err.find("partition table changed") != std::string::npos);
  CHECK(Bytes(d.image) == image);
}

TEST_CASE("links staging files and hard links in MachineKeys are found on an image as on a mount",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  const std::string keys(keystore::kMachineKeysRelative);
  const std::string key = keystore::ContainerFileName(kName, kGuid);
  WithMount(d, 2, true, [&](const fs::path& mnt) {
    const fs::path dir = mnt / keys;
    fs::create_symlink("/etc/ssl/private/elsewhere", dir / "linked_key");
    fs::create_hard_link(dir / key, dir / "hardlinked_copy");
    WriteFile(dir / ".mkeys-staging-x", keystore::MakeSyntheticCapiContainerFile("x", 2048));
  });
  std::string mount_audit;
  WithMount(d, 2, false, [&](const fs::path& mnt) {
    mount_audit = test::Mkeys({"audit", mnt.string(), "--format", "json"}).out;
  });
  auto audit = AsNobody({"audit", d.image.string(), "--partition", "2", "--format", "json"});
  INFO(audit.err);
  CHECK(audit.exit_code == 1);
  INFO(audit.out);
  const auto image_objects = LinkFindings(audit.out);
  const auto mount_objects = LinkFindings(mount_audit);
  CHECK(image_objects == mount_objects);
  CHECK(image_objects.count({"MK031", "MachineKeys/linked_key"}) == 1u);
  CHECK(image_objects.count({"MK032", "MachineKeys/.mkeys-staging-x"}) == 1u);
  CHECK(image_objects.count({"MK033", "MachineKeys/hardlinked_copy"}) == 1u);
  CHECK(image_objects.count({"MK033", "MachineKeys/" + key}) == 1u);
}

TEST_CASE("a symbolic link in the store chain is found on an image as on a mount",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  WithMount(d, 2, true, [&](const fs::path& mnt) {
    const fs::path crypto = mnt / "ProgramData/Microsoft/Crypto";
    fs::rename(crypto / "RSA", crypto / "RSA.real");
    fs::create_symlink("RSA.real", crypto / "RSA");
  });
  std::string mount_audit;
  WithMount(d, 2, false, [&](const fs::path& mnt) {
    mount_audit = test::Mkeys({"audit", mnt.string(), "--format", "json"}).out;
  });
  auto audit = AsNobody({"audit", d.image.string(), "--partition", "2", "--format", "json"});
  INFO(audit.out << audit.err);
  const auto on_image = LinkFindings(audit.out);
  CHECK(on_image == LinkFindings(mount_audit));
  CHECK(on_image.count({"MK031", "ProgramData/Microsoft/Crypto/RSA"}) == 1u);
}

// Real junctions, as `mklink /J` makes them (reparse tag 0xA0000003 with a "\??\C:\..." target),
// written through ntfs-3g's system.ntfs_reparse_data: one inside MachineKeys pointing at
// C:\Windows, and one replacing Crypto\RSA pointing at the real folder moved aside. Read from
// the image without a mount, as nobody, each is MK031 as on the mount; a repair of the image
// changes nothing under either junction's target.
TEST_CASE("junctions in MachineKeys and in the store chain are found on an image and not followed",
          "[integration][image]") {
  if (const auto why = Why(); !why.empty()) {
    WARN("SKIPPED: " + why);
    return;
  }
  Disk d;
  BuildDisk(d);
  const std::string keys(keystore::kMachineKeysRelative);
  const bool in_chain = GENERATE(false, true);
  INFO((in_chain ? "Crypto/RSA is a junction" : "MachineKeys/jdir is a junction"));
  // Inside MachineKeys, findings name objects from MachineKeys on.
  const std::string link = in_chain ? "ProgramData/Microsoft/Crypto/RSA" : "MachineKeys/jdir";
  const std::string path = in_chain ? link : keys + "/jdir";
  // The descriptors beneath each junction's target, read on the mount before and after.
  auto targets = [&](const fs::path& mnt) {
    Descriptors out;
    const fs::path top = in_chain ? mnt / "ProgramData/Microsoft/Crypto/RSA.real" : mnt / "Windows";
    out[top.string()] = test::NtfsMount::GetDescriptor(top);
    for (const auto& e : fs::recursive_directory_iterator(top)) {
      out[e.path().string()] = test::NtfsMount::GetDescriptor(e.path());
    }
    return out;
  };
  Descriptors before;
  WithMount(d, 2, true, [&](const fs::path& mnt) {
    const fs::path crypto = mnt / "ProgramData/Microsoft/Crypto";
    std::string target = "C:\\Windows";
    if (in_chain) {
      fs::rename(crypto / "RSA", crypto / "RSA.real");
      fs::create_directory(crypto / "RSA");
      target = "C:\\ProgramData\\Microsoft\\Crypto\\RSA.real";
    } else {
      fs::create_directory(mnt / path);
    }
    Sh("setfattr -n system.ntfs_reparse_data -v 0x" + test::JunctionReparseHex(target) + " " +
       Q(mnt / path));
    before = targets(mnt);
  });
  std::string mount_audit;
  WithMount(d, 2, false, [&](const fs::path& mnt) {
    mount_audit = test::Mkeys({"audit", mnt.string(), "--format", "json"}).out;
  });
  auto audit = AsNobody({"audit", d.image.string(), "--partition", "2", "--format", "json"});
  INFO(audit.out << audit.err);
  CHECK(audit.exit_code == 1);
  const auto on_image = LinkFindings(audit.out);
  CHECK(on_image == LinkFindings(mount_audit));
  CHECK(on_image.count({"MK031", link}) == 1u);
  // Named as Windows names it, on the image and on the mount (JSON doubles the backslashes).
  const std::string shown =
      in_chain ? "junction to C:\\\\ProgramData" : "junction to C:\\\\Windows";
  CHECK_THAT(audit.out, Catch::Contains(shown));
  CHECK_THAT(mount_audit, Catch::Contains(shown));

  const fs::path journal = d.dir.path() / "J";
  auto repair =
      AsNobody({"repair", d.image.string(), "--partition", "2", "--service",
                std::string(kNs) + "=" + kName, "--apply", "--journal", journal.string()});
  INFO(repair.out << repair.err);
  CHECK(repair.exit_code != 0);  // the junction is left to a person
  CHECK_THAT(repair.out + repair.err, Catch::Contains(link));
  WithMount(d, 2, false, [&](const fs::path& mnt) { CHECK(targets(mnt) == before); });
}
