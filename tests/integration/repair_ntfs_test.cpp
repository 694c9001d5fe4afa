// SPDX-License-Identifier: GPL-3.0-or-later
// The seed's diagnose / audit / repair / restore flow on a real NTFS volume (mkntfs + ntfs-3g)
// with CAPI-format key files and the volume's own descriptors (system.ntfs_acl).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "support/ntfs.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {
constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kOtherGuid = "0d7e0c3a-1111-4222-8333-944455556666";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

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

std::map<std::string, std::vector<std::uint8_t>> Descriptors(const fs::path& root) {
  std::map<std::string, std::vector<std::uint8_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(root / "ProgramData")) {
    out[e.path().string()] = test::NtfsMount::GetDescriptor(e.path());
  }
  return out;
}
}  // namespace

TEST_CASE("diagnose, audit, repair and restore on an ntfs-3g volume with CAPI key files",
          "[integration][repair][ntfs]") {
  std::string why;
  auto mount = test::NtfsMount::Create(why);
  if (!mount) {
    WARN("SKIPPED: " + why);
    return;
  }
  const fs::path root = mount->path();
  for (const auto& d : keystore::kDefaultDirectories) {
    fs::create_directories(root / d.relative_path);
    SetSddl(root / d.relative_path, d.sddl);
  }
  const fs::path keys = root / keystore::kMachineKeysRelative;
  const std::string name = "TMGArrayKey";
  const auto array_key = keys / keystore::ContainerFileName(name, kGuid);
  WriteFile(array_key, keystore::MakeSyntheticCapiContainerFile(name, 2048, 2048));
  const auto other = keys / keystore::ContainerFileName("iisConfigurationKey", kGuid);
  WriteFile(other, keystore::MakeSyntheticCapiContainerFile("iisConfigurationKey", 2048));
  SetSddl(other, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)");
  const auto cloned = keys / keystore::ContainerFileName("ClonedKey", kOtherGuid);
  WriteFile(cloned, keystore::MakeSyntheticCapiContainerFile("ClonedKey", 2048));
  SetSddl(cloned, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)");
  // Hardened as the seed's vendor did.
  SetSddl(keys, "O:SYG:SYD:PAI(A;;FA;;;BA)");
  SetSddl(array_key, "O:SYG:SYD:P(A;;FA;;;SY)");
  const auto before = Descriptors(root);

  auto diag = test::Mkeys(
      {"diagnose", root.string(), "--as", kNs, "--container", name, "--machine-guid", kGuid});
  CHECK(diag.exit_code == 1);
  CHECK(diag.out.find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);
  CHECK(diag.out.find(array_key.filename().string()) != std::string::npos);
  CHECK(diag.out.find("no ACE grants NETWORK SERVICE read") != std::string::npos);
  CHECK(diag.out.find("capi container") != std::string::npos);

  auto audit = test::Mkeys({"audit", root.string(), "--service", std::string(kNs) + "=" + name,
                            "--format", "json", "--machine-guid", kGuid});
  CHECK(audit.exit_code == 1);
  const auto report = nlohmann::json::parse(audit.out);
  std::map<std::string, std::string> first_evidence;
  for (const auto& r : report["results"]) {
    first_evidence[r["rule"].get<std::string>()] = r["findings"][0]["evidence"].get<std::string>();
  }
  CHECK(first_evidence.count("MK001") == 1u);
  CHECK(first_evidence.count("MK004") == 1u);
  REQUIRE(first_evidence.count("MK008") == 1u);
  CHECK(first_evidence["MK008"].find(kOtherGuid) != std::string::npos);

  const auto journal = fs::path(mount->path().parent_path()) / "repair.journal";
  auto apply = test::Mkeys({"repair", root.string(), "--service", std::string(kNs) + "=" + name,
                            "--apply", "--journal", journal.string(), "--machine-guid", kGuid});
  CHECK(apply.exit_code == 1);  // applied and verified; MK008 still needs a person
  CHECK(apply.out.find("Verified") != std::string::npos);
  const auto after = Descriptors(root);
  std::size_t changed = 0;
  for (const auto& [path, bytes] : before) changed += after.at(path) != bytes ? 1 : 0;
  CHECK(changed == 2u);
  CHECK(acl::FormatSddl(*acl::SecurityDescriptor::Decode(after.at(array_key.string()))) ==
        "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");

  auto again = test::Mkeys(
      {"diagnose", root.string(), "--as", kNs, "--container", name, "--machine-guid", kGuid});
  CHECK(again.exit_code == 0);

  auto restore = test::Mkeys({"restore", journal.string()});
  CHECK(restore.exit_code == 0);
  CHECK(Descriptors(root) == before);
}
