// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/member.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <openssl/rand.h>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/ace.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/repair/diagnose.hpp"
#include "tls.hpp"

namespace mkeys::arrayjoin {
namespace {

namespace fs = std::filesystem;

Result<void> WriteFileAtomic(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error(ErrorCode::kIo, "cannot write").On(tmp.string());
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Error(ErrorCode::kIo, "cannot write").On(tmp.string());
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error(ErrorCode::kIo, "cannot rename into place").On(path.string());
  }
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Ok();
}

Result<nlohmann::json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kIo, "cannot read").On(path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error(ErrorCode::kCorrupt, "not a valid JSON object").On(path.string());
  }
  return doc;
}

// The journal of a join in progress: what to remove if the process dies before it finishes.
struct Journal {
  fs::path path;
  std::vector<std::string> containers;  // committed (renamed into place) or about to be
  std::vector<std::string> staging;     // staging files written
  std::string state = "installing";
  std::string pending;  // the member state to write once the manager acknowledged ("confirming")

  Result<void> Save() const {
    nlohmann::json doc = {
        {"state", state}, {"containers", containers}, {"staging", staging}, {"pending", pending}};
    return WriteFileAtomic(path, doc.dump(2));
  }
};

void Report(const JoinOptions& o, JoinStep step, bool ok, std::string detail) {
  if (o.on_progress) o.on_progress({step, ok, std::move(detail)});
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "member";
  std::string name(buf);
  if (auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  return name;
}

// Removes every container and staging file a journal names, then the journal.
void RollBack(keystore::KeyStore& store, const acl::Token& installer, const Journal& journal) {
  for (const auto& name : journal.containers) {
    std::error_code ec;
    if (fs::exists(store.PathFor(name), ec)) {
      if (auto r = store.Delete(name, installer); !r) {
        Logger("arrayjoin")->warn("rollback: cannot remove {}: {}", name, r.error().ToString());
        fs::remove(store.PathFor(name), ec);
      }
    }
  }
  for (const auto& staged : journal.staging) {
    std::error_code ec;
    fs::remove(staged, ec);
  }
  std::error_code ec;
  fs::remove(journal.path, ec);
}

Result<void> PreflightOn(keystore::MachineRoot& machine, const acl::Token& installer,
                         const acl::Token& service, std::string_view service_identity) {
  // The diagnosis (repair): traverse and ADD_FILE for the installer, traverse and read of a
  // container with the join's descriptor for the service. Read-only.
  repair::PreflightOptions preflight;
  preflight.installer_identity = std::string(kInstallerIdentity);
  preflight.container_descriptor = keystore::CspContainerDescriptor(
      installer, {acl::AllowAce(service.user(), acl::rights::kFileGenericRead)});
  preflight.container_name = "mkeys-array-preflight";
  MKEYS_ASSIGN_OR_RETURN(auto diagnosis, repair::PreflightForService(machine, service, preflight));
  if (!diagnosis.would_succeed) {
    std::string text = "preflight: " + std::string(service_identity) +
                       " would not be able to open the array keys: " + diagnosis.reason;
    if (!diagnosis.windows_error.empty()) text += " [" + diagnosis.windows_error + "]";
    if (!diagnosis.repair_command.empty()) {
      std::string cmd;
      for (const auto& arg : diagnosis.repair_command) {
        if (!cmd.empty()) cmd += ' ';
        cmd += arg.find_first_of(" \\'\"") == std::string::npos ? arg : "'" + arg + "'";
      }
      text += ". Fix: " + cmd;
    } else {
      text += ". See 'mkeys diagnose " + machine.root().string() + " --as \"" +
              std::string(service_identity) + "\" --container NAME'; repair with 'mkeys repair'";
    }
    for (const auto& fix : diagnosis.manual_fixes) text += ". " + fix;
    return Error(ErrorCode::kAccessDenied, text)
        .WithWindowsCode(diagnosis.windows_code != 0 ? diagnosis.windows_code
                                                     : keystore::kNteBadKeyset);
  }
  const std::string repair_hint = "run 'mkeys diagnose " + machine.root().string() + " --as \"" +
                                  std::string(service_identity) +
                                  "\" --container NAME' and 'mkeys repair'";
  // A probe container, staged exactly as the join will stage the array keys.
  std::uint8_t rnd[8];
  RAND_bytes(rnd, sizeof rnd);
  const std::string probe = "mkeys-array-preflight-" + HexEncode(rnd);
  keystore::KeyStore store(machine);
  keystore::CreateOptions options;
  options.material = keystore::KeyMaterial{};
  options.material->symmetric = SecretBytes::Random(32);
  options.grants.push_back(acl::AllowAce(service.user(), acl::rights::kFileGenericRead));
  auto staged = store.CreateStaged(probe, installer, options);
  if (!staged) {
    return Error(ErrorCode::kAccessDenied,
                 "preflight: containers cannot be created in MachineKeys as " +
                     std::string(kInstallerIdentity) + ": " + staged.error().message() + ". " +
                     repair_hint)
        .WithWindowsCode(staged.error().windows_code().value_or(keystore::kNteBadKeyset));
  }
  auto check = store.CheckStaged(*staged, service);
  const auto sd = staged->descriptor();
  store.Discard(std::move(*staged));
  if (!check) return std::move(check).error();
  if (!check->allowed) {
    return Error(ErrorCode::kAccessDenied, "preflight: " + std::string(service_identity) +
                                               " could not read a container the join installs: " +
                                               check->Explain(service, sd) + ". " + repair_hint)
        .WithWindowsCode(keystore::kNteBadKeyset);
  }
  return Ok();
}

Result<keystore::KeyMaterial> MaterialFor(const OfferItem& item, const SecretBytes& plain) {
  keystore::KeyMaterial material;
  if (item.kind == kItemRsa) {
    MKEYS_ASSIGN_OR_RETURN(auto key, keystore::PrivateKey::FromPkcs8(plain));
    material.exchange = std::move(key);
  } else {
    if (plain.size() != 32) {
      return Error(ErrorCode::kCorrupt, "the config key is not 256 bits").On(item.container);
    }
    material.symmetric = plain;
  }
  return material;
}

// Installs items under staging names, verifies the service can read them (traverse + file),
// renames them into place and opens each as the service. Records everything in `journal`
// before it exists on disk, so a killed process can be rolled back.
Result<std::vector<std::string>> InstallVerified(
    keystore::MachineRoot& machine, const acl::Token& installer, const acl::Token& service,
    std::string_view service_identity, const std::vector<std::pair<OfferItem, SecretBytes>>& items,
    std::optional<keystore::KeyMaterial> member_key, std::string_view member_key_name,
    Journal& journal, const std::function<void(JoinStep, std::string)>& progress) {
  keystore::KeyStore store(machine);
  std::vector<keystore::StagedContainer> staged;
  std::vector<std::string> names;
  for (const auto& [item, plain] : items) names.push_back(item.container);
  if (member_key) names.emplace_back(member_key_name);
  journal.containers = names;
  MKEYS_TRY(journal.Save());
  FaultPoint("member", "before-install");
  for (const auto& [item, plain] : items) {
    MKEYS_ASSIGN_OR_RETURN(auto material, MaterialFor(item, plain));
    keystore::CreateOptions options;
    options.material = std::move(material);
    options.grants.push_back(acl::AllowAce(service.user(), acl::rights::kFileGenericRead));
    MKEYS_ASSIGN_OR_RETURN(auto s, store.CreateStaged(item.container, installer, options));
    journal.staging.push_back(s.staging_path().string());
    MKEYS_TRY(journal.Save());
    staged.push_back(std::move(s));
  }
  if (member_key) {
    keystore::CreateOptions options;
    options.material = std::move(*member_key);
    MKEYS_ASSIGN_OR_RETURN(auto s, store.CreateStaged(member_key_name, installer, options));
    journal.staging.push_back(s.staging_path().string());
    MKEYS_TRY(journal.Save());
    staged.push_back(std::move(s));
  }
  progress(JoinStep::kInstall, std::to_string(staged.size()) +
                                   " container(s) staged, read granted to " +
                                   std::string(service_identity));
  FaultPoint("member", "after-install");
  for (std::size_t i = 0; i < items.size(); ++i) {
    MKEYS_ASSIGN_OR_RETURN(auto check, store.CheckStaged(staged[i], service));
    if (!check.allowed) {
      return Error(ErrorCode::kAccessDenied, std::string(service_identity) +
                                                 " could not read the staged container: " +
                                                 check.Explain(service, staged[i].descriptor()))
          .On(staged[i].name())
          .WithWindowsCode(keystore::kNteBadKeyset);
    }
  }
  FaultPoint("member", "before-rename");
  for (auto& s : staged) {
    MKEYS_ASSIGN_OR_RETURN(auto summary, store.Commit(std::move(s)));
    (void)summary;
  }
  staged.clear();
  journal.state = "committed";
  MKEYS_TRY(journal.Save());
  FaultPoint("member", "after-rename");
  for (const auto& [item, plain] : items) {
    // The real proof: CryptAcquireContext as the service identity succeeds.
    MKEYS_ASSIGN_OR_RETURN(auto opened, store.Open(item.container, service));
    (void)opened;
  }
  progress(JoinStep::kVerify, "each container opens as " + std::string(service_identity));
  return names;
}

std::string FormatMemberState(const MemberState& s) {
  nlohmann::json doc = {{"format", 1},
                        {"array", s.array},
                        {"array_id", s.array_id},
                        {"manager", s.manager},
                        {"pin", HexEncode(s.pin)},
                        {"member", s.member},
                        {"service_identity", s.service_identity},
                        {"key_version", s.key_version},
                        {"containers", s.containers},
                        {"member_cert", s.member_cert_pem},
                        {"ca_cert", s.ca_cert_pem},
                        {"joined_at", s.joined_at}};
  return doc.dump(2);
}

struct MemberConnection {
  std::unique_ptr<internal::TlsClient> client;
};

Result<std::unique_ptr<internal::TlsClient>> ConnectAsMember(keystore::MachineRoot& machine,
                                                             const MemberState& state,
                                                             int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  MKEYS_ASSIGN_OR_RETURN(auto opened, store.Open(MemberKeyContainerName(state.array), installer));
  if (!opened.signature) {
    return Error(ErrorCode::kCorrupt, "the member key container holds no key")
        .On(MemberKeyContainerName(state.array));
  }
  MKEYS_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(state.member_cert_pem));
  MKEYS_ASSIGN_OR_RETURN(auto hp, internal::SplitHostPort(state.manager));
  internal::ClientCredential cred{cert.get(), opened.signature->get()};
  MKEYS_ASSIGN_OR_RETURN(auto client,
                         internal::TlsClient::Connect(hp.first, hp.second, timeout_seconds, &cred));
  if (!ConstantTimeEquals(client->peer_pin(), state.pin)) {
    return Error(ErrorCode::kPeerRefused,
                 "the manager's key fingerprint changed: expected " + FormatFingerprint(state.pin) +
                     ", saw " + FormatFingerprint(client->peer_pin()) +
                     "; nothing was sent (another server at this address?)")
        .On(state.manager);
  }
  return client;
}

Result<MemberState> ParseMemberState(const nlohmann::json& doc, const std::string& where) {
  MemberState s;
  try {
    s.array = doc.at("array").get<std::string>();
    s.array_id = doc.at("array_id").get<std::string>();
    s.manager = doc.at("manager").get<std::string>();
    auto pin = HexDecode(doc.at("pin").get<std::string>());
    if (!pin || pin->size() != 32) throw std::runtime_error("bad pin");
    std::copy(pin->begin(), pin->end(), s.pin.begin());
    s.member = doc.at("member").get<std::string>();
    s.service_identity = doc.at("service_identity").get<std::string>();
    s.key_version = doc.at("key_version").get<std::uint32_t>();
    s.containers = doc.at("containers").get<std::vector<std::string>>();
    s.member_cert_pem = doc.at("member_cert").get<std::string>();
    s.ca_cert_pem = doc.at("ca_cert").get<std::string>();
    s.joined_at = doc.at("joined_at").get<std::int64_t>();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, std::string("member state is damaged: ") + e.what())
        .On(where);
  }
  return s;
}

// The member sent its confirmation but did not hear back: ask the manager (mutual TLS with the
// new member certificate) whether it recorded the member, and settle the journal either way.
// Returns true if joined, false if rolled back; an unreachable manager leaves the journal for
// a later `array status` or `array join` to settle.
Result<bool> Settle(keystore::MachineRoot& machine, Journal& journal, int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  auto doc = nlohmann::json::parse(journal.pending, nullptr, false);
  auto state = ParseMemberState(doc, journal.path.string());
  if (!state) {
    RollBack(store, installer, journal);
    return false;
  }
  auto listed = [&]() -> Result<bool> {
    MKEYS_ASSIGN_OR_RETURN(auto client, ConnectAsMember(machine, *state, timeout_seconds));
    MemberRequest req;
    req.op = "status";
    req.have_version = state->key_version;
    MKEYS_TRY(client->Send(EncodeMemberRequest(req)));
    MKEYS_ASSIGN_OR_RETURN(auto frame, client->Receive(timeout_seconds));
    MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeMemberReply(frame));
    return reply.member;
  }();
  if (!listed) {
    if (listed.error().code() == ErrorCode::kPeerRefused) {
      RollBack(store, installer, journal);
      return false;
    }
    return Error(ErrorCode::kNetwork,
                 "the manager did not acknowledge the join and cannot be asked now (" +
                     listed.error().message() +
                     "); the keys stay pending: run 'mkeys array status " +
                     machine.root().string() +
                     "' when the manager is reachable to settle the outcome")
        .On(state->manager);
  }
  if (!*listed) {
    RollBack(store, installer, journal);
    return false;
  }
  journal.state = "done";
  MKEYS_TRY(journal.Save());
  MKEYS_TRY(WriteFileAtomic(MemberStatePath(machine.root()), journal.pending));
  std::error_code ec;
  fs::remove(journal.path, ec);
  return true;
}

}  // namespace

std::string_view JoinStepName(JoinStep step) {
  switch (step) {
    case JoinStep::kPreflight:
      return "preflight";
    case JoinStep::kConnect:
      return "connect and verify the manager's key";
    case JoinStep::kProveToken:
      return "prove the token";
    case JoinStep::kReceive:
      return "receive the array keys";
    case JoinStep::kInstall:
      return "install under staging names";
    case JoinStep::kVerify:
      return "verify as the service identity and rename";
    case JoinStep::kConfirm:
      return "confirm to the manager";
  }
  return "step";
}

fs::path MemberStatePath(const fs::path& root) {
  return Registry::DirFor(root) / "member.json";
}
fs::path JoinJournalPath(const fs::path& root) {
  return Registry::DirFor(root) / "join-journal.json";
}

Result<std::optional<MemberState>> ReadMemberState(const fs::path& root) {
  const fs::path path = MemberStatePath(root);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<MemberState>();
  MKEYS_ASSIGN_OR_RETURN(auto doc, ReadJsonFile(path));
  MKEYS_ASSIGN_OR_RETURN(auto s, ParseMemberState(doc, path.string()));
  return std::optional<MemberState>(std::move(s));
}

Result<bool> RecoverInterruptedJoin(const fs::path& root) {
  const fs::path path = JoinJournalPath(root);
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  MKEYS_ASSIGN_OR_RETURN(auto doc, ReadJsonFile(path));
  Journal journal;
  journal.path = path;
  try {
    journal.state = doc.at("state").get<std::string>();
    journal.containers = doc.at("containers").get<std::vector<std::string>>();
    journal.staging = doc.at("staging").get<std::vector<std::string>>();
    journal.pending = doc.value("pending", std::string());
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, std::string("join journal is damaged: ") + e.what())
        .On(path.string());
  }
  MKEYS_ASSIGN_OR_RETURN(auto state, ReadMemberState(root));
  if (state && journal.state == "done") {
    // The join finished; only the journal's removal was interrupted.
    fs::remove(path, ec);
    return false;
  }
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  if (journal.state == "confirming" && !journal.pending.empty()) {
    MKEYS_ASSIGN_OR_RETURN(bool joined, Settle(machine, journal, 10));
    Logger("arrayjoin")
        ->warn("settled an interrupted join: {}",
               joined ? "the manager had recorded it, kept" : "rolled back");
    return true;
  }
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  RollBack(store, installer, journal);
  Logger("arrayjoin")
      ->warn("rolled back an interrupted join ({} container(s))", journal.containers.size());
  return true;
}

Result<void> Preflight(const fs::path& root, std::string_view service_identity) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  MKEYS_ASSIGN_OR_RETURN(auto service, machine.TokenFor(service_identity));
  return PreflightOn(machine, installer, service, service_identity);
}

Result<JoinResult> Join(const JoinOptions& o, const JoinToken& token) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(o.root));
  MKEYS_TRY(RecoverInterruptedJoin(o.root));
  std::error_code ec;
  if (fs::exists(Registry::PathFor(o.root), ec)) {
    return Error(ErrorCode::kInvalidArgument,
                 "this root is an array manager; a manager cannot "
                 "join another array")
        .On(o.root.string());
  }
  MKEYS_ASSIGN_OR_RETURN(auto existing, ReadMemberState(o.root));
  if (existing) {
    return Error(ErrorCode::kExists, "already a member of array " + existing->array + " (via " +
                                         existing->manager + "); 'mkeys array leave' first")
        .On(o.root.string());
  }
  const std::string member = o.member_name.empty() ? Hostname() : o.member_name;
  MKEYS_TRY(ValidateMemberName(member));
  MKEYS_ASSIGN_OR_RETURN(auto hp, internal::SplitHostPort(o.manager));
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  MKEYS_ASSIGN_OR_RETURN(auto service, machine.TokenFor(o.service_identity));

  // 1. Preflight: before any network traffic.
  if (auto r = PreflightOn(machine, installer, service, o.service_identity); !r) {
    std::string detail = r.error().message();
    if (detail.rfind("preflight: ", 0) == 0) detail.erase(0, 11);
    Report(o, JoinStep::kPreflight, false, detail);
    return r.error();
  }
  Report(o, JoinStep::kPreflight, true,
         o.service_identity + " will be able to traverse to and read the array containers");

  keystore::KeyStore store(machine);
  Journal journal;
  journal.path = JoinJournalPath(o.root);
  std::unique_ptr<internal::TlsClient> client;
  auto fail = [&](JoinStep step, Error e) -> Result<JoinResult> {
    Report(o, step, false, e.message());
    if (client) {
      // Tell the manager, so that its log says why (best effort; it records nothing anyway).
      (void)client->Send(EncodeError({"member-failed", e.message(), ""}));
    }
    RollBack(store, installer, journal);
    return e;
  };

  // 2. Connect, verify the pin before anything secret is sent.
  {
    auto c = internal::TlsClient::Connect(hp.first, hp.second, o.timeout_seconds, nullptr);
    if (!c) return fail(JoinStep::kConnect, std::move(c).error());
    client = std::move(*c);
  }
  const std::string fingerprint = FormatFingerprint(client->peer_pin());
  if (!ConstantTimeEquals(client->peer_pin(), token.pin())) {
    auto e =
        Error(ErrorCode::kPeerRefused,
              "the manager's key does not match the token: expected " +
                  FormatFingerprint(token.pin()) + ", the server at " + o.manager + " presented " +
                  fingerprint + "; nothing secret was sent (wrong address, or someone in between?)")
            .On(o.manager);
    client.reset();
    return fail(JoinStep::kConnect, std::move(e));
  }
  if (o.confirm_fingerprint && !o.confirm_fingerprint(fingerprint)) {
    client.reset();
    return fail(JoinStep::kConnect,
                Error(ErrorCode::kPeerRefused, "the manager's fingerprint was not confirmed"));
  }
  Report(o, JoinStep::kConnect, true, "connected to " + o.manager + ", key " + fingerprint);

  // 3. Prove the token, bound to this session.
  auto wrap_key = X25519Key::Generate();
  if (!wrap_key) return fail(JoinStep::kProveToken, std::move(wrap_key).error());
  auto member_key = GenerateEcP256();
  if (!member_key) return fail(JoinStep::kProveToken, std::move(member_key).error());
  JoinHello hello;
  hello.token_id = token.id();
  hello.token_secret = token.secret();
  hello.member = member;
  hello.wrap_key = wrap_key->public_key();
  {
    auto der = PublicKeyToDer(member_key->get());
    if (!der) return fail(JoinStep::kProveToken, std::move(der).error());
    hello.member_key_der = std::move(*der);
  }
  hello.proof = JoinProof(token.secret(), client->ekm(), member, hello.wrap_key);
  FaultPoint("member", "before-hello");
  if (auto r = client->Send(EncodeHello(hello)); !r) return fail(JoinStep::kProveToken, r.error());
  auto offer_frame = client->Receive(o.timeout_seconds);
  if (!offer_frame) return fail(JoinStep::kProveToken, std::move(offer_frame).error());
  Report(o, JoinStep::kProveToken, true, "token " + token.id() + " accepted");

  // 4. Receive and unwrap.
  auto offer = DecodeOffer(*offer_frame);
  if (!offer) return fail(JoinStep::kReceive, std::move(offer).error());
  std::vector<std::pair<OfferItem, SecretBytes>> items;
  SecretBytes config_key;
  {
    auto ca = CertFromPem(offer->ca_cert_pem);
    auto cert = CertFromPem(offer->member_cert_pem);
    if (!ca || !cert) {
      return fail(JoinStep::kReceive,
                  Error(ErrorCode::kParse, "the manager sent unreadable certificates"));
    }
    auto ca_pin = SpkiPin(X509_get0_pubkey(ca->get()));
    if (!ca_pin || !ConstantTimeEquals(*ca_pin, token.pin()) ||
        !VerifyIssuedBy(cert->get(), ca->get())) {
      return fail(JoinStep::kReceive,
                  Error(ErrorCode::kPeerRefused,
                        "the member certificate is not signed by the pinned array CA"));
    }
    if (offer->member != member) {
      return fail(JoinStep::kReceive,
                  Error(ErrorCode::kPeerRefused, "the manager answered for another member"));
    }
    for (const auto& item : offer->items) {
      if (item.container.rfind("mkeys-array-" + offer->array + "-", 0) != 0) {
        return fail(JoinStep::kReceive, Error(ErrorCode::kPeerRefused,
                                              "the manager offered a container outside "
                                              "the array's names")
                                            .On(item.container));
      }
      auto plain = UnwrapSecret(*wrap_key, item.wrapped,
                                WrapAad(offer->array_id, member, item.container, item.version));
      if (!plain) return fail(JoinStep::kReceive, std::move(plain).error().On(item.container));
      if (item.kind == kItemConfig) config_key = *plain;
      items.emplace_back(item, std::move(*plain));
    }
    if (config_key.size() != 32 || items.size() != 2) {
      return fail(JoinStep::kReceive,
                  Error(ErrorCode::kPeerRefused, "the offer lacks the array RSA or config key"));
    }
  }
  Report(o, JoinStep::kReceive, true,
         "array " + offer->array + ", key version " + std::to_string(offer->version) + ", " +
             std::to_string(items.size()) + " key(s) and a member certificate");
  FaultPoint("member", "after-receive");

  // 5.-6. Install, verify, rename.
  std::optional<keystore::KeyMaterial> member_material;
  {
    auto adopted = keystore::PrivateKey::Adopt(member_key->release());
    if (!adopted) return fail(JoinStep::kInstall, std::move(adopted).error());
    member_material.emplace();
    member_material->signature = std::move(*adopted);
  }
  auto progress = [&](JoinStep step, std::string detail) { Report(o, step, true, detail); };
  auto installed = InstallVerified(machine, installer, service, o.service_identity, items,
                                   std::move(member_material), MemberKeyContainerName(offer->array),
                                   journal, progress);
  if (!installed) return fail(JoinStep::kVerify, std::move(installed).error());

  // 7. Confirm.
  MemberState state;
  state.array = offer->array;
  state.array_id = offer->array_id;
  state.manager = o.manager;
  state.pin = token.pin();
  state.member = member;
  state.service_identity = o.service_identity;
  state.key_version = offer->version;
  for (const auto& [item, plain] : items) state.containers.push_back(item.container);
  state.member_cert_pem = offer->member_cert_pem;
  state.ca_cert_pem = offer->ca_cert_pem;
  state.joined_at = NowSeconds();
  journal.state = "confirming";
  journal.pending = FormatMemberState(state);
  if (auto r = journal.Save(); !r) return fail(JoinStep::kConfirm, r.error());
  FaultPoint("member", "before-confirm");
  if (auto r = client->Send(EncodeConfirm({ConfirmCheck(config_key, client->ekm())})); !r) {
    return fail(JoinStep::kConfirm, r.error());
  }
  FaultPoint("member", "after-confirm");
  auto done_frame = client->Receive(o.timeout_seconds);
  if (!done_frame && done_frame.error().code() != ErrorCode::kPeerRefused) {
    // The confirmation left; whether the manager recorded it is unknown. Ask it.
    client.reset();
    auto settled = Settle(machine, journal, o.timeout_seconds);
    if (!settled) {
      Report(o, JoinStep::kConfirm, false, settled.error().message());
      return std::move(settled).error();
    }
    if (!*settled) {
      Report(o, JoinStep::kConfirm, false, "the manager did not record the join; rolled back");
      return Error(ErrorCode::kNetwork, "the manager did not record the join (" +
                                            done_frame.error().message() +
                                            "); everything was rolled back, join again")
          .On(o.manager);
    }
    Report(o, JoinStep::kConfirm, true, "the manager recorded " + member);
    JoinResult result;
    result.array = state.array;
    result.member = member;
    result.key_version = state.key_version;
    result.containers = state.containers;
    result.fingerprint = fingerprint;
    return result;
  }
  if (!done_frame) return fail(JoinStep::kConfirm, std::move(done_frame).error());
  auto done = DecodeDone(*done_frame);
  if (!done) return fail(JoinStep::kConfirm, std::move(done).error());
  state.joined_at = done->joined_at;
  journal.state = "done";
  if (auto r = journal.Save(); !r) return fail(JoinStep::kConfirm, r.error());
  if (auto r = WriteFileAtomic(MemberStatePath(o.root), FormatMemberState(state)); !r) {
    return fail(JoinStep::kConfirm, r.error());
  }
  FaultPoint("member", "after-state");
  fs::remove(journal.path, ec);
  Report(o, JoinStep::kConfirm, true, "the manager recorded " + member);

  JoinResult result;
  result.array = state.array;
  result.member = member;
  result.key_version = state.key_version;
  result.containers = state.containers;
  result.fingerprint = fingerprint;
  return result;
}

Result<MemberCheck> CheckWithManager(const fs::path& root, int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto state, ReadMemberState(root));
  if (!state) return Error(ErrorCode::kNotFound, "not a member of an array").On(root.string());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto client, ConnectAsMember(machine, *state, timeout_seconds));
  MemberRequest req;
  req.op = "status";
  req.have_version = state->key_version;
  MKEYS_TRY(client->Send(EncodeMemberRequest(req)));
  MKEYS_ASSIGN_OR_RETURN(auto frame, client->Receive(timeout_seconds));
  MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeMemberReply(frame));
  return MemberCheck{reply.member, reply.current_version};
}

Result<void> Leave(const fs::path& root, bool force, int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto state, ReadMemberState(root));
  if (!state) return Error(ErrorCode::kNotFound, "not a member of an array").On(root.string());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  auto told = [&]() -> Result<void> {
    MKEYS_ASSIGN_OR_RETURN(auto client, ConnectAsMember(machine, *state, timeout_seconds));
    MemberRequest req;
    req.op = "leave";
    req.have_version = state->key_version;
    MKEYS_TRY(client->Send(EncodeMemberRequest(req)));
    MKEYS_ASSIGN_OR_RETURN(auto frame, client->Receive(timeout_seconds));
    MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeMemberReply(frame));
    (void)reply;
    return Ok();
  }();
  if (!told && !force) {
    return Error(told.error().code(), told.error().message() +
                                          " (nothing was removed; 'mkeys array leave --force' "
                                          "removes the keys here anyway)")
        .On(state->manager);
  }
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  Journal journal;
  journal.path = JoinJournalPath(root);
  journal.containers = state->containers;
  journal.containers.push_back(MemberKeyContainerName(state->array));
  journal.state = "leaving";
  MKEYS_TRY(journal.Save());
  std::error_code ec;
  fs::remove(MemberStatePath(root), ec);
  RollBack(store, installer, journal);
  return Ok();
}

Result<SyncResult> Sync(const fs::path& root, int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto state, ReadMemberState(root));
  if (!state) return Error(ErrorCode::kNotFound, "not a member of an array").On(root.string());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto client, ConnectAsMember(machine, *state, timeout_seconds));
  MKEYS_ASSIGN_OR_RETURN(auto wrap_key, X25519Key::Generate());
  MemberRequest req;
  req.op = "sync";
  req.have_version = state->key_version;
  req.wrap_key = wrap_key.public_key();
  MKEYS_TRY(client->Send(EncodeMemberRequest(req)));
  MKEYS_ASSIGN_OR_RETURN(auto frame, client->Receive(timeout_seconds));
  MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeMemberReply(frame));
  if (!reply.member) {
    return Error(ErrorCode::kPeerRefused,
                 "the manager no longer lists this member ('mkeys array "
                 "leave --force', then join again)")
        .On(state->manager);
  }
  SyncResult result;
  result.from_version = state->key_version;
  result.to_version = state->key_version;
  std::vector<std::pair<OfferItem, SecretBytes>> items;
  for (const auto& item : reply.items) {
    if (item.version <= state->key_version ||
        item.container.rfind("mkeys-array-" + state->array + "-", 0) != 0) {
      return Error(ErrorCode::kPeerRefused, "the manager sent an unexpected item")
          .On(item.container);
    }
    MKEYS_ASSIGN_OR_RETURN(auto plain, UnwrapSecret(wrap_key, item.wrapped,
                                                    WrapAad(state->array_id, state->member,
                                                            item.container, item.version)));
    result.to_version = std::max(result.to_version, item.version);
    items.emplace_back(item, std::move(plain));
  }
  if (items.empty()) return result;
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  MKEYS_ASSIGN_OR_RETURN(auto service, machine.TokenFor(state->service_identity));
  MKEYS_TRY(PreflightOn(machine, installer, service, state->service_identity));
  keystore::KeyStore store(machine);
  Journal journal;
  journal.path = JoinJournalPath(root);
  auto installed = InstallVerified(machine, installer, service, state->service_identity, items,
                                   std::nullopt, "", journal, [](JoinStep, std::string) {});
  if (!installed) {
    RollBack(store, installer, journal);
    return std::move(installed).error();
  }
  for (const auto& name : *installed) state->containers.push_back(name);
  state->key_version = result.to_version;
  journal.state = "done";
  MKEYS_TRY(WriteFileAtomic(MemberStatePath(root), FormatMemberState(*state)));
  std::error_code ec;
  fs::remove(journal.path, ec);
  result.installed = *installed;
  return result;
}

}  // namespace mkeys::arrayjoin
