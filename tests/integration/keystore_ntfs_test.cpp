// SPDX-License-Identifier: GPL-3.0-or-later
// A Windows-like root on a real NTFS volume (mkntfs + ntfs-3g): CAPI-format key files with
// descriptors in system.ntfs_acl, driven through the mkeys binary.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/core/hex.hpp"
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
}  // namespace

TEST_CASE("store list/open and sd get/set work on an ntfs-3g volume with CAPI key files",
          "[integration][keystore][ntfs]") {
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
  auto key = keystore::PrivateKey::Generate({keystore::KeyAlgorithm::kRsa, 2048});
  REQUIRE(key);
  const auto iis = keys / keystore::ContainerFileName("iisConfigurationKey", kGuid);
  WriteFile(iis, *keystore::MakeCapiContainerFile("iisConfigurationKey", nullptr, &*key));
  SetSddl(iis, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x120089;;;NS)");
  const auto tmg = keys / keystore::ContainerFileName("TMGArrayKey", kGuid);
  WriteFile(tmg, keystore::MakeSyntheticCapiContainerFile("TMGArrayKey", 2048, 2048));
  SetSddl(tmg, "O:SYG:SYD:P(A;;FA;;;SY)");
  const auto cloned = keys / keystore::ContainerFileName("ClonedKey", kOtherGuid);
  WriteFile(cloned, keystore::MakeSyntheticCapiContainerFile("ClonedKey", 2048));
  SetSddl(cloned, "O:SYG:SYD:P(A;;FA;;;SY)");
  const auto broken = keys / keystore::ContainerFileName("BrokenKey", kGuid);
  auto bytes = keystore::MakeSyntheticCapiContainerFile("BrokenKey", 2048);
  bytes.resize(100);
  WriteFile(broken, bytes);
  SetSddl(broken, "O:SYG:SYD:P(A;;FA;;;SY)");

  // Without a SOFTWARE hive the MachineGuid must be given.
  auto no_guid = test::Mkeys({"store", "list", root.string()});
  CHECK(no_guid.exit_code == 3);
  CHECK(no_guid.err.find("--machine-guid") != std::string::npos);

  auto list = test::Mkeys({"--json", "store", "list", root.string(), "--machine-guid", kGuid});
  REQUIRE(list.exit_code == 0);
  const auto doc = nlohmann::json::parse(list.out);
  REQUIRE(doc["containers"].size() == 4u);
  std::map<std::string, nlohmann::json> by_file;
  for (const auto& c : doc["containers"]) by_file[c["file"].get<std::string>()] = c;
  const auto& iis_entry = by_file.at(iis.filename().string());
  CHECK(iis_entry["name"] == "iisConfigurationKey");
  CHECK(iis_entry["format"] == "capi");
  CHECK(iis_entry["owner"] == "S-1-5-18");
  CHECK(iis_entry["exchange"]["bits"] == 2048);
  CHECK(iis_entry["flags"].empty());
  CHECK(by_file.at(cloned.filename().string())["flags"][0] == "foreign-machine-guid");
  CHECK(by_file.at(broken.filename().string())["flags"][0] == "corrupt");
  CHECK(by_file.at(tmg.filename().string())["signature"]["bits"] == 2048);

  auto open = test::Mkeys({"store", "open", root.string(), "iisConfigurationKey", "--as",
                           "NT AUTHORITY\\NETWORK SERVICE", "--machine-guid", kGuid});
  CHECK(open.exit_code == 0);
  CHECK(open.out.find("format: capi") != std::string::npos);

  auto denied = test::Mkeys({"store", "open", root.string(), "TMGArrayKey", "--as",
                             "NT AUTHORITY\\NETWORK SERVICE", "--machine-guid", kGuid});
  CHECK(denied.exit_code == 1);
  CHECK(denied.err.find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);
  CHECK(denied.err.find("read denied") != std::string::npos);

  auto clone = test::Mkeys(
      {"store", "open", root.string(), "ClonedKey", "--as", "SYSTEM", "--machine-guid", kGuid});
  CHECK(clone.exit_code == 1);
  CHECK(clone.err.find(kOtherGuid) != std::string::npos);

  // sd get / set through the volume's own descriptors.
  auto get = test::Mkeys({"sd", "get", tmg.string()});
  CHECK(get.exit_code == 0);
  CHECK(get.out == "O:SYG:SYD:P(A;;FA;;;SY)\n");
  auto hex = test::Mkeys({"sd", "get", tmg.string(), "--format", "hex"});
  CHECK(hex.out == HexEncode(test::NtfsMount::GetDescriptor(tmg)) + "\n");
  auto set = test::Mkeys({"sd", "set", tmg.string(), "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)"});
  CHECK(set.exit_code == 0);
  CHECK(acl::FormatSddl(*acl::SecurityDescriptor::Decode(test::NtfsMount::GetDescriptor(tmg))) ==
        "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  auto reopened = test::Mkeys({"store", "open", root.string(), "TMGArrayKey", "--as",
                               "NT AUTHORITY\\NETWORK SERVICE", "--machine-guid", kGuid});
  CHECK(reopened.exit_code == 0);
  auto icacls = test::Mkeys({"sd", "get", tmg.string(), "--format", "icacls"});
  CHECK(icacls.out.find("NT AUTHORITY\\NETWORK SERVICE:(R)") != std::string::npos);
}
