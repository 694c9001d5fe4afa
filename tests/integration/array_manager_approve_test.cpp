// SPDX-License-Identifier: GPL-3.0-or-later
// A second manager added by approval, as on another machine (no --from): the new root asks
// through etcd, an existing manager approves after checking the request's fingerprint, the new
// root completes and serves. The registry key never shows in etcd or in any output in clear.
// Outside CI these skip (with a warning) only when etcd is not installed.
#include <algorithm>
#include <cctype>

#include "array_support.hpp"
#include "etcd_support.hpp"
#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"

using namespace mkeys::test;

namespace {

// The 32 bytes of the array's registry key, read from a manager's store.
std::string RegistryKeyBytes(const std::filesystem::path& root) {
  auto machine = mkeys::keystore::MachineRoot::Open(root);
  REQUIRE(machine);
  auto system = machine->TokenFor(mkeys::arrayjoin::kInstallerIdentity);
  REQUIRE(system);
  mkeys::keystore::KeyStore store(*machine);
  auto opened = store.Open(mkeys::arrayjoin::RegistryKeyContainerName("web"), *system);
  REQUIRE(opened);
  REQUIRE(opened->symmetric);
  const auto bytes = opened->symmetric->RevealSecret();
  REQUIRE(bytes.size() == 32u);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string Hex(const std::string& bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Whether `text` holds the key raw, in hex (either case) or in base64.
bool HoldsKey(const std::string& text, const std::string& key) {
  // Base64 of the key at any of the three alignments: the 40 characters that do not depend on
  // the neighbouring bytes.
  for (int shift = 0; shift < 3; ++shift) {
    const std::string padded = std::string(shift, '\0') + key + std::string(3, '\0');
    const std::string b64 = Base64(padded.substr(0, (padded.size() / 3) * 3));
    const std::string core = b64.substr(static_cast<std::size_t>(shift) * 2 + 4, 36);
    if (text.find(core) != std::string::npos) return true;
  }
  return text.find(key) != std::string::npos || text.find(Hex(key, false)) != std::string::npos ||
         text.find(Hex(key, true)) != std::string::npos;
}

struct Setup {
  TempDir work;
  EtcdCluster etcd{work.path() / "etcd"};
  std::filesystem::path a = work.path() / "manager-a";
  std::filesystem::path b = work.path() / "manager-b";
  std::string outputs;  // everything the commands printed
  Setup() {
    InitMachine(a);
    InitMachine(b);
    auto created =
        Run({"--json", "array", "create", a.string(), "--name", "web", "--registry", etcd.Url()});
    INFO(created.out << created.err);
    REQUIRE(created.exit_code == 0);
  }
  RunResult Run(std::vector<std::string> args) {
    auto r = Mkeys(args);
    outputs += r.out + r.err;
    return r;
  }
  // `etcdctl get --prefix /mkeys`: every key and value, values raw.
  std::string Dump() {
    auto r =
        mkeys::test::Run({"etcdctl", "--endpoints", etcd.Endpoints(), "get", "--prefix", "/mkeys"});
    REQUIRE(r.exit_code == 0);
    return r.out;
  }
  nlohmann::json Request(const std::string& array = "web") {
    auto r = Run({"--json", "array", "manager", "add", b.string(), "--registry", etcd.Url(),
                  "--array", array});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out);
  }
};

}  // namespace

TEST_CASE("a manager on another machine joins by approval and serves a member",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  Setup s;
  const std::string key = RegistryKeyBytes(s.a);
  // The check below finds the key in each form it could leak in.
  for (const std::string pad : {"", "a", "ab"}) {
    CHECK(HoldsKey("x" + Base64(pad + key) + "y", key));
  }
  CHECK(HoldsKey("<" + Hex(key, true) + ">", key));
  CHECK(HoldsKey("<" + key + ">", key));

  // B asks: a request id, a fingerprint, the command to run on a manager.
  const auto request = s.Request();
  const std::string id = request["request_id"];
  const std::string fingerprint = request["fingerprint"];
  CHECK(id.size() == 16u);
  CHECK(fingerprint.rfind("sha256:", 0) == 0);
  CHECK(request["approve_command"].get<std::string>().find(fingerprint) != std::string::npos);
  CHECK(request["array"] == "web");
  CHECK(s.Dump().find("/manager-requests/" + id) != std::string::npos);

  // A lists it, with the same fingerprint.
  auto list = s.Run({"--json", "array", "manager", "list", s.a.string()});
  REQUIRE(list.exit_code == 0);
  const auto managers = nlohmann::json::parse(list.out);
  const auto pending =
      std::find_if(managers.begin(), managers.end(), [&](const auto& m) { return m["id"] == id; });
  REQUIRE(pending != managers.end());
  CHECK((*pending)["pending"] == true);
  CHECK((*pending)["fingerprint"] == fingerprint);
  auto text_list = s.Run({"array", "manager", "list", s.a.string()});
  CHECK(text_list.out.find(fingerprint) != std::string::npos);

  // Before approval: waiting, with its own exit code and the command to run.
  auto early = s.Run({"array", "manager", "add", s.b.string(), "--complete"});
  CHECK(early.exit_code == 5);
  CHECK(early.err.find("waiting for approval") != std::string::npos);
  CHECK(early.err.find("approve MANAGER_ROOT " + id) != std::string::npos);
  // A pending root is no manager yet.
  auto early_token = s.Run({"array", "token", s.b.string()});
  CHECK(early_token.exit_code == 3);
  CHECK(early_token.err.find("waits for approval") != std::string::npos);

  // A wrong fingerprint: refused, nothing written.
  std::string wrong = fingerprint;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto refused = s.Run({"array", "manager", "approve", s.a.string(), id, "--fingerprint", wrong});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("fingerprint") != std::string::npos);
  const std::string after_refusal = s.Dump();
  CHECK(after_refusal.find("/wrapped/") == std::string::npos);
  CHECK(after_refusal.find("/manager-requests/" + id) != std::string::npos);
  CHECK(CountEvents(Events(s.a), "manager-approved") == 0);
  CHECK(s.Run({"array", "manager", "add", s.b.string(), "--complete"}).exit_code == 5);

  // The right one (any case, without the prefix): wrapped for B, the request gone.
  std::string typed = fingerprint.substr(7);
  std::transform(typed.begin(), typed.end(), typed.begin(), ::toupper);
  auto approved = s.Run({"array", "manager", "approve", s.a.string(), id, "--fingerprint", typed});
  INFO(approved.out << approved.err);
  REQUIRE(approved.exit_code == 0);
  const std::string approved_dump = s.Dump();
  CHECK(approved_dump.find("/wrapped/" + id) != std::string::npos);
  CHECK(approved_dump.find("/manager-requests/" + id) == std::string::npos);
  CHECK_FALSE(HoldsKey(approved_dump, key));
  CHECK(CountEvents(Events(s.a), "manager-approved") == 1);

  // B completes: it holds the same registry key, is listed as a manager, and the wrapped copy
  // is gone from etcd.
  auto completed = s.Run({"--json", "array", "manager", "add", s.b.string(), "--complete"});
  INFO(completed.out << completed.err);
  REQUIRE(completed.exit_code == 0);
  CHECK(nlohmann::json::parse(completed.out)["manager_id"] == id);
  CHECK(RegistryKeyBytes(s.b) == key);
  const std::string final_dump = s.Dump();
  CHECK(final_dump.find("/wrapped/") == std::string::npos);
  CHECK(final_dump.find("/managers/" + id) != std::string::npos);
  CHECK_FALSE(HoldsKey(final_dump, key));
  auto status = s.Run({"--json", "array", "status", s.b.string()});
  CHECK(status.exit_code == 0);
  // Completing twice: nothing more to do.
  CHECK(s.Run({"array", "manager", "add", s.b.string(), "--complete"}).exit_code == 3);

  // A member joins through B; A sees it.
  ServerProcess server_b(s.b, s.work.path());
  const std::string token = IssueToken(s.a);
  const auto member = s.work.path() / "member";
  InitMachine(member);
  auto join = JoinWith(member, server_b.Address(), token, "node1");
  INFO(join.out << join.err << server_b.Log());
  REQUIRE(join.exit_code == 0);
  const auto members = Members(s.a);
  REQUIRE(members.size() == 1u);
  CHECK(members[0]["name"] == "node1");
  CHECK(CountEvents(Events(s.a), "manager-added") == 1);

  // Nothing printed or logged holds the key.
  CHECK_FALSE(HoldsKey(s.outputs + join.out + join.err + server_b.Log(), key));
}

TEST_CASE("a denied manager request is removed and the asking root is free again",
          "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  Setup s;
  // By the array's id this time.
  auto list = s.Run({"--json", "array", "status", s.a.string()});
  REQUIRE(list.exit_code == 0);
  const std::string array_id = nlohmann::json::parse(list.out)["array_id"];
  const auto request = s.Request(array_id);
  const std::string id = request["request_id"];
  CHECK(request["array"] == "web");

  // Asking twice from the same root is refused: the first request waits.
  auto twice = s.Run(
      {"array", "manager", "add", s.b.string(), "--registry", s.etcd.Url(), "--array", "web"});
  CHECK(twice.exit_code == 3);
  CHECK(twice.err.find("--complete") != std::string::npos);

  auto denied = s.Run({"array", "manager", "deny", s.a.string(), id});
  INFO(denied.out << denied.err);
  REQUIRE(denied.exit_code == 0);
  CHECK(s.Dump().find("/manager-requests/" + id) == std::string::npos);
  CHECK(CountEvents(Events(s.a), "manager-denied") == 1);
  // Approving or denying it again: no such request.
  CHECK(s.Run({"array", "manager", "deny", s.a.string(), id}).exit_code == 3);
  CHECK(s.Run({"array", "manager", "approve", s.a.string(), id, "--fingerprint",
               request["fingerprint"]})
            .exit_code == 3);

  // B learns it was denied (exit 1) and may ask again.
  auto complete = s.Run({"array", "manager", "add", s.b.string(), "--complete"});
  CHECK(complete.exit_code == 1);
  CHECK(complete.err.find("denied") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(s.b / "mkeys-array/registry.json"));
  const auto again = s.Request();
  CHECK(again["request_id"] != id);
  // An unknown array is named as such.
  const auto c = s.work.path() / "c";
  InitMachine(c);
  auto unknown = s.Run(
      {"array", "manager", "add", c.string(), "--registry", s.etcd.Url(), "--array", "nosuch"});
  CHECK(unknown.exit_code == 3);
  CHECK(unknown.err.find("no array") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(c / "mkeys-array/registry.json"));
}

TEST_CASE(
    "manager add --complete stopped before or after its etcd transaction finishes when run again",
    "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  Setup s;
  const std::string key = RegistryKeyBytes(s.a);
  const auto request = s.Request();
  const std::string id = request["request_id"];
  auto approved = s.Run(
      {"array", "manager", "approve", s.a.string(), id, "--fingerprint", request["fingerprint"]});
  INFO(approved.out << approved.err);
  REQUIRE(approved.exit_code == 0);
  const auto complete_with_fault = [&](const std::string& step) {
    return Run({MKEYS_BINARY, "array", "manager", "add", s.b.string(), "--complete"}, "",
               {"MKEYS_FAULT=complete:" + step});
  };

  // Killed after storing the keys, before etcd registers it: still only approved in etcd.
  auto first = complete_with_fault("before-register");
  INFO(first.out << first.err);
  CHECK(first.exit_code == mkeys::arrayjoin::kFaultExitCode);
  CHECK(s.Dump().find("/wrapped/" + id) != std::string::npos);
  CHECK(s.Dump().find("/managers/" + id) == std::string::npos);

  // Run again (the keys it left are replaced), killed this time after etcd registered it and
  // before registry.json was finished.
  auto second = complete_with_fault("after-register");
  INFO(second.out << second.err);
  CHECK(second.exit_code == mkeys::arrayjoin::kFaultExitCode);
  const std::string registered = s.Dump();
  CHECK(registered.find("/wrapped/" + id) == std::string::npos);
  CHECK(registered.find("/managers/" + id) != std::string::npos);
  auto not_yet = s.Run({"array", "token", s.b.string()});
  CHECK(not_yet.exit_code == 3);

  // The third run finishes from what the second left, and B is a whole manager.
  auto third = s.Run({"--json", "array", "manager", "add", s.b.string(), "--complete"});
  INFO(third.out << third.err);
  REQUIRE(third.exit_code == 0);
  const auto done = nlohmann::json::parse(third.out);
  CHECK(done["manager_id"] == id);
  CHECK(done["finished_interrupted"] == true);
  CHECK(RegistryKeyBytes(s.b) == key);
  CHECK(CountEvents(Events(s.a), "manager-added") == 1);
  CHECK(s.Run({"array", "manager", "add", s.b.string(), "--complete"}).exit_code == 3);

  ServerProcess server_b(s.b, s.work.path());
  const std::string token = IssueToken(s.b);
  const auto member = s.work.path() / "member";
  InitMachine(member);
  auto join = JoinWith(member, server_b.Address(), token, "node1");
  INFO(join.out << join.err << server_b.Log());
  CHECK(join.exit_code == 0);
  CHECK(Members(s.a).size() == 1u);
  CHECK_FALSE(HoldsKey(s.outputs + first.out + first.err + second.out + second.err, key));
}

TEST_CASE(
    "a manager request pinned with --array-fingerprint refuses an array etcd describes otherwise",
    "[integration][array][etcd]") {
  if (!EtcdOrSkip()) return;
  Setup s;
  const auto status = JsonOf(s.Run({"--json", "array", "status", s.a.string()}));
  const std::string array_fp = status["fingerprint"];
  const std::string array_id = status["array_id"];
  REQUIRE(array_fp.rfind("sha256:", 0) == 0);
  const auto ask = [&](const std::string& fp) {
    return s.Run({"--json", "array", "manager", "add", s.b.string(), "--registry", s.etcd.Url(),
                  "--array", "web", "--array-fingerprint", fp});
  };

  // Another array's fingerprint: refused before anything is written, and says which it has.
  std::string other = array_fp;
  other.back() = other.back() == '0' ? '1' : '0';
  auto refused = ask(other);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("--array-fingerprint") != std::string::npos);
  CHECK(refused.err.find(array_fp) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(s.b / "mkeys-array/registry.json"));
  CHECK(s.Dump().find("/manager-requests/") == std::string::npos);
  CHECK(ContainerNames(s.b).empty());
  // Not a fingerprint at all: a usage error naming the option.
  auto malformed = ask("sha256:xyz");
  CHECK(malformed.exit_code == 2);
  CHECK(malformed.err.find("--array-fingerprint") != std::string::npos);

  // The right one: asked, and said to be checked.
  auto asked = ask(array_fp);
  INFO(asked.out << asked.err);
  REQUIRE(asked.exit_code == 0);
  const auto request = nlohmann::json::parse(asked.out);
  CHECK(request["array_fingerprint_checked"] == true);
  auto approved = s.Run({"array", "manager", "approve", s.a.string(), request["request_id"],
                         "--fingerprint", request["fingerprint"]});
  REQUIRE(approved.exit_code == 0);

  // Someone who can write to etcd changes the array's record before B completes: B refuses and
  // keeps nothing of the array.
  const std::string info_key = "/mkeys/arrays/" + array_id + "/info";
  auto info =
      Run({"etcdctl", "--endpoints", s.etcd.Endpoints(), "get", info_key, "--print-value-only"});
  REQUIRE(info.exit_code == 0);
  auto doc = nlohmann::json::parse(info.out);
  std::string pin = doc["pin"];
  pin[0] = pin[0] == 'a' ? 'b' : 'a';
  doc["pin"] = pin;
  REQUIRE(
      Run({"etcdctl", "--endpoints", s.etcd.Endpoints(), "put", info_key, doc.dump()}).exit_code ==
      0);
  auto complete = s.Run({"array", "manager", "add", s.b.string(), "--complete"});
  INFO(complete.out << complete.err);
  CHECK(complete.exit_code == 1);
  CHECK(complete.err.find("--array-fingerprint") != std::string::npos);
  const auto names = ContainerNames(s.b);
  CHECK(std::find(names.begin(), names.end(), "mkeys-array-web-registry") == names.end());
  CHECK(std::find(names.begin(), names.end(), "mkeys-array-web-ca") == names.end());
  CHECK(s.Dump().find("/managers/" + request["request_id"].get<std::string>()) ==
        std::string::npos);
}
