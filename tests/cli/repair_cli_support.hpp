// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The seed's machine, built through the mkeys binary: a model machine hardened as the TMG
// appliance vendor did (Everyone's MachineKeys rights removed; the array key's DACL reduced to
// SYSTEM, owner SYSTEM).

#include <sys/xattr.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace mkeys::test {

inline constexpr const char* kSeedGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
inline constexpr const char* kArrayKey = "TMG array key";
inline constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

struct SeedMachine {
  TempDir dir;
  std::string root;
  std::filesystem::path keys;
  std::string file;  // the array key's file name

  SeedMachine() {
    root = (dir.path() / "m").string();
    keys = dir.path() / "m/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
    REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kSeedGuid}).exit_code == 0);
    REQUIRE(
        Mkeys({"store", "create", root, kArrayKey, "--as", kNs, "--key", "ec:p256"}).exit_code ==
        0);
    REQUIRE(Mkeys({"store", "create", root, "other", "--as", "administrator", "--key", "ec:p256"})
                .exit_code == 0);
    auto name = Mkeys({"store", "name", kArrayKey, "--root", root});
    REQUIRE(name.exit_code == 0);
    file = name.out.substr(0, name.out.find_first_of("\r\n"));
    REQUIRE(std::filesystem::exists(keys / file));
    REQUIRE(Mkeys({"sd", "set", keys.string(), "O:SYG:SYD:PAI(A;;FA;;;BA)"}).exit_code == 0);
    REQUIRE(Mkeys({"sd", "set", (keys / file).string(), "O:SYG:SYD:P(A;;FA;;;SY)"}).exit_code == 0);
  }

  // Every NTACL attribute under ProgramData, raw.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(dir.path() / "m/ProgramData")) {
      char buf[65536];
      const ssize_t n = ::lgetxattr(e.path().c_str(), "user.NTACL", buf, sizeof buf);
      out[e.path().string()] =
          n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
};

}  // namespace mkeys::test
