// SPDX-License-Identifier: GPL-3.0-or-later
// applicationHost.config's application pools: a file shaped like a Windows Server one (the
// defaults after the pools, as IIS writes them; a SpecificUser pool with an encrypted password),
// and malformed files rejected at their line and column.
#include <catch2/catch.hpp>
#include <string>

#include "mkeys/keystore/iis_config.hpp"

using namespace mkeys::keystore;

namespace {

const std::string kConfig = R"(<?xml version="1.0" encoding="UTF-8"?>
<!--
    IIS configuration sections.
-->
<configuration>
    <configSections>
        <sectionGroup name="system.applicationHost">
            <section name="applicationPools" allowDefinition="AppHostOnly" overrideModeDefault="Deny" />
        </sectionGroup>
    </configSections>
    <system.applicationHost>
        <applicationPools>
            <add name="DefaultAppPool" />
            <add name=".NET v4.5" managedRuntimeVersion="v4.0" />
            <add name="Shop" autoStart="true">
                <processModel identityType="NetworkService" />
                <recycling><periodicRestart time="00:00:00" /></recycling>
            </add>
            <add name="Legacy &amp; Co">
                <processModel identityType="SpecificUser" userName="webuser" password="[enc:IISWASOnlyCngProvider:AbC/dEf=:enc]" />
            </add>
            <add name="Removed" />
            <remove name="removed" />
            <applicationPoolDefaults managedRuntimeVersion="v4.0">
                <processModel identityType="ApplicationPoolIdentity" loadUserProfile="true" />
            </applicationPoolDefaults>
        </applicationPools>
        <sites><site name="Default Web Site" id="1"><![CDATA[ <not a tag> ]]></site></sites>
    </system.applicationHost>
</configuration>
)";

std::string ErrorOf(const std::string& xml) {
  auto r = ParseApplicationHostConfig(xml);
  REQUIRE_FALSE(r.ok());
  return r.error().message();
}

}  // namespace

TEST_CASE("applicationHost.config pools with their identities", "[keystore][iis]") {
  auto facts = ParseApplicationHostConfig(kConfig);
  INFO((facts ? "" : facts.error().message()));
  REQUIRE(facts.ok());
  REQUIRE(facts->pools.size() == 4);
  CHECK(facts->pools[0].name == "DefaultAppPool");
  CHECK(facts->pools[0].identity_type == AppPoolIdentityType::kApplicationPoolIdentity);
  CHECK(facts->pools[0].line == 13);
  CHECK(facts->pools[1].name == ".NET v4.5");
  const AppPool* shop = facts->Find("SHOP");
  REQUIRE(shop != nullptr);
  CHECK(shop->identity_type == AppPoolIdentityType::kNetworkService);
  const AppPool* legacy = facts->Find("legacy & co");
  REQUIRE(legacy != nullptr);
  CHECK(legacy->identity_type == AppPoolIdentityType::kSpecificUser);
  CHECK(legacy->user_name == "webuser");
  CHECK(facts->Find("Removed") == nullptr);
}

TEST_CASE("applicationPoolDefaults decide the identity of pools without their own",
          "[keystore][iis]") {
  auto facts = ParseApplicationHostConfig(
      "<configuration><system.applicationHost><applicationPools>"
      "<add name='A'/><add name='B'><processModel identityType='LocalSystem'/></add>"
      "<applicationPoolDefaults><processModel identityType='LocalService'/>"
      "</applicationPoolDefaults><add name='C'/>"
      "</applicationPools></system.applicationHost></configuration>");
  REQUIRE(facts.ok());
  REQUIRE(facts->pools.size() == 3);
  CHECK(facts->pools[0].identity_type == AppPoolIdentityType::kLocalService);
  CHECK(facts->pools[1].identity_type == AppPoolIdentityType::kLocalSystem);
  CHECK(facts->pools[2].identity_type == AppPoolIdentityType::kLocalService);
  auto cleared = ParseApplicationHostConfig(
      "<configuration><system.applicationHost><applicationPools><add name='A'/><clear/>"
      "<add name='B'/></applicationPools></system.applicationHost></configuration>");
  REQUIRE(cleared.ok());
  REQUIRE(cleared->pools.size() == 1);
  CHECK(cleared->pools[0].name == "B");
}

TEST_CASE("malformed applicationHost.config is rejected at its line and column",
          "[keystore][iis]") {
  const std::string head = "<configuration>\n<system.applicationHost>\n<applicationPools>\n";
  const std::string tail = "</applicationPools>\n</system.applicationHost>\n</configuration>\n";
  CHECK(ErrorOf(head + "<add name=\"A\">\n</applicationPools>\n" + tail)
            .find("line 5, column 1: </applicationPools> closes <add> (line 4)") !=
        std::string::npos);
  CHECK(ErrorOf(head + "<add name=\"A\"><processModel identityType=\"Root\"/></add>\n" + tail)
            .find("line 4, column 15: unknown identityType 'Root'") != std::string::npos);
  CHECK(ErrorOf(head + "<add name=\"A\" name=\"B\"/>\n" + tail).find("appears twice") !=
        std::string::npos);
  CHECK(ErrorOf(head + "<add name=\"A\"/><add name=\"a\"/>\n" + tail).find("added twice") !=
        std::string::npos);
  CHECK(ErrorOf(head + "<add/>\n" + tail).find("a pool without a name") != std::string::npos);
  CHECK(ErrorOf(head + "<add name=\"A&bogus;\"/>\n" + tail).find("unknown entity") !=
        std::string::npos);
  CHECK(ErrorOf(head + "<add name=A/>\n" + tail).find("must be quoted") != std::string::npos);
  CHECK(
      ErrorOf(head + "<!-- never closed\n" + tail).find("line 4, column 1: unterminated comment") !=
      std::string::npos);
  CHECK(ErrorOf(head).find("line 3, column 1: <applicationPools> is never closed") !=
        std::string::npos);
  CHECK(ErrorOf("").find("no document element") != std::string::npos);
  CHECK(ErrorOf("<html></html>").find("not <configuration>") != std::string::npos);
  CHECK(ErrorOf("<!DOCTYPE x [<!ENTITY e 'x'>]><configuration/>").find("document type") !=
        std::string::npos);
  CHECK(ErrorOf("<configuration/><configuration/>").find("second document element") !=
        std::string::npos);
  // The error carries the byte offset too.
  auto r = ParseApplicationHostConfig("<configuration>\n<a>\n</b>");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().position() == std::optional<std::size_t>(20));
}
