// SPDX-License-Identifier: GPL-3.0-or-later
// IIS application pools as the machine configures them (applicationHost.config): a pool that
// runs as NETWORK SERVICE reads what NETWORK SERVICE may read, a pool with its own identity does
// not; pool SIDs are named after the pools; unknown pools and malformed files exit 3.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.hpp"

using mkeys::test::Mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kKey = "shop key";

constexpr const char* kConfig = R"(<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.applicationHost>
        <applicationPools>
            <add name="DefaultAppPool" />
            <add name="Shop" managedRuntimeVersion="v4.0">
                <processModel identityType="NetworkService" />
            </add>
            <add name="Legacy">
                <processModel identityType="SpecificUser" userName="CONTOSO\svc-web" password="[enc:IISWASOnlyCngProvider:x:enc]" />
            </add>
            <applicationPoolDefaults managedRuntimeVersion="v4.0">
                <processModel identityType="ApplicationPoolIdentity" />
            </applicationPoolDefaults>
        </applicationPools>
    </system.applicationHost>
</configuration>
)";

struct Machine {
  mkeys::test::TempDir dir;
  std::string root = (dir.path() / "m").string();
  Machine() {
    REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0);
    // The key is readable by NETWORK SERVICE only (besides SYSTEM and Administrators).
    REQUIRE(Mkeys({"store", "create", root, kKey, "--as", "NT AUTHORITY\\NETWORK SERVICE", "--key",
                   "ec:p256"})
                .exit_code == 0);
  }
  void WriteConfig(const std::string& text) const {
    const fs::path file = fs::path(root) / "Windows/System32/inetsrv/config/applicationHost.config";
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
  }
  mkeys::test::RunResult Diagnose(const std::string& identity) const {
    return Mkeys({"diagnose", root, "--as", identity, "--container", kKey});
  }
};

bool HasGroupSid(const nlohmann::json& token, const std::string& sid) {
  for (const auto& g : token["groups"]) {
    if (g["sid"] == sid) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("an app pool running as NETWORK SERVICE reads what NETWORK SERVICE reads", "[cli][iis]") {
  Machine m;
  // Without applicationHost.config every pool is an ApplicationPoolIdentity pool: denied.
  auto before = m.Diagnose("IIS APPPOOL\\Shop");
  INFO(before.out << before.err);
  CHECK(before.exit_code == 1);

  m.WriteConfig(kConfig);
  auto shop = m.Diagnose("IIS APPPOOL\\Shop");
  INFO(shop.out << shop.err);
  CHECK(shop.exit_code == 0);
  auto pool = m.Diagnose("IIS APPPOOL\\DefaultAppPool");
  INFO(pool.out << pool.err);
  CHECK(pool.exit_code == 1);
  CHECK(pool.out.find("IIS APPPOOL\\DefaultAppPool") != std::string::npos);

  // The worker process token: NETWORK SERVICE, with IIS_IUSRS and the pool's own SID.
  auto token = Mkeys({"--json", "machine", "token", m.root, "--as", "IIS APPPOOL\\Shop"});
  INFO(token.out << token.err);
  REQUIRE(token.exit_code == 0);
  const auto doc = nlohmann::json::parse(token.out);
  CHECK(doc["user"]["sid"] == "S-1-5-20");
  CHECK(HasGroupSid(doc, "S-1-5-32-568"));
  auto sid = Mkeys({"--json", "sid", "resolve", "IIS APPPOOL\\Shop"});
  REQUIRE(sid.exit_code == 0);
  const auto sid_doc = nlohmann::json::parse(sid.out);
  const std::string pool_sid = sid_doc.is_array() ? sid_doc[0]["sid"] : sid_doc["sid"];
  CHECK(pool_sid.rfind("S-1-5-82-", 0) == 0);
  CHECK(HasGroupSid(doc, pool_sid));
  CHECK(doc["identity"].dump().find("app pool Shop") != std::string::npos);
}

TEST_CASE("pool SIDs are named after the machine's pools and unknown pools exit 3", "[cli][iis]") {
  Machine m;
  m.WriteConfig(kConfig);
  auto sid = Mkeys({"--json", "sid", "resolve", "IIS APPPOOL\\DefaultAppPool"});
  REQUIRE(sid.exit_code == 0);
  const auto sid_doc = nlohmann::json::parse(sid.out);
  const std::string pool_sid = sid_doc.is_array() ? sid_doc[0]["sid"] : sid_doc["sid"];
  // A group member named by its SID alone is shown by the pool's name.
  REQUIRE(Mkeys({"machine", "group", "add-member", m.root, "IIS_IUSRS", pool_sid}).exit_code == 0);
  auto show = Mkeys({"--json", "machine", "show", m.root});
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find("IIS APPPOOL\\\\DefaultAppPool") != std::string::npos);

  auto unknown = m.Diagnose("IIS APPPOOL\\Nope");
  CHECK(unknown.exit_code == 3);
  CHECK(unknown.err.find("has no application pool 'Nope'") != std::string::npos);
  CHECK(unknown.err.find("DefaultAppPool, Shop, Legacy") != std::string::npos);
  // A pool running as a domain account the image cannot know: say how to describe it.
  auto domain = m.Diagnose("IIS APPPOOL\\Legacy");
  CHECK(domain.exit_code == 3);
  CHECK(domain.err.find("CONTOSO\\svc-web") != std::string::npos);
  CHECK(domain.err.find("--token") != std::string::npos);
}

TEST_CASE("a malformed applicationHost.config fails only what needs the pools", "[cli][iis]") {
  Machine m;
  m.WriteConfig(
      "<configuration>\n<system.applicationHost>\n<applicationPools>\n<add name=\"A\">\n"
      "</applicationPools>\n");
  auto pool = m.Diagnose("IIS APPPOOL\\A");
  CHECK(pool.exit_code == 3);
  CHECK(pool.err.find("applicationHost.config: line 5, column 1") != std::string::npos);
  CHECK(m.Diagnose("NT AUTHORITY\\NETWORK SERVICE").exit_code == 0);
}
