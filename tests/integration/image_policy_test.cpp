// SPDX-License-Identifier: GPL-3.0-or-later
// A Windows volume's own policy decides traverse: an ntfs-3g volume carrying the real SECURITY
// hive, whose Privilgs (edited with hivexsh) no longer give "Bypass traverse checking"
// (SeChangeNotifyPrivilege) to Everyone, Users or NETWORK SERVICE, and a Crypto folder that does
// not grant NETWORK SERVICE traverse. Checked on the mounted volume and on the volume's image
// file read without a mount.
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
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";
constexpr const char* kKey = "TMG array key";
// Crypto open to SYSTEM and Administrators only: NETWORK SERVICE gets through it only by
// bypassing the traverse check.
constexpr const char* kClosedCrypto = "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

void SetSddl(const fs::path& path, std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(test::NtfsMount::SetDescriptor(path, sd->Encode()));
}

// The key store's chain with Windows' defaults, Crypto closed, and one key NETWORK SERVICE may
// read (so that traverse is the only thing in its way).
void BuildStore(const fs::path& root) {
  for (const auto& d : keystore::kDefaultDirectories) {
    fs::create_directories(root / d.relative_path);
    SetSddl(root / d.relative_path, d.sddl);
  }
  SetSddl(root / "ProgramData/Microsoft/Crypto", kClosedCrypto);
  const auto file =
      root / keystore::kMachineKeysRelative / keystore::ContainerFileName(kKey, kGuid);
  const auto bytes = keystore::MakeSyntheticCapiContainerFile(kKey, 2048);
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  SetSddl(file, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
}

test::RunResult Diagnose(const fs::path& root, const std::string& identity) {
  return test::Mkeys({"--json", "diagnose", root.string(), "--as", identity, "--container", kKey,
                      "--machine-guid", kGuid});
}

// The evidence step that decided, from diagnose's JSON.
std::string FailedStep(const test::RunResult& r) {
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  if (doc.is_discarded() || !doc.contains("evidence")) return "<no evidence>";
  for (const auto& e : doc["evidence"]) {
    if (e.value("passed", true) == false) return e.dump();
  }
  return "<none failed>";
}
}  // namespace

TEST_CASE("ntfs-3g volume with the real SECURITY hive: no Bypass traverse checking closes Crypto",
          "[integration][policy][ntfs]") {
  std::string why;
  auto mount = test::NtfsMount::Create(why);
  if (!mount) {
    WARN("SKIPPED: " + why);
    return;
  }
  const fs::path root = mount->path();
  BuildStore(root);
  const auto security = test::PlaceRealHive(root, "SECURITY");

  // The unmodified hive gives NETWORK SERVICE "Bypass traverse checking": the open succeeds.
  auto before = Diagnose(root, kNs);
  INFO(before.out << before.err);
  CHECK(before.exit_code == 0);

  // The hardening: LUID 23 (SeChangeNotifyPrivilege) removed from Everyone, Users and
  // NETWORK SERVICE with hivexsh, on the volume itself.
  for (const char* sid : {"S-1-1-0", "S-1-5-32-545", "S-1-5-20"}) {
    test::HivexDropPrivilege(security, sid, 0x17);
  }
  auto text = test::Mkeys(
      {"diagnose", root.string(), "--as", kNs, "--container", kKey, "--machine-guid", kGuid});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 1);
  CHECK(text.out.find("ProgramData/Microsoft/Crypto") != std::string::npos);
  CHECK(text.out.find("traverse") != std::string::npos);
  auto mounted = Diagnose(root, kNs);
  CHECK(mounted.exit_code == 1);
  const std::string mounted_step = FailedStep(mounted);
  CHECK(mounted_step.find("Crypto") != std::string::npos);
  // SYSTEM's privileges are the kernel's, not the policy's: it still gets through.
  CHECK(Diagnose(root, "SYSTEM").exit_code == 0);

  // The same volume read as an image file, without a mount: the same verdict and failed step.
  REQUIRE(mount->Unmount());
  auto image = Diagnose(mount->image(), kNs);
  INFO(image.out << image.err);
  CHECK(image.exit_code == 1);
  CHECK(FailedStep(image) == mounted_step);
  CHECK(Diagnose(mount->image(), "SYSTEM").exit_code == 0);
}
