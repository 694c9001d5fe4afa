// SPDX-License-Identifier: GPL-3.0-or-later
// `access who` on a Windows volume: an ntfs-3g mount carrying the real SAM and SECURITY hives,
// then the same volume read as an image file without a mount. The key is readable by NETWORK
// SERVICE only and Crypto is closed to it, so with the hive's "Bypass traverse checking" it reads
// the key and without it (Privilgs edited with hivexsh) the traverse stops it.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "support/hives.hpp"
#include "support/ntfs.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {
constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kKey = "who key";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

void SetSddl(const fs::path& path, std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(test::NtfsMount::SetDescriptor(path, sd->Encode()));
}

std::string BuildStore(const fs::path& root) {
  for (const auto& d : keystore::kDefaultDirectories) {
    fs::create_directories(root / d.relative_path);
    SetSddl(root / d.relative_path, d.sddl);
  }
  SetSddl(root / "ProgramData/Microsoft/Crypto", "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
  const std::string name = keystore::ContainerFileName(kKey, kGuid);
  const auto file = root / keystore::kMachineKeysRelative / name;
  const auto bytes = keystore::MakeSyntheticCapiContainerFile(kKey, 2048);
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  SetSddl(file, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  return name;
}

nlohmann::json Who(const fs::path& root, const std::string& file) {
  auto r = test::Mkeys({"--json", "access", "who", root.string(), file, "--machine-guid", kGuid});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

nlohmann::json RowOf(const nlohmann::json& rows, const std::string& name) {
  for (const auto& row : rows) {
    if (row["identity"]["name"] == name) return row;
  }
  return nullptr;
}
}  // namespace

TEST_CASE("access who on an ntfs-3g volume and its image follows the volume's own hives",
          "[integration][who][ntfs]") {
  std::string why;
  auto mount = test::NtfsMount::Create(why);
  if (!mount) {
    WARN("SKIPPED: " + why);
    return;
  }
  const fs::path root = mount->path();
  const std::string file = BuildStore(root);
  test::PlaceRealHive(root, "SAM");
  const auto security = test::PlaceRealHive(root, "SECURITY");

  auto rows = Who(root, file);
  CHECK(RowOf(rows, kNs)["read"] == true);
  CHECK(RowOf(rows, "NT AUTHORITY\\SYSTEM")["read"] == true);
  CHECK(RowOf(rows, "BUILTIN\\Users")["read"] == false);
  // The SAM's users are listed by name.
  bool preston = false;
  for (const auto& row : rows) {
    const std::string name = row["identity"]["name"];
    preston = preston || name == "Preston" || name.ends_with("\\Preston");
  }
  CHECK(preston);

  for (const char* sid : {"S-1-1-0", "S-1-5-32-545", "S-1-5-20"}) {
    test::HivexDropPrivilege(security, sid, 0x17);
  }
  const auto ns = RowOf(Who(root, file), kNs);
  CHECK(ns["read"] == false);
  CHECK(ns["reason"].get<std::string>().find("traverse") != std::string::npos);

  // The image file, without a mount: the same answer.
  REQUIRE(mount->Unmount());
  auto image = test::Mkeys({"--json", "access", "who", mount->image().string(), file,
                            "--machine-guid", kGuid, "--filter", "NETWORK SERVICE"});
  INFO(image.out << image.err);
  REQUIRE(image.exit_code == 0);
  const auto from_image = RowOf(nlohmann::json::parse(image.out), kNs);
  CHECK(from_image["read"] == false);
  CHECK(from_image["reason"] == ns["reason"]);
}
