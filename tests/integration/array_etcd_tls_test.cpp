// SPDX-License-Identifier: GPL-3.0-or-later
// Managers reaching a real 3-member etcd over TLS (certificates made here with openssl), with a
// client certificate, and with etcd's user authentication: an array created and joined over
// TLS, a wrong CA and a plain-HTTP registry refused clearly, a wrong password refused without
// showing it, and the password never in any process's argv nor in the manager's log.
#include <fstream>
#include <iterator>

#include "array_support.hpp"
#include "etcd_support.hpp"

using namespace mkeys::test;

namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Every process's argv on this machine, as `ps` would show it.
std::string AllArgv() {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    out += ReadText(entry.path() / "cmdline") + "\n";
  }
  return out;
}

std::filesystem::path RegistryJson(const std::filesystem::path& root) {
  return root / "mkeys-array" / "registry.json";
}

}  // namespace

TEST_CASE("an array on etcd over TLS with client certificates is created and joined",
          "[integration][array][etcd][tls]") {
  if (!EtcdOrSkip()) return;
  TempDir work;
  EtcdTlsFiles tls(work.path() / "pki");
  EtcdTlsCluster etcd(work.path() / "etcd", tls, /*client_cert_auth=*/true);
  const auto a = work.path() / "manager-a";
  const auto b = work.path() / "manager-b";
  InitMachine(a);
  InitMachine(b);
  const std::vector<std::string> certs = {"--etcd-cert", tls.client_cert.string(), "--etcd-key",
                                          tls.client_key.string()};

  // etcd's certificate is not signed by the CA given.
  std::vector<std::string> wrong = {"array",    "create",    a.string(),
                                    "--name",   "web",       "--registry",
                                    etcd.Url(), "--etcd-ca", tls.other_ca.string()};
  wrong.insert(wrong.end(), certs.begin(), certs.end());
  auto refused = Mkeys(wrong);
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 3);
  CHECK(refused.err.find("etcd's certificate did not verify against --etcd-ca " +
                         tls.other_ca.string()) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(RegistryJson(a)));

  // Plain HTTP towards etcd that speaks only TLS.
  auto plain =
      Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url("etcd://")});
  INFO(plain.out << plain.err);
  CHECK(plain.exit_code != 0);
  CHECK((plain.err.find("etcd speaks only TLS here") != std::string::npos ||
         plain.err.find("if etcd speaks only TLS, write the registry as etcds://") !=
             std::string::npos));
  CHECK_FALSE(std::filesystem::exists(RegistryJson(a)));

  // TLS without the client certificate etcd asks for.
  auto no_cert = Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url(),
                        "--etcd-ca", tls.ca.string()});
  INFO(no_cert.out << no_cert.err);
  CHECK(no_cert.exit_code != 0);

  std::vector<std::string> create = {"array",      "create",   a.string(),  "--name",       "web",
                                     "--registry", etcd.Url(), "--etcd-ca", tls.ca.string()};
  create.insert(create.end(), certs.begin(), certs.end());
  auto created = Mkeys(create);
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  const std::string config = ReadText(RegistryJson(a));
  CHECK(config.find(tls.ca.string()) != std::string::npos);
  CHECK(config.find("PRIVATE KEY") == std::string::npos);

  // The second manager takes the TLS settings of the first.
  auto added = Mkeys({"array", "manager", "add", b.string(), "--from", a.string()});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  ServerProcess server_a(a, work.path());
  ServerProcess server_b(b, work.path());
  const std::string token = IssueToken(a, {"--uses", "2"});
  const auto member = work.path() / "member";
  InitMachine(member);
  auto join = JoinWith(member, server_b.Address(), token, "node1");
  INFO(join.out << join.err << server_b.Log());
  REQUIRE(join.exit_code == 0);
  CHECK(KeyFileCount(member) > 0);
  CHECK(Members(a).size() == 1);
  CHECK(Members(b).size() == 1);
}

TEST_CASE("etcd with authentication refuses a wrong password without showing it",
          "[integration][array][etcd][tls]") {
  if (!EtcdOrSkip()) return;
  TempDir work;
  EtcdTlsFiles tls(work.path() / "pki");
  EtcdTlsCluster etcd(work.path() / "etcd", tls, /*client_cert_auth=*/false);
  const std::string password = "pw-" + std::to_string(::getpid()) + "-Xq7Zt";
  const std::string wrong_password = "nope-" + std::to_string(::getpid()) + "-Lm3Kd";
  etcd.EnableAuth(password);
  const auto right_file = work.path() / "etcd-password";
  const auto wrong_file = work.path() / "wrong-password";
  WriteText(right_file, password + "\n");
  WriteText(wrong_file, wrong_password + "\n");
  const auto a = work.path() / "manager-a";
  const auto b = work.path() / "manager-b";
  InitMachine(a);
  InitMachine(b);

  auto refused =
      Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url(), "--etcd-ca",
             tls.ca.string(), "--etcd-user", "root", "--etcd-password-file", wrong_file.string()});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 4);
  CHECK(refused.err.find("etcd refused the user root: wrong user name or password") !=
        std::string::npos);
  CHECK(refused.err.find(wrong_password) == std::string::npos);
  CHECK(refused.out.find(wrong_password) == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(RegistryJson(a)));

  // No user at all: etcd asks for one.
  auto anonymous = Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url(),
                          "--etcd-ca", tls.ca.string()});
  INFO(anonymous.out << anonymous.err);
  CHECK(anonymous.exit_code == 4);
  CHECK(anonymous.err.find("--etcd-user") != std::string::npos);

  auto created =
      Mkeys({"array", "create", a.string(), "--name", "web", "--registry", etcd.Url(), "--etcd-ca",
             tls.ca.string(), "--etcd-user", "root", "--etcd-password-file", right_file.string()});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  CHECK(ReadText(RegistryJson(a)).find(password) == std::string::npos);

  // Manager b takes its password from the environment, at add and at serve time.
  const std::string env = "MKEYS_ETCD_PASSWORD=" + password;
  auto added = Run({MKEYS_BINARY, "array", "manager", "add", b.string(), "--from", a.string(),
                    "--registry", etcd.Url(), "--etcd-ca", tls.ca.string(), "--etcd-user", "root"},
                   "", {env});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  CHECK(ReadText(RegistryJson(b)).find(password) == std::string::npos);
  // Without it, manager b says what is missing.
  auto missing = Mkeys({"array", "manager", "list", b.string()});
  INFO(missing.out << missing.err);
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("MKEYS_ETCD_PASSWORD") != std::string::npos);

  ServerProcess server_a(a, work.path());
  ServerProcess server_b(b, work.path(), {env});
  const std::string token = IssueToken(a, {"--uses", "1"});
  const auto member = work.path() / "member";
  InitMachine(member);
  auto join = JoinWith(member, server_b.Address(), token, "node1");
  INFO(join.out << join.err << server_b.Log());
  REQUIRE(join.exit_code == 0);
  CHECK(Members(a).size() == 1);
  CHECK(AllArgv().find(password) == std::string::npos);
  CHECK(server_a.Log().find(password) == std::string::npos);
  CHECK(server_b.Log().find(password) == std::string::npos);
}
