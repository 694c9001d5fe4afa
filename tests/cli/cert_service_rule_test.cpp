// SPDX-License-Identifier: GPL-3.0-or-later
// MK043 through the binary: a service or app pool declared with --service that cannot read the
// private key of its LocalMachine\My certificate, named by the certificate's subject, common
// name, thumbprint or key name.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cert_fixtures.hpp"
#include "support/process.hpp"

using namespace mkeys;
using test::Mkeys;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kPool = "IIS APPPOOL\\Shop";

struct Machine {
  test::TempDir dir;
  std::string root = (dir.path() / "m").string();

  Machine() { REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0); }

  // Imports a new self-signed certificate; returns its thumbprint, key name and key file.
  nlohmann::json Import(const std::string& cn, const std::string& provider,
                        const std::vector<std::string>& extra = {}) {
    const fs::path pem = dir.path() / (cn + ".pem");
    REQUIRE(test::WriteSelfSignedPem(pem, cn));
    std::vector<std::string> args = {"--json",     "cert",       "import", root,
                                     pem.string(), "--provider", provider};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Mkeys(args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out);
  }
};

// The findings of `rule` in an audit's JSON: "object: evidence" each.
std::vector<std::string> Findings(const std::string& audit_json, const std::string& rule) {
  const auto doc = nlohmann::json::parse(audit_json);
  std::vector<std::string> out;
  for (const auto& r : doc["results"]) {
    if (r["rule"] != rule) continue;
    for (const auto& f : r["findings"]) {
      out.push_back(f["object"].get<std::string>() + ": " + f["evidence"].get<std::string>());
    }
  }
  return out;
}

test::RunResult Audit(const Machine& m, const std::vector<std::string>& services) {
  std::vector<std::string> args = {"audit", m.root, "--format", "json"};
  for (const auto& s : services) args.insert(args.end(), {"--service", s});
  return Mkeys(args);
}

}  // namespace

TEST_CASE("audit --service reports an app pool that cannot read its certificate's CNG key",
          "[cli][cert][audit]") {
  Machine m;
  const auto shop = m.Import("shop.example.com", "cng");
  const auto other = m.Import("other.example.com", "cng");
  const std::string thumb = shop["thumbprint"], key_file = shop["key_file"];

  // Named by the subject's common name: the pool cannot read the key.
  auto by_cn = Audit(m, {std::string(kPool) + "=shop.example.com"});
  INFO(by_cn.out << by_cn.err);
  CHECK(by_cn.exit_code == 1);
  const auto found = Findings(by_cn.out, "MK043");
  REQUIRE(found.size() == 1u);
  CHECK(found[0].find("LocalMachine\\My\\" + thumb) != std::string::npos);
  CHECK(found[0].find(key_file) != std::string::npos);
  CHECK(found[0].find("no ACE grants IIS APPPOOL\\Shop read") != std::string::npos);
  CHECK(found[0].find("NTE_BAD_KEYSET") != std::string::npos);
  CHECK(found[0].find(other["thumbprint"].get<std::string>()) == std::string::npos);

  // The thumbprint, the full subject and the key name name the same certificate.
  for (const std::string& glob :
       {thumb, std::string("CN=shop.example.com"), shop["key_name"].get<std::string>()}) {
    INFO(glob);
    CHECK(Findings(Audit(m, {std::string(kPool) + "=" + glob}).out, "MK043").size() == 1u);
  }
  // A glob that names no certificate: nothing to say.
  auto none = Audit(m, {std::string(kPool) + "=nothing.example.com"});
  CHECK(Findings(none.out, "MK043").empty());
  // Without --service the rule has no one to check.
  CHECK(Findings(Audit(m, {}).out, "MK043").empty());

  // After cert grant the pool reads its key; the other certificate's key is still closed to
  // it and a wider glob reports that one only.
  const std::string journal = (m.dir.path() / "grant.journal").string();
  auto grant =
      Mkeys({"cert", "grant", m.root, "--cert", thumb, "--to", kPool, "--journal", journal});
  INFO(grant.out << grant.err);
  REQUIRE(grant.exit_code == 0);
  auto after = Audit(m, {std::string(kPool) + "=shop.example.com"});
  INFO(after.out);
  CHECK(Findings(after.out, "MK043").empty());
  const auto wide = Findings(Audit(m, {std::string(kPool) + "=*.example.com"}).out, "MK043");
  REQUIRE(wide.size() == 1u);
  CHECK(wide[0].find(other["thumbprint"].get<std::string>()) != std::string::npos);

  // Undoing the grant brings the finding back.
  REQUIRE(Mkeys({"restore", journal}).exit_code == 0);
  CHECK(Findings(Audit(m, {std::string(kPool) + "=shop.example.com"}).out, "MK043").size() == 1u);
}

TEST_CASE("audit --service checks a service's CAPI certificate key and leaves MK004's to MK004",
          "[cli][cert][audit]") {
  Machine m;
  const std::string ns = "NT AUTHORITY\\NETWORK SERVICE";
  const auto capi = m.Import("adfs.example.com", "capi", {"--key-name", "AdfsSigningKey"});

  // Named by subject: MK043 on the certificate.
  auto by_subject = Audit(m, {ns + "=adfs.example.com"});
  INFO(by_subject.out << by_subject.err);
  const auto found = Findings(by_subject.out, "MK043");
  REQUIRE(found.size() == 1u);
  CHECK(found[0].find("NETWORK SERVICE cannot read") != std::string::npos);
  CHECK(found[0].find(capi["key_file"].get<std::string>()) != std::string::npos);

  // Named by the container: MK004 judges the MachineKeys file; MK043 does not say it again.
  auto by_container = Audit(m, {ns + "=AdfsSigningKey"});
  INFO(by_container.out);
  CHECK(Findings(by_container.out, "MK004").size() == 1u);
  CHECK(Findings(by_container.out, "MK043").empty());

  // A key the service may read: no finding.
  m.Import("ok.example.com", "capi", {"--grant", ns + ":R"});
  CHECK(Findings(Audit(m, {ns + "=ok.example.com"}).out, "MK043").empty());
}
