// SPDX-License-Identifier: GPL-3.0-or-later
// diagnose through the binary: a key file renamed to another MachineGuid (a cloned image) is
// named with that GUID by diagnose and by audit; --want and usage errors.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/repair_cli_support.hpp"

using namespace mkeys;
using test::Mkeys;

TEST_CASE("a key file under another MachineGuid is reported with that GUID", "[cli][diagnose]") {
  test::SeedMachine m;
  const std::string other_guid = "0d7e0c3a-1111-4222-8333-944455556666";
  const std::string hash = m.file.substr(0, m.file.find('_'));
  const std::string moved = hash + "_" + other_guid;
  std::filesystem::rename(m.keys / m.file, m.keys / moved);

  auto diag = Mkeys({"diagnose", m.root, "--as", test::kNs, "--container", test::kArrayKey});
  CHECK(diag.exit_code == 1);
  CHECK(diag.out.find("NTE_BAD_KEYSET (0x80090016)") != std::string::npos);
  CHECK(diag.out.find(other_guid) != std::string::npos);
  CHECK(diag.out.find("cloned image") != std::string::npos);
  auto json =
      Mkeys({"--json", "diagnose", m.root, "--as", test::kNs, "--container", test::kArrayKey});
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["file_exists"] == false);
  CHECK(doc["foreign_machine_guids"][0] == other_guid);

  auto audit = Mkeys({"audit", m.root, "--format", "json"});
  CHECK(audit.exit_code == 1);
  const auto report = nlohmann::json::parse(audit.out);
  bool found = false;
  for (const auto& r : report["results"]) {
    if (r["rule"] != "MK008") continue;
    for (const auto& f : r["findings"]) {
      found = found || (f["object"] == "MachineKeys/" + moved &&
                        f["evidence"].get<std::string>().find(other_guid) != std::string::npos);
    }
  }
  CHECK(found);
}

TEST_CASE("diagnose checks write and delete when asked - usage errors exit 2", "[cli][diagnose]") {
  test::SeedMachine m;
  auto system = Mkeys({"diagnose", m.root, "--as", "SYSTEM", "--container", test::kArrayKey,
                       "--want", "read", "--want", "write", "--want", "delete"});
  CHECK(system.exit_code == 0);
  CHECK(system.out.find("write") != std::string::npos);
  auto ns_write =
      Mkeys({"diagnose", m.root, "--as", test::kNs, "--file", m.file, "--want", "write"});
  CHECK(ns_write.exit_code == 1);
  CHECK(ns_write.out.find("write denied: no ACE grants NETWORK SERVICE write (lacks WRITE_DATA, "
                          "APPEND_DATA, WRITE_EA, WRITE_ATTRIBUTES, READ_CONTROL, SYNCHRONIZE; "
                          "owner SYSTEM)") != std::string::npos);
  CHECK(Mkeys({"diagnose", m.root, "--as", test::kNs}).exit_code == 2);
  // An identity the machine does not know is an input error: exit 3, as in every command.
  CHECK(Mkeys({"diagnose", m.root, "--as", "nobody-at-all", "--container", "x"}).exit_code == 3);
}

TEST_CASE("ACLs saved with icacls /save are imported and diagnosed", "[cli][diagnose][icacls]") {
  test::SeedMachine hardened;
  const auto save = hardened.dir.path() / "machinekeys.acl";
  auto exported = Mkeys({"sd", "export-icacls", hardened.keys.string(), "--output", save.string()});
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.find("3 object(s)") != std::string::npos);

  // A fresh machine with the same MachineGuid and the array key, then the saved ACLs.
  test::TempDir dir;
  const std::string root = (dir.path() / "m").string();
  REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", test::kSeedGuid}).exit_code == 0);
  REQUIRE(Mkeys({"store", "create", root, test::kArrayKey, "--as", test::kNs, "--key", "ec:p256"})
              .exit_code == 0);
  CHECK(Mkeys({"diagnose", root, "--as", test::kNs, "--container", test::kArrayKey}).exit_code ==
        0);
  auto imported = Mkeys({"sd", "import-icacls", save.string(), "--root", root});
  CHECK(imported.exit_code == 1);  // the "other" container does not exist here
  CHECK(imported.err.find("not found under the root") != std::string::npos);
  auto diag = Mkeys({"diagnose", root, "--as", test::kNs, "--container", test::kArrayKey});
  CHECK(diag.exit_code == 1);
  CHECK(diag.out.find("read denied: no ACE grants NETWORK SERVICE read (lacks READ_DATA") !=
        std::string::npos);
  // A file that is not UTF-16LE icacls output is refused with its offset.
  const auto junk = dir.path() / "junk.acl";
  std::ofstream(junk) << "not utf-16";
  auto bad = Mkeys({"sd", "import-icacls", junk.string(), "--root", root});
  CHECK(bad.exit_code == 3);
}

TEST_CASE("diagnose --json names the identity as {name and sid} - an app pool by its name",
          "[cli][diagnose][identity]") {
  test::SeedMachine m;
  auto r = Mkeys(
      {"--json", "diagnose", m.root, "--as", "IIS APPPOOL\\Shop", "--container", test::kArrayKey});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["identity"] == nlohmann::json({{"name", "IIS APPPOOL\\Shop"},
                                           {"sid",
                                            "S-1-5-82-634253208-2346237047-1867043872-"
                                            "2360698316-99401469"}}));
  // The same shape from access check and store open.
  auto check = Mkeys(
      {"--json", "access", "check", "--sd", "O:SYG:SYD:(A;;FA;;;SY)", "--as", "IIS APPPOOL\\Shop"});
  const auto access = nlohmann::json::parse(check.out);
  CHECK(access["identity"]["name"] == doc["identity"]["name"]);
  CHECK(access["identity"]["sid"] == doc["identity"]["sid"]);
  auto open = Mkeys({"--json", "store", "open", m.root, test::kArrayKey, "--as", "SYSTEM"});
  INFO(open.out << open.err);
  REQUIRE(open.exit_code == 0);
  CHECK(nlohmann::json::parse(open.out)["identity"] ==
        nlohmann::json({{"name", "NT AUTHORITY\\SYSTEM"}, {"sid", "S-1-5-18"}}));
}
