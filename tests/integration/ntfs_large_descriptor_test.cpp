// SPDX-License-Identifier: GPL-3.0-or-later
// Descriptors larger than a first guess on a real NTFS volume: ntfs-3g answers a buffer that is
// too small with EIO (not ERANGE), so every read must be sized first. A 296-byte and a 4 KiB
// descriptor through `sd set`, `sd get` and `diagnose`.
#include <catch2/catch.hpp>
#include <fstream>
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
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

// An SDDL whose self-relative encoding is exactly `size` bytes: SYSTEM full control, NETWORK
// SERVICE read (both 20-byte ACEs), then padding ACEs of 20 bytes (S-1-5-<n>) and 36 bytes
// (S-1-5-21-1-2-3-<n>) granting read.
std::string SddlOfSize(std::size_t size) {
  std::string sddl = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)";
  const std::size_t base = acl::ParseSddl(sddl)->Encode().size();
  REQUIRE(size >= base);
  const std::size_t rest = size - base;
  std::size_t big = 0;
  while (big * 36 <= rest && (rest - big * 36) % 20 != 0) ++big;
  REQUIRE(big * 36 <= rest);
  const std::size_t small = (rest - big * 36) / 20;
  for (std::size_t i = 0; i < small; ++i) sddl += "(A;;FR;;;S-1-5-" + std::to_string(100 + i) + ")";
  for (std::size_t i = 0; i < big; ++i) {
    sddl += "(A;;FR;;;S-1-5-21-1-2-3-" + std::to_string(1000 + i) + ")";
  }
  const auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(sd->Encode().size() == size);
  return acl::FormatSddl(*sd);
}

void SetSddl(const fs::path& path, std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  REQUIRE(sd);
  REQUIRE(test::NtfsMount::SetDescriptor(path, sd->Encode()));
}
}  // namespace

TEST_CASE("296-byte and 4 KiB descriptors work on ntfs-3g through sd set - sd get - diagnose",
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
  const auto file = keys / keystore::ContainerFileName("BigDescriptorKey", kGuid);
  {
    const auto bytes = keystore::MakeSyntheticCapiContainerFile("BigDescriptorKey", 2048);
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  SetSddl(file, "O:SYG:SYD:P(A;;FA;;;SY)");

  for (const std::size_t size : {std::size_t{296}, std::size_t{4096}}) {
    INFO("descriptor of " << size << " bytes");
    const std::string sddl = SddlOfSize(size);
    // On the key file and on MachineKeys itself (read by the traverse step).
    auto set = test::Mkeys({"sd", "set", file.string(), sddl});
    REQUIRE(set.exit_code == 0);
    CHECK(test::NtfsMount::GetDescriptor(file).size() == size);
    const std::string dir_sddl =
        "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)" + sddl.substr(sddl.find("(A;;FR;;;S-1-5-"));
    REQUIRE(test::Mkeys({"sd", "set", keys.string(), dir_sddl}).exit_code == 0);

    auto get = test::Mkeys({"sd", "get", file.string()});
    CHECK(get.exit_code == 0);
    CHECK(get.out == sddl + "\n");
    auto get_dir = test::Mkeys({"sd", "get", keys.string()});
    CHECK(get_dir.exit_code == 0);
    CHECK(get_dir.out == acl::FormatSddl(*acl::ParseSddl(dir_sddl)) + "\n");

    auto diag = test::Mkeys({"--json", "diagnose", root.string(), "--as", kNs, "--container",
                             "BigDescriptorKey", "--machine-guid", kGuid});
    CHECK(diag.exit_code == 0);
    const auto doc = nlohmann::json::parse(diag.out);
    CHECK(doc["would_succeed"] == true);
    bool read_checked = false;
    for (const auto& e : doc["evidence"]) {
      if (e["check"] == "read") read_checked = e["passed"] == true && e["sddl"] == sddl;
    }
    CHECK(read_checked);
    auto open = test::Mkeys(
        {"store", "open", root.string(), "BigDescriptorKey", "--as", kNs, "--machine-guid", kGuid});
    CHECK(open.exit_code == 0);

    // audit reads both descriptors in full: neither is missing, malformed or unreadable.
    auto audit = test::Mkeys({"audit", root.string(), "--format", "json", "--machine-guid", kGuid});
    INFO(audit.out << audit.err);
    CHECK((audit.exit_code == 0 || audit.exit_code == 1));
    const auto report = nlohmann::json::parse(audit.out, nullptr, false);
    REQUIRE_FALSE(report.is_discarded());
    const std::string dumped = report.dump();
    CHECK(dumped.find("MK016") == std::string::npos);
    CHECK(dumped.find("MK030") == std::string::npos);
    CHECK(dumped.find("\"unchecked\":0") != std::string::npos);
  }
}
