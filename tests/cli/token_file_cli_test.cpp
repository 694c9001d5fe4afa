// SPDX-License-Identifier: GPL-3.0-or-later
// --token FILE through the binary (access check, diagnose, repair --service), and the
// principals repair --emit names: names or SIDs that exist on the machine or in --token, never
// an invented SID.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include "support/hives.hpp"
#include "support/process.hpp"

using namespace mkeys;
using test::Mkeys;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kKey = "app key";
constexpr const char* kDomainUser = "S-1-5-21-3623811015-3361044348-30300820-1105";

struct Machine {
  test::TempDir dir;
  std::string root;
  std::string keys;
  std::string file;  // the key's file name
  Machine() {
    root = (dir.path() / "m").string();
    keys = root + "/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
    REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0);
    REQUIRE(
        Mkeys({"store", "create", root, kKey, "--as", "SYSTEM", "--key", "ec:p256"}).exit_code ==
        0);
    auto name = Mkeys({"store", "name", kKey, "--root", root});
    REQUIRE(name.exit_code == 0);
    file = name.out.substr(0, name.out.find_first_of("\r\n"));
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const auto path = dir.path() / name;
    std::ofstream(path) << text;
    return path.string();
  }
  void SetKeySd(const std::string& sddl) const {
    REQUIRE(Mkeys({"sd", "set", keys + "/" + file, sddl}).exit_code == 0);
  }
};

std::string DomainToken(const std::string& extra = "") {
  return std::string(R"({"user": {"name": "CONTOSO\\svc-web", "sid": ")") + kDomainUser +
         R"("}, "logon": "service")" + extra + "}";
}

// Every SID string in `text`: "S-1-" then digits and at least one more "-digits" group.
// (Scanned by hand: std::regex trips GCC 12's -Wmaybe-uninitialized in the ASan build.)
std::set<std::string> SidsIn(const std::string& text) {
  std::set<std::string> out;
  const auto digit = [&](std::size_t i) {
    return i < text.size() && text[i] >= '0' && text[i] <= '9';
  };
  for (std::size_t at = text.find("S-1-"); at != std::string::npos;
       at = text.find("S-1-", at + 1)) {
    std::size_t end = at + 4;
    if (!digit(end)) continue;
    while (digit(end)) ++end;
    int groups = 0;
    while (end < text.size() && text[end] == '-' && digit(end + 1)) {
      ++end;
      while (digit(end)) ++end;
      ++groups;
    }
    if (groups > 0) out.insert(text.substr(at, end - at));
  }
  return out;
}

// The SID `name` has on the machine (sid resolve --root), or "" if it has none.
std::string SidOf(const std::string& root, const std::string& name) {
  auto r = Mkeys({"--json", "sid", "resolve", "--root", root, name});
  if (r.exit_code != 0) return "";
  return nlohmann::json::parse(r.out)[0]["sid"];
}

// A SID the machine knows by a name (well-known, its SAM): sid resolve names it by more than the
// SID itself.
bool MachineKnows(const std::string& root, const std::string& sid) {
  auto r = Mkeys({"--json", "sid", "resolve", "--root", root, sid});
  if (r.exit_code != 0) return false;
  const std::string name = nlohmann::json::parse(r.out)[0]["name"];
  return name.find("S-1-") == std::string::npos;
}

}  // namespace

TEST_CASE("access check --token: a domain account gets its groups' access", "[cli][token]") {
  test::TempDir dir;
  const auto path = (dir.path() / "t.json").string();
  const std::string readers = "S-1-5-21-3623811015-3361044348-30300820-1120";
  std::ofstream(path) << DomainToken(R"(, "groups": [")" + readers + R"("])");
  const std::string sd = "O:SYG:SYD:(A;;FA;;;SY)(A;;FR;;;" + readers + ")";
  auto granted = Mkeys({"access", "check", "--sd", sd, "--token", path, "--want", "R"});
  INFO(granted.out << granted.err);
  CHECK(granted.exit_code == 0);
  CHECK(granted.out.find("identity: CONTOSO\\svc-web (" + std::string(kDomainUser) + ")") !=
        std::string::npos);
  std::ofstream(path, std::ios::trunc) << DomainToken();
  CHECK(Mkeys({"access", "check", "--sd", sd, "--token", path, "--want", "R"}).exit_code == 1);
  // --as and --token together, or neither: a usage error.
  CHECK(Mkeys({"access", "check", "--sd", sd, "--token", path, "--as", "SYSTEM"}).exit_code == 2);
  CHECK(Mkeys({"access", "check", "--sd", sd}).exit_code == 2);
}

TEST_CASE("access check --token --root: a member of a local group gets the group's access",
          "[cli][token]") {
  Machine m;
  REQUIRE(Mkeys({"machine", "group", "add", m.root, "KeyReaders"}).exit_code == 0);
  const std::string group = SidOf(m.root, "KeyReaders");
  REQUIRE_FALSE(group.empty());
  const std::string sd = "O:SYG:SYD:(A;;FA;;;SY)(A;;FR;;;" + group + ")";
  // The file names the local group by name: the machine resolves it.
  const auto token = m.Write("t.json", DomainToken(R"(, "groups": ["KeyReaders"])"));
  auto r = Mkeys(
      {"--json", "access", "check", "--root", m.root, "--sd", sd, "--token", token, "--want", "R"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["identity"]["name"] == "CONTOSO\\svc-web");
  CHECK(doc["identity"]["sid"] == kDomainUser);
  // A group the machine does not have is an error that says where.
  const auto bad = m.Write("bad.json", DomainToken(R"(, "groups": ["NoSuchGroup"])"));
  auto refused = Mkeys({"access", "check", "--root", m.root, "--sd", sd, "--token", bad});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("$.groups[0]") != std::string::npos);
}

TEST_CASE("token files: malformed files are input errors that say where", "[cli][token]") {
  test::TempDir dir;
  const auto path = (dir.path() / "t.json").string();
  const std::string sd = "O:SYG:SYD:(A;;FA;;;SY)";
  std::ofstream(path) << R"({"user": "S-1-5-20",})";
  auto syntax = Mkeys({"access", "check", "--sd", sd, "--token", path});
  CHECK(syntax.exit_code == 3);
  CHECK(syntax.err.find("at offset") != std::string::npos);
  std::ofstream(path, std::ios::trunc)
      << R"({"user": "S-1-5-20", "privileges": ["SeChangeNotifyPriviledge"]})";
  auto typo = Mkeys({"access", "check", "--sd", sd, "--token", path});
  CHECK(typo.exit_code == 3);
  CHECK(typo.err.find("$.privileges[0]: unknown privilege 'SeChangeNotifyPriviledge'") !=
        std::string::npos);
  auto missing = Mkeys({"access", "check", "--sd", sd, "--token", path + ".none"});
  CHECK(missing.exit_code == 3);
}

TEST_CASE("diagnose --token: a domain account opening a key", "[cli][token][diagnose]") {
  Machine m;
  const auto token = m.Write("t.json", DomainToken());
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)");
  auto denied = Mkeys({"diagnose", m.root, "--token", token, "--container", kKey});
  INFO(denied.out << denied.err);
  CHECK(denied.exit_code == 1);
  CHECK(denied.out.find("CONTOSO\\svc-web") != std::string::npos);
  m.SetKeySd(std::string("O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;") + kDomainUser + ")");
  auto json = Mkeys({"--json", "diagnose", m.root, "--token", token, "--container", kKey});
  INFO(json.out << json.err);
  CHECK(json.exit_code == 0);
  CHECK(Mkeys({"diagnose", m.root, "--container", kKey}).exit_code == 2);
}

TEST_CASE("repair --emit icacls names an app pool as IIS APPPOOL and every SID exists",
          "[cli][token][emit]") {
  Machine m;
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)");
  const std::string pool = "IIS APPPOOL\\Shop";
  const auto token = m.Write("t.json", DomainToken());
  const std::vector<std::string> args = {"repair",    m.root,
                                         "--service", pool + "=" + kKey,
                                         "--service", std::string("CONTOSO\\svc-web=") + kKey,
                                         "--token",   token};
  auto icacls = args;
  icacls.insert(icacls.end(), {"--emit", "icacls"});
  auto script = Mkeys(icacls);
  INFO(script.out << script.err);
  CHECK(script.exit_code == 1);
  const std::string path = "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys\\" + m.file;
  CHECK(script.out.find("icacls \"" + path + "\" /grant \"IIS APPPOOL\\Shop:(R)\"") !=
        std::string::npos);
  CHECK(script.out.find("icacls \"" + path + "\" /grant \"CONTOSO\\svc-web:(R)\"") !=
        std::string::npos);
  auto powershell = args;
  powershell.insert(powershell.end(), {"--emit", "powershell"});
  auto ps = Mkeys(powershell);
  INFO(ps.out << ps.err);
  CHECK(ps.exit_code == 1);
  CHECK(ps.out.find("#   grants IIS APPPOOL\\Shop R") != std::string::npos);
  // Every SID in either script: one the machine names, the pool's, or the token's.
  const std::set<std::string> allowed_extra = {SidOf(m.root, pool), kDomainUser};
  for (const auto& text : {script.out, ps.out}) {
    for (const auto& sid : SidsIn(text)) {
      INFO(sid);
      CHECK((allowed_extra.count(sid) == 1 || MachineKnows(m.root, sid)));
    }
  }
}

TEST_CASE("repair --emit refuses to grant a SID the machine does not have", "[cli][token][emit]") {
  Machine m;
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)");
  // The catalogue's model `user` (S-1-5-21-1004336348-...-1001) is no account of this machine.
  for (const char* kind : {"icacls", "powershell"}) {
    auto r = Mkeys({"repair", m.root, "--service", std::string("user=") + kKey, "--emit", kind});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("S-1-5-21-1004336348-1177238915-682003330-1001") != std::string::npos);
    CHECK(r.err.find("invented SID") != std::string::npos);
    CHECK(r.out.find("S-1-5-21-1004336348") == std::string::npos);
  }
}

TEST_CASE("the HTML report's fix lines name an app pool as IIS APPPOOL", "[cli][token][emit]") {
  Machine m;
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)");
  auto r = Mkeys(
      {"audit", m.root, "--service", std::string("IIS APPPOOL\\Shop=") + kKey, "--format", "html"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("/grant &quot;IIS APPPOOL\\Shop:(R)&quot;") != std::string::npos);
  CHECK(r.out.find("*S-1-5-82-") == std::string::npos);
}

TEST_CASE("repair --emit names a local user of the machine's SAM by its name",
          "[cli][token][emit]") {
  Machine m;
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)");
  REQUIRE(Mkeys({"machine", "user", "add", m.root, "alice"}).exit_code == 0);
  auto r = Mkeys({"repair", m.root, "--service", std::string("alice=") + kKey, "--emit", "icacls"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("/grant \"alice:(R)\"") != std::string::npos);
  CHECK(SidsIn(r.out).empty());
}

TEST_CASE("diagnose --token: a domain account in a local group of the SAM and the fix command",
          "[cli][token][diagnose]") {
  Machine m;
  REQUIRE(Mkeys({"machine", "group", "add", m.root, "KeyReaders"}).exit_code == 0);
  const std::string group = SidOf(m.root, "KeyReaders");
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;" + group + ")");
  const auto token = m.Write("t.json", DomainToken());
  CHECK(Mkeys({"diagnose", m.root, "--token", token, "--container", kKey}).exit_code == 1);
  // The machine's SAM lists the domain account in KeyReaders: its token gets the group.
  REQUIRE(Mkeys({"machine", "group", "add-member", m.root, "KeyReaders", kDomainUser}).exit_code ==
          0);
  auto member = Mkeys({"diagnose", m.root, "--token", token, "--container", kKey});
  INFO(member.out << member.err);
  CHECK(member.exit_code == 0);
  // Denied again: the fix command carries the token file, and runs as printed.
  m.SetKeySd("O:SYG:SYD:P(A;;FA;;;SY)");
  auto json = Mkeys({"--json", "diagnose", m.root, "--token", token, "--container", kKey});
  REQUIRE(json.exit_code == 1);
  std::vector<std::string> argv = nlohmann::json::parse(json.out)["repair_command"];
  REQUIRE(argv.size() > 2);
  CHECK(std::find(argv.begin(), argv.end(), token) != argv.end());
  argv.erase(argv.begin());  // "mkeys"
  for (auto& a : argv) {
    if (a == "mkeys-repair.journal") a = m.Write("j", "") + ".journal";
  }
  auto repaired = Mkeys(argv);
  INFO(repaired.out << repaired.err);
  CHECK(repaired.exit_code == 0);
  CHECK(Mkeys({"diagnose", m.root, "--token", token, "--container", kKey}).exit_code == 0);
}

TEST_CASE("a token file on the real SAM hive: a local user by name gets its aliases' access",
          "[cli][token][policy]") {
  Machine m;
  test::PlaceRealHive(m.root, "SAM");
  const std::string preston = "S-1-5-21-1760460187-1592185332-161725925-1000";
  const std::string sd = "O:SYG:SYD:(A;;FA;;;SY)(A;;FR;;;BA)";
  // By SID alone and by the SAM's name: Preston is in Administrators.
  for (const std::string& user : {"\"" + preston + "\"", std::string("\"Preston\"")}) {
    const auto token = m.Write("t.json", "{\"user\": " + user + ", \"logon\": \"interactive\"}");
    auto r = Mkeys({"--json", "access", "check", "--root", m.root, "--sd", sd, "--token", token,
                    "--want", "R"});
    INFO(user << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["identity"]["sid"] == preston);
  }
  // The file's SID for a name the SAM gives another SID: an error that says where.
  const auto wrong = m.Write(
      "w.json", std::string(R"({"user": {"name": "Preston", "sid": ")") + kDomainUser + "\"}}");
  auto refused = Mkeys({"access", "check", "--root", m.root, "--sd", sd, "--token", wrong});
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("$.user: 'Preston' is " + preston) != std::string::npos);
}
