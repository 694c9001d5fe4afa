// SPDX-License-Identifier: GPL-3.0-or-later
// A machine's own policy through the binary: the real SECURITY hive (changed with hivexsh)
// decides whether NETWORK SERVICE may bypass traverse checking; `machine rights` does the same on
// a model machine; services from the real SYSTEM hive and from `machine service add`; local
// users and groups from the real SAM hive and from `machine user add` / `group add-member`.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/hives.hpp"
#include "support/process.hpp"

using namespace mkeys;
using test::Mkeys;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";
constexpr const char* kKey = "app key";
// Crypto closed to everyone but SYSTEM and Administrators: only a bypass gets NETWORK SERVICE
// through to MachineKeys.
constexpr const char* kClosedCrypto = "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

struct Machine {
  test::TempDir dir;
  std::string root;
  Machine() {
    root = (dir.path() / "m").string();
    REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0);
    REQUIRE(Mkeys({"store", "create", root, kKey, "--as", kNs, "--key", "ec:p256"}).exit_code == 0);
  }
  void CloseCrypto() const {
    REQUIRE(Mkeys({"sd", "set", root + "/ProgramData/Microsoft/Crypto", kClosedCrypto}).exit_code ==
            0);
  }
  test::RunResult Diagnose(const std::string& identity) const {
    return Mkeys({"diagnose", root, "--as", identity, "--container", kKey});
  }
  nlohmann::json Token(const std::string& identity) const {
    auto r = Mkeys({"--json", "machine", "token", root, "--as", identity});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out);
  }
};

bool HasGroup(const nlohmann::json& token, const std::string& name) {
  for (const auto& g : token["groups"]) {
    if (g["name"] == name || g["sid"] == name) return true;
  }
  return false;
}

bool HasPrivilege(const nlohmann::json& token, const std::string& name) {
  for (const auto& p : token["privileges"]) {
    if (p["name"] == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("Real SECURITY hive without Bypass traverse checking closes Crypto to NETWORK SERVICE",
          "[cli][policy]") {
  Machine m;
  m.CloseCrypto();
  const auto security = test::PlaceRealHive(m.root, "SECURITY");
  // Unmodified: NETWORK SERVICE holds SeChangeNotifyPrivilege and passes Crypto.
  auto before = m.Diagnose(kNs);
  INFO(before.out << before.err);
  CHECK(before.exit_code == 0);
  // The policy removed "Bypass traverse checking" (LUID 23 = 0x17) from Everyone, Users and
  // NETWORK SERVICE, edited with hivexsh.
  for (const char* sid : {"S-1-1-0", "S-1-5-32-545", "S-1-5-20"}) {
    test::HivexDropPrivilege(security, sid, 0x17);
  }
  auto after = m.Diagnose(kNs);
  INFO(after.out << after.err);
  CHECK(after.exit_code == 1);
  CHECK(after.out.find("ProgramData/Microsoft/Crypto") != std::string::npos);
  CHECK(after.out.find("traverse") != std::string::npos);
  const auto token = m.Token(kNs);
  CHECK_FALSE(HasPrivilege(token, "SeChangeNotifyPrivilege"));
  CHECK(HasPrivilege(token, "SeImpersonatePrivilege"));
  CHECK(token["privileges_source"] == "SECURITY hive");
  // SYSTEM's privileges are the kernel's, not the policy's: it still passes.
  CHECK(m.Diagnose("SYSTEM").exit_code == 0);
  // machine show names the hive key each holder's rights came from.
  auto show = Mkeys({"--json", "machine", "show", m.root});
  REQUIRE(show.exit_code == 0);
  const auto doc = nlohmann::json::parse(show.out);
  CHECK(doc["privileges_source"] == "SECURITY hive");
  bool sourced = false;
  for (const auto& p : doc["privileges"]) {
    for (const auto& h : p["holders"]) {
      sourced = sourced ||
                (h["sid"] == "S-1-5-20" && h["source"] ==
                                               "SECURITY: Policy\\Accounts\\S-1-5-20\\Privilgs "
                                               "(default value)");
    }
  }
  CHECK(sourced);
  // The real hive's unreplayed log (sequence numbers 107/106 before hivexsh's commits) is gone
  // after hivexsh committed; the warning list is printed as a list either way.
  CHECK(doc["policy"]["warnings"].is_array());
}

TEST_CASE("machine rights removes Bypass traverse checking on a model machine", "[cli][policy]") {
  Machine m;
  m.CloseCrypto();
  CHECK(m.Diagnose(kNs).exit_code == 0);
  for (const char* who : {"Everyone", "Users", "NETWORK SERVICE"}) {
    auto r =
        Mkeys({"machine", "rights", m.root, "--remove", "SeChangeNotifyPrivilege", "--from", who});
    INFO(who << r.out << r.err);
    CHECK(r.exit_code == 0);
  }
  auto denied = m.Diagnose(kNs);
  INFO(denied.out);
  CHECK(denied.exit_code == 1);
  CHECK(denied.out.find("ProgramData/Microsoft/Crypto") != std::string::npos);
  CHECK(denied.out.find("traverse") != std::string::npos);
  // Given back to NETWORK SERVICE alone: the open succeeds again.
  CHECK(Mkeys({"machine", "rights", m.root, "--add", "SeChangeNotifyPrivilege", "--to", kNs})
            .exit_code == 0);
  CHECK(m.Diagnose(kNs).exit_code == 0);
  // A second identical removal changes nothing and says so.
  auto again =
      Mkeys({"machine", "rights", m.root, "--remove", "SeChangeNotifyPrivilege", "--from", "WD"});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("no change") != std::string::npos);
}

TEST_CASE("machine rights refuses unknown right names and principals listing valid ones",
          "[cli][policy]") {
  Machine m;
  auto typo = Mkeys(
      {"machine", "rights", m.root, "--remove", "SeChangeNotifyPriviledge", "--from", "Everyone"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err.find("SeChangeNotifyPriviledge") != std::string::npos);
  CHECK(typo.err.find("SeChangeNotifyPrivilege,") != std::string::npos);
  CHECK(typo.err.find("SeServiceLogonRight") != std::string::npos);
  auto nobody =
      Mkeys({"machine", "rights", m.root, "--add", "SeBackupPrivilege", "--to", "nobody-here"});
  CHECK(nobody.exit_code == 3);  // an identity the machine does not know: input error
  CHECK(nobody.err.find("nobody-here") != std::string::npos);
  CHECK(Mkeys({"machine", "rights", m.root, "--add", "SeBackupPrivilege"}).exit_code == 2);
  // Logon rights go to ActSysAc.
  CHECK(
      Mkeys({"machine", "rights", m.root, "--add", "SeServiceLogonRight", "--to", kNs}).exit_code ==
      0);
}

TEST_CASE("service token from the real SYSTEM hive holds NT SERVICE and SERVICE", "[cli][policy]") {
  Machine m;
  test::PlaceRealHive(m.root, "SYSTEM");
  // CryptSvc logs on as NT Authority\NetworkService, ServiceSidType 1, RequiredPrivileges
  // SeChangeNotify, SeCreateGlobal, SeImpersonate.
  const auto token = m.Token("service:CryptSvc");
  CHECK(token["user"]["sid"] == "S-1-5-20");
  CHECK(HasGroup(token, "NT SERVICE\\CryptSvc"));
  CHECK(HasGroup(token, "S-1-5-6"));
  CHECK(HasGroup(token, "S-1-5-11"));
  CHECK(HasGroup(token, "S-1-5-32-545"));
  CHECK(HasPrivilege(token, "SeImpersonatePrivilege"));
  CHECK(HasPrivilege(token, "SeChangeNotifyPrivilege"));
  // Held by NETWORK SERVICE, filtered out by RequiredPrivileges.
  CHECK_FALSE(HasPrivilege(token, "SeAuditPrivilege"));
  CHECK_FALSE(HasPrivilege(token, "SeAssignPrimaryTokenPrivilege"));
  CHECK(HasPrivilege(m.Token(kNs), "SeAuditPrivilege"));
  // RpcLocator: NetworkService without a service SID type: no NT SERVICE group.
  CHECK_FALSE(HasGroup(m.Token("service:RpcLocator"), "NT SERVICE\\RpcLocator"));
  // The key grants only NT SERVICE\CryptSvc: the service opens it, plain NETWORK SERVICE not.
  const std::string keys = m.root + "/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  auto name = Mkeys({"store", "name", kKey, "--root", m.root});
  REQUIRE(name.exit_code == 0);
  const std::string file = name.out.substr(0, name.out.find_first_of("\r\n"));
  std::string service_sid;
  for (const auto& g : token["groups"]) {
    if (g["name"] == "NT SERVICE\\CryptSvc") service_sid = g["sid"];
  }
  REQUIRE(Mkeys({"sd", "set", keys + "/" + file,
                 "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;" + service_sid + ")"})
              .exit_code == 0);
  CHECK(m.Diagnose("service:CryptSvc").exit_code == 0);
  CHECK(m.Diagnose(kNs).exit_code == 1);
  // Unknown services and roots without a SYSTEM hive are errors naming them.
  auto unknown = m.Diagnose("service:NoSuchService");
  CHECK(unknown.exit_code == 3);  // an identity the machine does not know: input error
  CHECK(unknown.err.find("NoSuchService") != std::string::npos);
}

TEST_CASE("machine service add then diagnose as service on a model machine", "[cli][policy]") {
  Machine m;
  auto added =
      Mkeys({"machine", "service", "add", m.root, "AppSvc", "--logon",
             "NT AUTHORITY\\NetworkService", "--sid-type", "unrestricted", "--required-privileges",
             "SeChangeNotifyPrivilege", "SeImpersonatePrivilege"});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  const auto token = m.Token("service:AppSvc");
  CHECK(token["user"]["sid"] == "S-1-5-20");
  CHECK(HasGroup(token, "NT SERVICE\\AppSvc"));
  CHECK(HasGroup(token, "S-1-5-6"));
  CHECK(HasPrivilege(token, "SeImpersonatePrivilege"));
  CHECK_FALSE(HasPrivilege(token, "SeCreateGlobalPrivilege"));
  CHECK(m.Diagnose("service:AppSvc").exit_code == 0);
  // Crypto closed and no bypass left for the service's SIDs: it fails at Crypto.
  m.CloseCrypto();
  for (const char* who : {"Everyone", "Users", "NETWORK SERVICE"}) {
    REQUIRE(
        Mkeys({"machine", "rights", m.root, "--remove", "SeChangeNotifyPrivilege", "--from", who})
            .exit_code == 0);
  }
  auto denied = m.Diagnose("service:AppSvc");
  CHECK(denied.exit_code == 1);
  CHECK(denied.out.find("traverse") != std::string::npos);
  // Bad input: an unknown SID type, privilege or logon account.
  CHECK(Mkeys({"machine", "service", "add", m.root, "B", "--sid-type", "odd"}).exit_code == 2);
  CHECK(Mkeys({"machine", "service", "add", m.root, "C", "--required-privileges", "SeFly"})
            .exit_code == 2);
  CHECK(Mkeys({"machine", "service", "add", m.root, "D", "--logon", "CORP\\svc-app"}).exit_code ==
        3);
}

TEST_CASE("Real SAM hive: local users and groups by name in sid resolve and access check",
          "[cli][policy]") {
  Machine m;
  test::PlaceRealHive(m.root, "SAM");
  const std::string domain = "S-1-5-21-1760460187-1592185332-161725925";
  auto resolved = Mkeys({"sid", "resolve", "--root", m.root, "Preston", ".\\Guest",
                         "WIN-HOST\\Administrator", "BUILTIN\\IIS_IUSRS"});
  INFO(resolved.out << resolved.err);
  REQUIRE(resolved.exit_code == 0);
  CHECK(resolved.out.find(domain + "-1000\tPreston") != std::string::npos);
  CHECK(resolved.out.find(domain + "-501\tGuest") != std::string::npos);
  CHECK(resolved.out.find(domain + "-500\tAdministrator") != std::string::npos);
  CHECK(resolved.out.find("S-1-5-32-568\tBUILTIN\\IIS_IUSRS") != std::string::npos);
  CHECK(Mkeys({"sid", "resolve", "Preston"}).exit_code == 3);  // without --root: unknown
  // Preston is a member of Administrators in this SAM: a descriptor granting only BA lets him
  // read; Guest is not and is denied.
  const std::string sd = "O:SYG:SYD:(A;;FA;;;SY)(A;;FR;;;BA)";
  auto preston =
      Mkeys({"access", "check", "--root", m.root, "--sd", sd, "--as", "Preston", "--want", "R"});
  INFO(preston.out << preston.err);
  CHECK(preston.exit_code == 0);
  auto guest =
      Mkeys({"access", "check", "--root", m.root, "--sd", sd, "--as", ".\\Guest", "--want", "R"});
  CHECK(guest.exit_code == 1);
  // The token lists the aliases by name.
  const auto token = m.Token("Preston");
  CHECK(token["user"]["sid"] == domain + "-1000");
  CHECK(HasGroup(token, "BUILTIN\\Administrators"));
  CHECK(HasGroup(token, "BUILTIN\\Users"));
}

TEST_CASE("machine user add and group add-member: a member gets the group's access",
          "[cli][policy]") {
  Machine m;
  auto user = Mkeys({"--json", "machine", "user", "add", m.root, "alice"});
  INFO(user.out << user.err);
  REQUIRE(user.exit_code == 0);
  const std::string alice = nlohmann::json::parse(user.out)["sid"];
  REQUIRE(Mkeys({"machine", "group", "add", m.root, "KeyReaders"}).exit_code == 0);
  const std::string keys = m.root + "/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  auto name = Mkeys({"store", "name", kKey, "--root", m.root});
  const std::string file = name.out.substr(0, name.out.find_first_of("\r\n"));
  auto group = Mkeys({"--json", "sid", "resolve", "--root", m.root, "KeyReaders"});
  REQUIRE(group.exit_code == 0);
  const std::string readers = nlohmann::json::parse(group.out)[0]["sid"];
  REQUIRE(
      Mkeys({"sd", "set", keys + "/" + file, "O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;" + readers + ")"})
          .exit_code == 0);
  CHECK(m.Diagnose("alice").exit_code == 1);
  auto member = Mkeys({"machine", "group", "add-member", m.root, "KeyReaders", "alice"});
  INFO(member.out << member.err);
  REQUIRE(member.exit_code == 0);
  auto diag = m.Diagnose(".\\alice");
  INFO(diag.out);
  CHECK(diag.exit_code == 0);
  CHECK(m.Token("alice")["user"]["sid"] == alice);
  // Network service joins the group too: its token gets the alias.
  REQUIRE(Mkeys({"machine", "group", "add-member", m.root, "KeyReaders", kNs}).exit_code == 0);
  CHECK(HasGroup(m.Token(kNs), "KeyReaders"));
  CHECK(Mkeys({"machine", "group", "add-member", m.root, "NoGroup", "alice"}).exit_code == 2);
}

TEST_CASE("an old model machine without hives keeps working and migrates", "[cli][policy]") {
  Machine m;
  // As created before mkeys wrote hives: no hives, the rights in the facts file.
  std::filesystem::remove_all(std::filesystem::path(m.root) / "Windows/System32/config");
  auto show = Mkeys({"--json", "machine", "show", m.root});
  REQUIRE(show.exit_code == 0);
  CHECK(nlohmann::json::parse(show.out)["privileges_source"] == "mkeys default");
  CHECK(m.Diagnose(kNs).exit_code == 0);
  auto refused =
      Mkeys({"machine", "rights", m.root, "--remove", "SeChangeNotifyPrivilege", "--from", "WD"});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("machine migrate") != std::string::npos);
  REQUIRE(Mkeys({"machine", "migrate", m.root}).exit_code == 0);
  auto migrated = Mkeys({"--json", "machine", "show", m.root});
  CHECK(nlohmann::json::parse(migrated.out)["privileges_source"] == "SECURITY hive");
  CHECK(HasPrivilege(m.Token(kNs), "SeChangeNotifyPrivilege"));
  CHECK(m.Diagnose(kNs).exit_code == 0);
}
