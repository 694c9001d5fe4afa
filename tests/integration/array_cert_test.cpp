// SPDX-License-Identifier: GPL-3.0-or-later
// The member's array certificate (issue 14): after a join over TCP it is in the member's
// LocalMachine\My with its key readable by the service identity, as TMG's array kept it, so
// `diagnose --cert` as the service passes; leaving takes it away with the key.
#include "array_support.hpp"

using namespace mkeys::test;

namespace {

constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

nlohmann::json CertList(const std::filesystem::path& root) {
  return JsonOf(Mkeys({"--json", "cert", "list", root.string()}))["certificates"];
}

}  // namespace

TEST_CASE("after a join the member certificate is in LocalMachine My and diagnose --cert passes",
          "[integration][array][cert]") {
  TempDir work;
  const auto manager = work.path() / "manager", member = work.path() / "member";
  InitMachine(manager);
  InitMachine(member);
  REQUIRE(Mkeys({"array", "create", manager.string(), "--name", "web"}).exit_code == 0);
  REQUIRE(CertList(member).empty());
  ServerProcess server(manager, work.path());
  auto join = JoinWith(member, server.Address(), IssueToken(manager), "node1");
  INFO(join.out << join.err << server.Log());
  REQUIRE(join.exit_code == 0);

  const auto certs = CertList(member);
  REQUIRE(certs.size() == 1u);
  const auto& c = certs[0];
  const std::string thumb = c["thumbprint"];
  CHECK(c["problem"] == "");
  CHECK(c["key_name"] == "mkeys-array-web-member");
  CHECK(c["key_file"].get<std::string>().rfind("MachineKeys/", 0) == 0);
  CHECK(c["subject"].get<std::string>().find("node1") != std::string::npos);
  CHECK(c["readers"].dump().find("NETWORK SERVICE") != std::string::npos);
  CHECK(join.out.find(thumb) != std::string::npos);

  auto diag = Mkeys({"diagnose", member.string(), "--cert", thumb, "--as", kNs});
  INFO(diag.out << diag.err);
  CHECK(diag.exit_code == 0);
  // Another identity still cannot read it: the grant is the service's alone.
  CHECK(Mkeys({"diagnose", member.string(), "--cert", thumb, "--as", "NT AUTHORITY\\LOCAL SERVICE"})
            .exit_code == 1);
  // The audit with the service declared for its certificate finds nothing to say about it.
  auto audit = Mkeys({"audit", member.string(), "--service", std::string(kNs) + "=" + thumb});
  INFO(audit.out);
  CHECK(audit.out.find("MK043") == std::string::npos);
  CHECK(audit.out.find("MK040") == std::string::npos);

  // Leaving removes the key and its certificate.
  auto leave = Mkeys({"array", "leave", member.string()});
  INFO(leave.out << leave.err);
  REQUIRE(leave.exit_code == 0);
  RequireNoTrace(member);
  CHECK(CertList(member).empty());
  CHECK(server.Stop() == 0);
}
