// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys access who ROOT PATH`: every identity the machine knows, with its access to one key
// file and what decided it; and `sddl inherit --root`: the machine's own accounts as creators.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support/hives.hpp"
#include "support/process.hpp"

using mkeys::test::Mkeys;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kKey = "who key";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

struct Machine {
  mkeys::test::TempDir dir;
  std::string root = (dir.path() / "m").string();
  std::string keys = root + "/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  std::string file;
  Machine() {
    REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0);
    REQUIRE(Mkeys({"store", "create", root, kKey, "--as", kNs}).exit_code == 0);
    auto name = Mkeys({"store", "name", kKey, "--root", root});
    REQUIRE(name.exit_code == 0);
    file = name.out.substr(0, name.out.find_first_of("\r\n"));
    // Readable by NETWORK SERVICE only, besides SYSTEM.
    REQUIRE(
        Mkeys({"sd", "set", keys + "/" + file, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)"}).exit_code ==
        0);
  }
  nlohmann::json Who(std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {"--json", "access", "who", root, keys + "/" + file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = Mkeys(argv);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out);
  }
};

// The row whose identity name is `name`, or null.
nlohmann::json RowOf(const nlohmann::json& rows, const std::string& name) {
  for (const auto& row : rows) {
    if (row["identity"]["name"] == name) return row;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("access who names the readers of a key readable by NETWORK SERVICE only",
          "[cli][access][who]") {
  Machine m;
  const auto rows = m.Who();
  const auto ns = RowOf(rows, kNs);
  REQUIRE(ns.is_object());
  CHECK(ns["read"] == true);
  CHECK(ns["write"] == false);
  CHECK(ns["identity"]["sid"] == "S-1-5-20");
  CHECK(ns["granted"] == "R");
  CHECK(ns["decided_by"].get<std::string>().find("(A;;FR;;;NS)") != std::string::npos);
  const auto system = RowOf(rows, "NT AUTHORITY\\SYSTEM");
  REQUIRE(system.is_object());
  CHECK(system["read"] == true);
  CHECK(system["write"] == true);
  const auto users = RowOf(rows, "BUILTIN\\Users");
  REQUIRE(users.is_object());
  CHECK(users["read"] == false);
  CHECK(users["mask"] == "0x0");
  // LOCAL SERVICE is not NETWORK SERVICE.
  CHECK(RowOf(rows, "NT AUTHORITY\\LOCAL SERVICE")["read"] == false);

  // --only-readers: exactly the ones that read.
  const auto readers = m.Who({"--only-readers"});
  CHECK(RowOf(readers, kNs).is_object());
  CHECK(RowOf(readers, "NT AUTHORITY\\SYSTEM").is_object());
  CHECK(RowOf(readers, "BUILTIN\\Users").is_null());
  for (const auto& row : readers) CHECK(row["read"] == true);
  // --filter: by name.
  const auto filtered = m.Who({"--filter", "network"});
  REQUIRE(filtered.size() >= 1);
  for (const auto& row : filtered) {
    CHECK(row["identity"]["name"].get<std::string>().find("NETWORK") != std::string::npos);
  }

  // The text form lists the identity with its SID and the deciding ACE.
  auto text = Mkeys({"access", "who", m.root, m.keys + "/" + m.file});
  INFO(text.out);
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("NT AUTHORITY\\NETWORK SERVICE (S-1-5-20)") != std::string::npos);
}

TEST_CASE("access who lists a service logging on as NETWORK SERVICE as a reader",
          "[cli][access][who]") {
  Machine m;
  REQUIRE(Mkeys({"machine", "service", "add", m.root, "ShopSvc", "--logon", kNs}).exit_code == 0);
  const auto rows = m.Who({"--only-readers", "--filter", "ShopSvc"});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["kind"] == "service");
  CHECK(rows[0]["identity"]["name"].get<std::string>().find("ShopSvc") != std::string::npos);
  CHECK(rows[0]["read"] == true);
}

TEST_CASE("access who: Crypto closed and no Bypass traverse checking stops NETWORK SERVICE",
          "[cli][access][who]") {
  Machine m;
  REQUIRE(Mkeys({"sd", "set", m.root + "/ProgramData/Microsoft/Crypto",
                 "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"})
              .exit_code == 0);
  // Still a reader: NETWORK SERVICE bypasses traverse checking.
  CHECK(RowOf(m.Who(), kNs)["read"] == true);
  for (const char* who : {"Everyone", "Users", "NETWORK SERVICE"}) {
    auto r =
        Mkeys({"machine", "rights", m.root, "--remove", "SeChangeNotifyPrivilege", "--from", who});
    INFO(who << r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  const auto ns = RowOf(m.Who(), kNs);
  REQUIRE(ns.is_object());
  CHECK(ns["read"] == false);
  CHECK(ns["granted"] == "R");  // the file still grants it: the folder above stops it
  CHECK(ns["traverse"]["allowed"] == false);
  CHECK(ns["reason"].get<std::string>().find("traverse") != std::string::npos);
  CHECK(ns["reason"].get<std::string>().find("ProgramData/Microsoft/Crypto") != std::string::npos);
  CHECK(ns["decided_by"].get<std::string>().find("traverse") != std::string::npos);
  CHECK(RowOf(m.Who({"--only-readers"}), kNs).is_null());
  // SYSTEM passes Crypto by its ACE.
  CHECK(RowOf(m.Who(), "NT AUTHORITY\\SYSTEM")["read"] == true);
}

TEST_CASE("access who on the real SAM hive lists its local users by name", "[cli][access][who]") {
  Machine m;
  mkeys::test::PlaceRealHive(m.root, "SAM");
  const std::string domain = "S-1-5-21-1760460187-1592185332-161725925";
  const auto rows = m.Who({"--filter", domain});
  bool preston = false;
  bool guest = false;
  for (const auto& row : rows) {
    const std::string name = row["identity"]["name"];
    // The name as the machine's token names the user ("Preston" or "HOST\\Preston").
    auto named = [&](const std::string& user) {
      return name == user || name.ends_with("\\" + user);
    };
    if (row["identity"]["sid"] == domain + "-1000" && named("Preston")) preston = true;
    if (row["identity"]["sid"] == domain + "-501" && named("Guest")) guest = true;
    CHECK(row["read"] == false);  // only SYSTEM and NETWORK SERVICE are granted
  }
  CHECK(preston);
  CHECK(guest);
}

TEST_CASE("access who: a missing object or a bad root is exit 3", "[cli][access][who]") {
  Machine m;
  auto missing = Mkeys({"access", "who", m.root, "ProgramData/Microsoft/Crypto/RSA/nothing"});
  CHECK(missing.exit_code == 3);
  CHECK(missing.err.find("nothing") != std::string::npos);
  CHECK(Mkeys({"access", "who", m.root + "/nowhere", m.file}).exit_code == 3);
  CHECK(Mkeys({"access", "who", m.root, "../outside"}).exit_code == 3);
  // A bare key file name is found in MachineKeys; a folder works too.
  CHECK(Mkeys({"access", "who", m.root, m.file}).exit_code == 0);
  auto folder = Mkeys({"--json", "access", "who", m.root, "ProgramData/Microsoft/Crypto"});
  INFO(folder.out << folder.err);
  CHECK(folder.exit_code == 0);
  CHECK(RowOf(nlohmann::json::parse(folder.out), "BUILTIN\\Administrators")["write"] == true);
}

TEST_CASE("sddl inherit --root knows the machine's local users", "[cli][sddl][inherit]") {
  Machine m;
  auto added = Mkeys({"machine", "user", "add", m.root, "webdeploy"});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  const std::string parent = "O:SYG:SYD:(A;OICI;FA;;;SY)(A;OICIIO;FA;;;CO)";
  auto with_root = Mkeys(
      {"--json", "sddl", "inherit", "--parent", parent, "--as", "webdeploy", "--root", m.root});
  INFO(with_root.out << with_root.err);
  REQUIRE(with_root.exit_code == 0);
  auto user = Mkeys({"--json", "sid", "resolve", "--root", m.root, "webdeploy"});
  REQUIRE(user.exit_code == 0);
  const std::string sid = nlohmann::json::parse(user.out)[0]["sid"];
  // CREATOR OWNER becomes the user: the new file grants the user full access.
  CHECK(nlohmann::json::parse(with_root.out)["sddl"].get<std::string>().find(sid) !=
        std::string::npos);
  auto without = Mkeys({"sddl", "inherit", "--parent", parent, "--as", "webdeploy"});
  CHECK(without.exit_code == 3);
  // access check and sid resolve: the same.
  const std::string sd = "O:SYG:SYD:(A;;FA;;;SY)(A;;FR;;;" + sid + ")";
  auto check =
      Mkeys({"access", "check", "--sd", sd, "--as", "webdeploy", "--want", "R", "--root", m.root});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 0);
  CHECK(Mkeys({"access", "check", "--sd", sd, "--as", "webdeploy", "--want", "R"}).exit_code == 3);
  CHECK(Mkeys({"sid", "resolve", "webdeploy"}).exit_code == 3);
  // And access who lists the new user by name.
  bool listed = false;
  for (const auto& row : m.Who({"--filter", sid})) {
    const std::string name = row["identity"]["name"];
    listed = listed || name == "webdeploy" || name.ends_with("\\webdeploy");
  }
  CHECK(listed);
}

TEST_CASE("access who on the real SYSTEM hive lists its services by name", "[cli][access][who]") {
  Machine m;
  mkeys::test::PlaceRealHive(m.root, "SYSTEM");
  const auto rows = m.Who({"--filter", "RpcLocator"});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["kind"] == "service");
  // RpcLocator logs on as NETWORK SERVICE: it reads the key NETWORK SERVICE reads.
  CHECK(rows[0]["identity"]["sid"] == "S-1-5-20");
  CHECK(rows[0]["read"] == true);
  // Every row is a service, a group, a user or an account, named.
  for (const auto& row : m.Who()) CHECK_FALSE(row["identity"]["name"].get<std::string>().empty());
}

TEST_CASE("access who refuses a symbolic link on the way and names it", "[cli][access][who]") {
  Machine m;
  const std::filesystem::path crypto = m.root + "/ProgramData/Microsoft/Crypto";
  const auto outside = m.dir.path() / "outside";
  std::filesystem::rename(crypto, outside);
  std::filesystem::create_directory_symlink(outside, crypto);
  auto r = Mkeys({"access", "who", m.root, m.keys + "/" + m.file});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("ProgramData/Microsoft/Crypto: a symbolic link") != std::string::npos);
}
