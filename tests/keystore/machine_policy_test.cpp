// SPDX-License-Identifier: GPL-3.0-or-later
// The machine policy reader on the real hives of tests/data/hives (regipy's test data), changed
// in the tests with hivex's own tools (hivexsh, python3-hivex), never by mkeys alone; the
// generated empty hive opened and extended by hivexsh and python3-hivex; the model writers
// cross-checked with hivexsh.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "mkeys/keystore/hive_values.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"
#include "support/process.hpp"

using namespace mkeys;
using namespace mkeys::keystore;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSamDomain = "S-1-5-21-1760460187-1592185332-161725925";

// Decompresses tests/data/hives/<name>.xz into `root` at the hive's place under a machine root.
fs::path Unpack(const test::TempDir& dir, const std::string& name, HiveKind kind) {
  const fs::path src = test::TestDataDir() / "hives" / (name + ".xz");
  REQUIRE(fs::exists(src));  // missing test data is a failure, never a skip
  const fs::path dst = dir.path() / "root" / HiveRelativePath(kind);
  fs::create_directories(dst.parent_path());
  const auto r =
      test::Run({"sh", "-c", "xz -dc \"$1\" > \"$2\"", "sh", src.string(), dst.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return dst;
}

// Runs a hivexsh script against `file` in write mode (the script ends with `commit`).
void HivexSh(const fs::path& file, const std::string& script) {
  const auto r = test::Run({"hivexsh", "-w", file.string()}, script);
  INFO(script << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

std::string HivexShRead(const fs::path& file, const std::string& script) {
  const auto r = test::Run({"hivexsh", file.string()}, script);
  INFO(script << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// Runs python3-hivex (Debian's bindings load under /usr/bin/python3) with `file` as argv[1].
std::string PyHivex(const fs::path& file, const std::string& code) {
  const auto r = test::Run({"/usr/bin/python3", "-c", "import sys, hivex\n" + code, file.string()});
  INFO(code << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

acl::Sid S(const char* text) {
  return *acl::Sid::Parse(text);
}

std::vector<std::string> Strings(const std::vector<acl::Sid>& sids) {
  std::vector<std::string> out;
  for (const auto& s : sids) out.push_back(s.ToString());
  return out;
}

const LocalAlias* FindAlias(const SamFacts& sam, const std::string& name) {
  for (const auto& a : sam.aliases) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Real SAM hive: account domain and users and alias members", "[keystore][policy]") {
  test::TempDir dir;
  const auto sam_file = Unpack(dir, "SAM", HiveKind::kSam);
  auto sam = ReadSamHive(sam_file, {});
  INFO((sam ? "" : sam.error().ToString()));
  REQUIRE(sam);
  CHECK(sam->account_domain.ToString() == kSamDomain);
  CHECK(sam->account_domain_source.ToString() == "SAM: SAM\\Domains\\Account value V");

  std::vector<std::string> users;
  for (const auto& u : sam->users) users.push_back(u.name + "=" + u.sid.ToString());
  CHECK(users == std::vector<std::string>{std::string("Administrator=") + kSamDomain + "-500",
                                          std::string("Guest=") + kSamDomain + "-501",
                                          std::string("Preston=") + kSamDomain + "-1000"});

  const LocalAlias* users_alias = FindAlias(*sam, "Users");
  REQUIRE(users_alias != nullptr);
  CHECK(users_alias->builtin);
  CHECK(users_alias->sid.ToString() == "S-1-5-32-545");
  CHECK(Strings(users_alias->members) ==
        std::vector<std::string>{"S-1-5-4", "S-1-5-11", std::string(kSamDomain) + "-1000"});
  CHECK(users_alias->source.key == "SAM\\Domains\\Builtin\\Aliases\\00000221");
  CHECK(users_alias->source.value == "C");

  const LocalAlias* iis = FindAlias(*sam, "IIS_IUSRS");
  REQUIRE(iis != nullptr);
  CHECK(iis->sid.ToString() == "S-1-5-32-568");
  CHECK(Strings(iis->members) == std::vector<std::string>{"S-1-5-17"});

  const LocalAlias* admins = FindAlias(*sam, "Administrators");
  REQUIRE(admins != nullptr);
  CHECK(Strings(admins->members) == std::vector<std::string>{std::string(kSamDomain) + "-500",
                                                             std::string(kSamDomain) + "-1000"});
}

TEST_CASE("Real SECURITY hive: privileges and logon rights per SID", "[keystore][policy]") {
  test::TempDir dir;
  const auto file = Unpack(dir, "SECURITY", HiveKind::kSecurity);
  auto security = ReadSecurityHive(file, {});
  INFO((security ? "" : security.error().ToString()));
  REQUIRE(security);
  for (const char* sid : {"S-1-1-0", "S-1-5-20", "S-1-5-32-545", "S-1-5-19", "S-1-5-32-544"}) {
    const AccountRights* rights = security->Find(S(sid));
    INFO(sid);
    REQUIRE(rights != nullptr);
    CHECK(rights->HasPrivilege("SeChangeNotifyPrivilege"));
  }
  const AccountRights* network = security->Find(S("S-1-5-20"));
  CHECK(network->privileges ==
        std::vector<std::string>{"SeAuditPrivilege", "SeChangeNotifyPrivilege",
                                 "SeImpersonatePrivilege", "SeCreateGlobalPrivilege",
                                 "SeIncreaseQuotaPrivilege", "SeAssignPrimaryTokenPrivilege"});
  REQUIRE(network->privileges_source);
  CHECK(network->privileges_source->ToString() ==
        "SECURITY: Policy\\Accounts\\S-1-5-20\\Privilgs (default value)");
  const AccountRights* everyone = security->Find(S("S-1-1-0"));
  CHECK(everyone->logon_rights == std::vector<std::string>{"SeNetworkLogonRight"});
  // This SECURITY file's header says 107 / 106: its .LOG files were never replayed.
  REQUIRE(security->warnings.size() == 1);
  CHECK_THAT(security->warnings[0].message, Catch::Contains("107 differs from secondary 106"));
}

TEST_CASE("Real SYSTEM hive: services and how they log on", "[keystore][policy]") {
  test::TempDir dir;
  const auto file = Unpack(dir, "SYSTEM", HiveKind::kSystem);
  auto system = ReadSystemHive(file, {});
  INFO((system ? "" : system.error().ToString()));
  REQUIRE(system);
  CHECK(system->current_control_set == "ControlSet001");
  const ServiceConfig* crypt = system->Find("cryptsvc");
  REQUIRE(crypt != nullptr);
  CHECK(crypt->name == "CryptSvc");
  CHECK(crypt->object_name == "NT Authority\\NetworkService");
  CHECK(crypt->sid_type == std::optional<std::uint32_t>(1));
  CHECK(crypt->has_required_privileges);
  CHECK(crypt->required_privileges == std::vector<std::string>{"SeChangeNotifyPrivilege",
                                                               "SeCreateGlobalPrivilege",
                                                               "SeImpersonatePrivilege"});
  CHECK(crypt->source.key == "ControlSet001\\Services\\CryptSvc");
  const ServiceConfig* rpc_locator = system->Find("RpcLocator");
  REQUIRE(rpc_locator != nullptr);
  CHECK(rpc_locator->object_name == "NT AUTHORITY\\NetworkService");
  CHECK_FALSE(rpc_locator->sid_type.has_value());
  // Drivers (Type 1) are not services that log on.
  CHECK(system->Find("Tcpip") == nullptr);
  CHECK(system->services.size() > 100);
}

TEST_CASE(
    "Real SECURITY hive edited by hivexsh: Everyone and NETWORK SERVICE and Users lose "
    "SeChangeNotifyPrivilege",
    "[keystore][policy]") {
  test::TempDir dir;
  const auto file = Unpack(dir, "SECURITY", HiveKind::kSecurity);
  const std::string users_privs =
      HivexShRead(file, "cd Policy\\Accounts\\S-1-5-32-545\\Privilgs\nlsval\n");
  REQUIRE_THAT(users_privs, Catch::Contains("17,00,00,00"));
  // The Privilgs values rewritten by hand, without the LUID 0x17 entry.
  HivexSh(file,
          "cd Policy\\Accounts\\S-1-1-0\\Privilgs\nsetval 1\n@\nhex:0:00,00,00,00,00,00,00,00\n"
          "cd \\Policy\\Accounts\\S-1-5-20\\Privilgs\nsetval 1\n@\n"
          "hex:0:05,00,00,00,00,00,00,00,15,00,00,00,00,00,00,00,00,00,00,00,"
          "1d,00,00,00,00,00,00,00,00,00,00,00,1e,00,00,00,00,00,00,00,00,00,00,00,"
          "05,00,00,00,00,00,00,00,00,00,00,00,03,00,00,00,00,00,00,00,00,00,00,00\n"
          "commit\n");
  PyHivex(
      file,
      "h = hivex.Hivex(sys.argv[1], write=True)\n"
      "n = h.root()\n"
      "for k in ['Policy', 'Accounts', 'S-1-5-32-545', 'Privilgs']: n = h.node_get_child(n, k)\n"
      "t, data = h.value_value(h.node_get_value(n, ''))\n"
      "count = int.from_bytes(data[0:4], 'little')\n"
      "entries = [data[8 + 12 * i: 20 + 12 * i] for i in range(count)]\n"
      "kept = [e for e in entries if int.from_bytes(e[0:4], 'little') != 0x17]\n"
      "out = len(kept).to_bytes(4, 'little') + data[4:8] + b''.join(kept)\n"
      "h.node_set_value(n, {'key': '', 't': t, 'value': out})\n"
      "h.commit(None)\n");

  auto policy = ReadMachinePolicy(dir.path() / "root");
  INFO((policy ? "" : policy.error().ToString()));
  REQUIRE(policy);
  REQUIRE(policy->security);
  for (const char* sid : {"S-1-1-0", "S-1-5-20", "S-1-5-32-545"}) {
    INFO(sid);
    REQUIRE(policy->security->Find(S(sid)) != nullptr);
    CHECK_FALSE(policy->security->Find(S(sid))->HasPrivilege("SeChangeNotifyPrivilege"));
  }
  CHECK(policy->security->Find(S("S-1-5-20"))->privileges ==
        std::vector<std::string>{"SeAuditPrivilege", "SeImpersonatePrivilege",
                                 "SeCreateGlobalPrivilege", "SeIncreaseQuotaPrivilege",
                                 "SeAssignPrimaryTokenPrivilege"});
  CHECK(policy->security->Find(S("S-1-5-32-544"))->HasPrivilege("SeChangeNotifyPrivilege"));
  // The other three hives are not there: the caller is told which facts fall back to defaults.
  CHECK(policy->missing ==
        std::vector<HiveKind>{HiveKind::kSam, HiveKind::kSystem, HiveKind::kSoftware});
}

TEST_CASE("Real SAM and SYSTEM edited by hivex: a removed member and a changed logon account",
          "[keystore][policy]") {
  test::TempDir dir;
  const auto sam_file = Unpack(dir, "SAM", HiveKind::kSam);
  const auto system_file = Unpack(dir, "SYSTEM", HiveKind::kSystem);
  // Users' C value: drop the last member (RID 1000, 28 bytes): count 3 -> 2, length 0x34 -> 0x18.
  PyHivex(
      sam_file,
      "h = hivex.Hivex(sys.argv[1], write=True)\n"
      "n = h.root()\n"
      "for k in ['SAM', 'Domains', 'Builtin', 'Aliases', '00000221']: n = h.node_get_child(n, k)\n"
      "t, c = h.value_value(h.node_get_value(n, 'C'))\n"
      "c = bytearray(c[:-28])\n"
      "c[0x2C:0x30] = (0x18).to_bytes(4, 'little')\n"
      "c[0x30:0x34] = (2).to_bytes(4, 'little')\n"
      "h.node_set_value(n, {'key': 'C', 't': t, 'value': bytes(c)})\n"
      "h.commit(None)\n");
  HivexSh(system_file,
          "cd ControlSet001\\Services\\CryptSvc\nsetval 2\nObjectName\nstring:LocalSystem\n"
          "ServiceSidType\ndword:3\ncommit\n");

  PolicyReadOptions options;
  options.copy_from_image = true;  // as for a mounted image: read from private copies
  auto policy = ReadMachinePolicy(dir.path() / "root", options);
  INFO((policy ? "" : policy.error().ToString()));
  REQUIRE(policy);
  REQUIRE(policy->sam);
  const LocalAlias* users = FindAlias(*policy->sam, "Users");
  REQUIRE(users != nullptr);
  CHECK(Strings(users->members) == std::vector<std::string>{"S-1-5-4", "S-1-5-11"});
  const acl::Sid preston = S((std::string(kSamDomain) + "-1000").c_str());
  CHECK(policy->NameOf(preston) == "Preston");
  std::vector<std::string> preston_aliases;
  for (const auto* alias : policy->AliasesOf(preston)) preston_aliases.push_back(alias->name);
  CHECK(preston_aliases == std::vector<std::string>{"Administrators"});
  REQUIRE(policy->system);
  const ServiceConfig* crypt = policy->system->Find("CryptSvc");
  REQUIRE(crypt != nullptr);
  CHECK(crypt->object_name == "LocalSystem");
  CHECK(crypt->sid_type == std::optional<std::uint32_t>(3));
}

TEST_CASE("Malformed hive values are errors naming hive and key and offset", "[keystore][policy]") {
  test::TempDir dir;
  const auto file = Unpack(dir, "SECURITY", HiveKind::kSecurity);
  // Claims 5 privileges, holds 1.
  HivexSh(file,
          "cd Policy\\Accounts\\S-1-1-0\\Privilgs\nsetval 1\n@\n"
          "hex:0:05,00,00,00,00,00,00,00,17,00,00,00,00,00,00,00,03,00,00,00\ncommit\n");
  auto security = ReadSecurityHive(file, {});
  REQUIRE_FALSE(security);
  CHECK(security.error().code() == ErrorCode::kParse);
  CHECK(security.error().position() == std::optional<std::size_t>(0));
  CHECK_THAT(security.error().message(),
             Catch::Contains("SECURITY: Policy\\Accounts\\S-1-1-0\\Privilgs value (default)") &&
                 Catch::Contains("claims 5 privileges"));

  const auto sam_file = Unpack(dir, "SAM", HiveKind::kSam);
  HivexSh(sam_file,
          "cd SAM\\Domains\\Builtin\\Aliases\\00000238\nsetval 1\nC\n"
          "hex:3:38,02,00,00,00,00,00,00,00,00,00,00,02,00,01,00,00,00,00,00,40,00,00,00\n"
          "commit\n");
  auto sam = ReadSamHive(sam_file, {});
  REQUIRE_FALSE(sam);
  CHECK_THAT(sam.error().message(),
             Catch::Contains("SAM: SAM\\Domains\\Builtin\\Aliases\\00000238 value C"));

  // Not a hive at all.
  std::ofstream(dir.path() / "junk") << "not a registry hive";
  auto junk = ReadSystemHive(dir.path() / "junk", {});
  REQUIRE_FALSE(junk);
  CHECK(junk.error().ToExitCode() == kExitInput);
}

TEST_CASE("Generated empty hive opens in hivexsh and python3-hivex and takes keys and values",
          "[keystore][policy]") {
  test::TempDir dir;
  const auto bytes = BuildEmptyHive("ROOT");
  REQUIRE(bytes.size() == 8192);
  CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "regf");
  CHECK(std::string(bytes.begin() + 4096, bytes.begin() + 4100) == "hbin");
  const fs::path file = dir.path() / "EMPTY";
  REQUIRE(WriteEmptyHive(file));
  CHECK(WriteEmptyHive(file).error().code() == ErrorCode::kExists);

  // hivexsh: the root is empty; add a key and values, commit.
  CHECK(HivexShRead(file, "ls\nlsval\n").empty());
  HivexSh(file,
          "add Alpha\ncd Alpha\nsetval 2\nName\nstring:hello\nNumber\ndword:0x2a\n"
          "add Beta\ncommit\n");
  // python3-hivex reads what hivexsh wrote, and adds more.
  const std::string out =
      PyHivex(file,
              "h = hivex.Hivex(sys.argv[1], write=True)\n"
              "r = h.root()\n"
              "a = h.node_get_child(r, 'Alpha')\n"
              "print(h.node_name(r), h.value_string(h.node_get_value(a, 'Name')),\n"
              "      h.value_dword(h.node_get_value(a, 'Number')),\n"
              "      [h.node_name(c) for c in h.node_children(a)])\n"
              "g = h.node_add_child(r, 'Gamma')\n"
              "h.node_set_value(g, {'key': 'V', 't': 3, 'value': b'\\x01\\x02'})\n"
              "h.commit(None)\n");
  CHECK(out == "ROOT hello 42 ['Beta']\n");
  const std::string listing = HivexShRead(file, "ls\ncd Gamma\nlsval\n");
  CHECK(listing == "Alpha\nGamma\n\"V\"=hex(3):01,02\n");
}

TEST_CASE(
    "Model hives: rights and accounts and services written by mkeys read back and agree "
    "with hivexsh",
    "[keystore][policy]") {
  test::TempDir dir;
  const fs::path root = dir.path() / "model";
  ModelHivesOptions options{S("S-1-5-21-1-2-3"), "c49c7513-8b86-4d0e-90bf-4805804a9318"};
  REQUIRE(CreateModelHives(root, options));
  const fs::path sam = root / HiveRelativePath(HiveKind::kSam);
  const fs::path security = root / HiveRelativePath(HiveKind::kSecurity);
  const fs::path system = root / HiveRelativePath(HiveKind::kSystem);

  CHECK(*GrantRight(security, S("S-1-1-0"), "SeChangeNotifyPrivilege"));
  CHECK(*GrantRight(security, S("S-1-5-20"), "sechangenotifyprivilege"));
  CHECK(*GrantRight(security, S("S-1-5-20"), "SeImpersonatePrivilege"));
  CHECK(*GrantRight(security, S("S-1-5-20"), "SeServiceLogonRight"));
  CHECK_FALSE(*GrantRight(security, S("S-1-5-20"), "SeImpersonatePrivilege"));
  CHECK(*RevokeRight(security, S("S-1-5-20"), "SeChangeNotifyPrivilege"));
  CHECK_FALSE(*RevokeRight(security, S("S-1-5-19"), "SeChangeNotifyPrivilege"));
  auto typo = GrantRight(security, S("S-1-1-0"), "SeChangeNotifyPriviledge");
  REQUIRE_FALSE(typo);
  CHECK(typo.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(typo.error().message(), Catch::Contains("'SeChangeNotifyPriviledge'") &&
                                         Catch::Contains("SeChangeNotifyPrivilege,") &&
                                         Catch::Contains("SeServiceLogonRight"));

  const auto user = AddLocalUser(sam, 1001, "shopadmin");
  REQUIRE(user);
  CHECK(user->ToString() == "S-1-5-21-1-2-3-1001");
  CHECK(AddLocalUser(sam, 1002, "SHOPADMIN").error().code() == ErrorCode::kExists);
  const auto users = AddAlias(sam, true, 545, "Users");
  REQUIRE(users);
  REQUIRE(AddAlias(sam, false, 1003, "KeyReaders"));
  CHECK(*AddAliasMember(sam, *users, S("S-1-5-11")));
  CHECK(*AddAliasMember(sam, *users, *user));
  CHECK_FALSE(*AddAliasMember(sam, *users, *user));
  CHECK(*AddAliasMember(sam, S("S-1-5-21-1-2-3-1003"), *user));
  CHECK(AddAliasMember(sam, S("S-1-5-32-999"), *user).error().code() == ErrorCode::kNotFound);

  ServiceSpec shop{"ShopSvc", "NT AUTHORITY\\NetworkService", 1,
                   std::vector<std::string>{"SeChangeNotifyPrivilege"}};
  REQUIRE(AddService(system, shop));
  CHECK(AddService(system, shop).error().code() == ErrorCode::kExists);
  shop.name = "Other";
  shop.required_privileges = std::vector<std::string>{"SeBogusPrivilege"};
  CHECK(AddService(system, shop).error().code() == ErrorCode::kInvalidArgument);

  auto policy = ReadMachinePolicy(root);
  INFO((policy ? "" : policy.error().ToString()));
  REQUIRE(policy);
  CHECK(policy->missing.empty());
  CHECK(policy->warnings.empty());
  CHECK(policy->sam->account_domain.ToString() == "S-1-5-21-1-2-3");
  CHECK(policy->NameOf(*user) == "shopadmin");
  CHECK(Strings(FindAlias(*policy->sam, "Users")->members) ==
        std::vector<std::string>{"S-1-5-11", "S-1-5-21-1-2-3-1001"});
  CHECK(policy->AliasesOf(*user).size() == 2);
  const AccountRights* network = policy->security->Find(S("S-1-5-20"));
  REQUIRE(network != nullptr);
  CHECK(network->privileges == std::vector<std::string>{"SeImpersonatePrivilege"});
  CHECK(network->logon_rights == std::vector<std::string>{"SeServiceLogonRight"});
  const ServiceConfig* svc = policy->system->Find("shopsvc");
  REQUIRE(svc != nullptr);
  CHECK(svc->object_name == "NT AUTHORITY\\NetworkService");
  CHECK(svc->sid_type == std::optional<std::uint32_t>(1));
  CHECK(svc->required_privileges == std::vector<std::string>{"SeChangeNotifyPrivilege"});
  CHECK(policy->software->machine_guid == std::optional<std::string>(options.machine_guid));

  // An independent reader of the same bytes: hivexsh shows Windows' Privilgs and ActSysAc layouts.
  CHECK(HivexShRead(security, "cd Policy\\Accounts\\S-1-5-20\\Privilgs\nlsval\n") ==
        "\"@\"=hex(0):01,00,00,00,00,00,00,00,1d,00,00,00,00,00,00,00,00,00,00,00\n");
  CHECK(HivexShRead(security, "cd Policy\\Accounts\\S-1-5-20\\ActSysAc\nlsval\n") ==
        "\"@\"=hex(0):10,00,00,00\n");
  CHECK(HivexShRead(system, "cd ControlSet001\\Services\\ShopSvc\nlsval ObjectName\n") ==
        "NT AUTHORITY\\NetworkService\n");
}

TEST_CASE(
    "Real SYSTEM and SECURITY hives: a service's logon SID and the privileges its token "
    "keeps",
    "[keystore][policy]") {
  test::TempDir dir;
  Unpack(dir, "SYSTEM", HiveKind::kSystem);
  Unpack(dir, "SECURITY", HiveKind::kSecurity);
  Unpack(dir, "SAM", HiveKind::kSam);
  auto policy = ReadMachinePolicy(dir.path() / "root");
  INFO((policy ? "" : policy.error().ToString()));
  REQUIRE(policy);
  const ServiceConfig* dnscache = policy->system->Find("Dnscache");
  REQUIRE(dnscache != nullptr);
  auto logon = ServiceLogonSid(*dnscache, &*policy->sam);
  REQUIRE(logon);
  CHECK(logon->ToString() == "S-1-5-20");
  // NETWORK SERVICE + Everyone + Users + Authenticated Users, as its token holds them.
  const auto held = policy->security->PrivilegesOf(
      {*logon, S("S-1-1-0"), S("S-1-5-32-545"), S("S-1-5-11"), S("S-1-5-6")});
  CHECK(held == std::vector<std::string>{
                    "SeAssignPrimaryTokenPrivilege", "SeIncreaseQuotaPrivilege",
                    "SeShutdownPrivilege", "SeAuditPrivilege", "SeChangeNotifyPrivilege",
                    "SeUndockPrivilege", "SeImpersonatePrivilege", "SeCreateGlobalPrivilege",
                    "SeIncreaseWorkingSetPrivilege", "SeTimeZonePrivilege"});
  // Dnscache asks for SeChangeNotify and SeCreateGlobal only.
  CHECK(ServiceTokenPrivileges(*dnscache, held) ==
        std::vector<std::string>{"SeChangeNotifyPrivilege", "SeCreateGlobalPrivilege"});
  // SeChangeNotifyPrivilege survives a RequiredPrivileges list that leaves it out (NlaSvc).
  const ServiceConfig* nla = policy->system->Find("NlaSvc");
  REQUIRE(nla != nullptr);
  CHECK(ServiceTokenPrivileges(*nla, held) ==
        std::vector<std::string>{"SeAuditPrivilege", "SeChangeNotifyPrivilege",
                                 "SeImpersonatePrivilege", "SeCreateGlobalPrivilege"});

  const auto assignments = policy->security->ToPrivilegeAssignments();
  auto change_notify = std::find_if(assignments.begin(), assignments.end(), [](const auto& a) {
    return a.privilege == "SeChangeNotifyPrivilege";
  });
  REQUIRE(change_notify != assignments.end());
  CHECK(Strings(change_notify->holders) ==
        std::vector<std::string>{"S-1-1-0", "S-1-5-19", "S-1-5-20", "S-1-5-32-544", "S-1-5-32-545",
                                 "S-1-5-32-551"});

  ServiceConfig domain_account;
  domain_account.name = "Shop";
  domain_account.object_name = "CONTOSO\\svc-shop";
  CHECK(ServiceLogonSid(domain_account, &*policy->sam).error().code() == ErrorCode::kNotFound);
  domain_account.object_name = "NT SERVICE\\Shop";
  CHECK(ServiceLogonSid(domain_account, nullptr)->ToString() == acl::ServiceSid("Shop").ToString());
  domain_account.object_name = ".\\preston";
  CHECK(ServiceLogonSid(domain_account, &*policy->sam)->ToString() ==
        std::string(kSamDomain) + "-1000");
}
