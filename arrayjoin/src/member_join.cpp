// SPDX-License-Identifier: GPL-3.0-or-later
// The member's join, step by step: preflight, connect and verify the pin, prove the token,
// receive and unwrap, install and verify as the service identity, confirm. Any failure after
// the preflight removes every trace on the member, except the member key kept for a retry
// with the same token (mkeys-array-pending-TOKEN_ID), which resumes the delivery.
#include <unistd.h>

#include "internal/member_internal.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"

namespace mkeys::arrayjoin {
namespace {

namespace fs = std::filesystem;
using internal::ItemSecrets;

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "member";
  std::string name(buf);
  if (auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) c = '-';
  }
  if (name.size() > 48) name.resize(48);
  return name;
}

// The host name alone is not unique (clones of one image share it, and their MachineGuid):
// the member key's fingerprint makes it so.
Result<std::string> DefaultMemberName(EVP_PKEY* member_key) {
  MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(member_key));
  return Hostname() + "-" + HexEncode(std::span(pin.data(), 4));
}

class JoinRun final {
 public:
  JoinRun(const JoinOptions& o, const JoinToken& token, keystore::MachineRoot& machine)
      : o_(o), token_(token), machine_(machine), store_(machine) {
    journal_.path = JoinJournalPath(o.root);
  }

  Result<void> CheckRoot();
  Result<void> PrepareIdentity();
  Result<void> Preflight();
  Result<void> Connect();
  Result<void> ProveToken();
  Result<void> Receive();
  Result<void> Install();
  Result<JoinResult> Confirm();

  // Reports the failed step, tells the manager (best effort) and removes every trace.
  Error Fail(JoinStep step, Error e);

 private:
  void Report(JoinStep step, bool ok, std::string detail) const {
    if (o_.on_progress) o_.on_progress({step, ok, std::move(detail)});
  }
  Result<void> CheckOffer() const;
  Result<void> UnwrapItems();
  MemberState NewState() const;
  JoinResult ResultFor(const MemberState& state) const;
  Result<JoinResult> SettleUnanswered(const MemberState& state, const Error& why);
  Result<std::optional<PkeyPtr>> LoadPendingKey() const;
  Result<void> KeepPendingKey();
  void DropPendingKey();

  const JoinOptions& o_;
  const JoinToken& token_;
  keystore::MachineRoot& machine_;
  keystore::KeyStore store_;
  internal::Journal journal_;
  acl::Token installer_;
  acl::Token service_;
  std::optional<MemberState> previous_;  // --rejoin: this root's membership
  PkeyPtr member_key_;
  std::string pending_name_;  // "" for --rejoin (this member's own key)
  bool pending_kept_ = false;
  bool pending_reused_ = false;
  X509Ptr previous_cert_;
  std::string member_;
  std::unique_ptr<internal::TlsClient> client_;
  std::string fingerprint_;
  std::optional<X25519Key> wrap_key_;
  JoinOffer offer_;
  ItemSecrets items_;
  SecretBytes config_key_;
};

Error JoinRun::Fail(JoinStep step, Error e) {
  Report(step, false, e.message());
  if (client_) {
    // Tell the manager, so that its log says why (best effort).
    (void)client_->Send(EncodeError({"member-failed", e.message(), ""}));
  }
  internal::RollBack(store_, installer_, journal_);
  // The manager refused for good: a retry cannot resume anything. After a retryable refusal or
  // a failure on the way (a manager or connection lost), the key stays for the retry.
  if (client_ && !client_->refusal_code().empty() &&
      !AdviceFor(client_->refusal_code()).retryable) {
    DropPendingKey();
  }
  return e;
}

// The member key an earlier attempt with this token left, if any.
Result<std::optional<PkeyPtr>> JoinRun::LoadPendingKey() const {
  std::error_code ec;
  if (!fs::exists(store_.PathFor(pending_name_), ec)) return std::optional<PkeyPtr>();
  auto opened = store_.Open(pending_name_, installer_);
  if (!opened || !opened->signature) {
    return Error(
               ErrorCode::kCorrupt,
               "the member key kept from an earlier join with token " + token_.id() +
                   " cannot be read (" +
                   (opened ? std::string("it holds no signature key") : opened.error().message()) +
                   "); to join with a new key, which takes a new token use, remove it: mkeys "
                   "store delete " +
                   o_.root.string() + " " + pending_name_ + " --as SYSTEM")
        .On(pending_name_);
  }
  MKEYS_ASSIGN_OR_RETURN(SecretBytes der, opened->signature->ToPkcs8());
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr key, PrivateKeyFromPkcs8(der));
  return std::optional<PkeyPtr>(std::move(key));
}

// Before the hello can reach a manager: the member key into its own container, readable by
// SYSTEM only (the CSP's descriptor, no grant). Not in the journal: a rollback keeps it.
Result<void> JoinRun::KeepPendingKey() {
  if (pending_name_.empty() || pending_kept_) return Ok();
  MKEYS_ASSIGN_OR_RETURN(SecretBytes der, PrivateKeyToPkcs8(member_key_.get()));
  MKEYS_ASSIGN_OR_RETURN(auto key, keystore::PrivateKey::FromPkcs8(der));
  keystore::CreateOptions options;
  options.material.emplace();
  options.material->signature = std::move(key);
  // Noted first: a key that exists is always noted, so a later successful join removes it.
  MKEYS_TRY(internal::NotePendingKey(o_.root, pending_name_));
  if (auto created = store_.Create(pending_name_, installer_, options); !created) {
    internal::DropNotedPendingKey(o_.root, store_, installer_, pending_name_);
    return std::move(created).error();
  }
  pending_kept_ = true;
  journal_.pending_key = pending_name_;
  return Ok();
}

void JoinRun::DropPendingKey() {
  if (!pending_kept_) return;
  internal::DropNotedPendingKey(o_.root, store_, installer_, pending_name_);
  pending_kept_ = false;
  journal_.pending_key.clear();
}

Result<void> JoinRun::CheckRoot() {
  std::error_code ec;
  if (Registry::ExistsFor(o_.root)) {
    return Error(ErrorCode::kInvalidArgument,
                 "this root is an array manager; a manager cannot join another array")
        .On(o_.root.string());
  }
  MKEYS_ASSIGN_OR_RETURN(auto existing, ReadMemberState(o_.root));
  if (existing && !o_.rejoin) {
    return Error(ErrorCode::kExists, "already a member of array " + existing->array + " (via " +
                                         existing->manager +
                                         "); 'mkeys array leave' first, or 'mkeys array join "
                                         "--rejoin' to re-join with this member's credentials")
        .On(o_.root.string());
  }
  if (!existing && o_.rejoin) {
    return Error(ErrorCode::kNotFound,
                 "--rejoin needs this root's member credentials (mkeys-array/member.json and "
                 "the member key container); none are here")
        .On(o_.root.string());
  }
  previous_ = std::move(existing);
  MKEYS_ASSIGN_OR_RETURN(installer_, machine_.TokenFor(kInstallerIdentity));
  MKEYS_ASSIGN_OR_RETURN(service_, machine_.TokenFor(o_.service_identity));
  return Ok();
}

// The member key (new, or this member's own for --rejoin) and the member name.
Result<void> JoinRun::PrepareIdentity() {
  if (previous_) {
    MKEYS_ASSIGN_OR_RETURN(auto opened,
                           store_.Open(MemberKeyContainerName(previous_->array), installer_));
    if (!opened.signature) {
      return Error(ErrorCode::kCorrupt, "the member key container holds no key")
          .On(MemberKeyContainerName(previous_->array));
    }
    MKEYS_ASSIGN_OR_RETURN(SecretBytes der, opened.signature->ToPkcs8());
    MKEYS_ASSIGN_OR_RETURN(member_key_, PrivateKeyFromPkcs8(der));
    MKEYS_ASSIGN_OR_RETURN(previous_cert_, CertFromPem(previous_->member_cert_pem));
    member_ = o_.member_name.empty() ? previous_->member : o_.member_name;
  } else {
    // A retry with the same token presents the same key (and so the same default name).
    pending_name_ = PendingKeyContainerName(token_);
    MKEYS_ASSIGN_OR_RETURN(auto kept, LoadPendingKey());
    if (kept) {
      member_key_ = std::move(*kept);
      pending_kept_ = pending_reused_ = true;
      journal_.pending_key = pending_name_;
    } else {
      MKEYS_ASSIGN_OR_RETURN(member_key_, GenerateEcP256());
    }
    if (o_.member_name.empty()) {
      MKEYS_ASSIGN_OR_RETURN(member_, DefaultMemberName(member_key_.get()));
    } else {
      member_ = o_.member_name;
    }
  }
  return ValidateMemberName(member_);
}

// 1. Before any network traffic.
Result<void> JoinRun::Preflight() {
  if (auto r = internal::PreflightOn(machine_, installer_, service_, o_.service_identity,
                                     o_.on_diagnosis);
      !r) {
    std::string detail = r.error().message();
    if (detail.rfind("preflight: ", 0) == 0) detail.erase(0, 11);
    Report(JoinStep::kPreflight, false, detail);
    return r.error();
  }
  Report(JoinStep::kPreflight, true,
         o_.service_identity + " will be able to traverse to and read the array containers");
  return Ok();
}

// 2. Connect and verify the pin before anything secret is sent. A re-join presents its
// member certificate, which proves it holds the member's key.
Result<void> JoinRun::Connect() {
  MKEYS_ASSIGN_OR_RETURN(auto hp, internal::SplitHostPort(o_.manager));
  const internal::ClientCredential cred{previous_cert_.get(), member_key_.get()};
  MKEYS_ASSIGN_OR_RETURN(client_,
                         internal::TlsClient::Connect(hp.first, hp.second, o_.timeout_seconds,
                                                      previous_ ? &cred : nullptr));
  fingerprint_ = FormatFingerprint(client_->peer_pin());
  if (!ConstantTimeEquals(client_->peer_pin(), token_.pin())) {
    client_.reset();
    return Error(ErrorCode::kPeerRefused,
                 "the manager's key does not match the token: expected " +
                     FormatFingerprint(token_.pin()) + ", the server at " + o_.manager +
                     " presented " + fingerprint_ +
                     "; nothing secret was sent (wrong address, or someone in between?)")
        .On(o_.manager);
  }
  if (o_.confirm_fingerprint && !o_.confirm_fingerprint(fingerprint_)) {
    client_.reset();
    return Error(ErrorCode::kPeerRefused, "the manager's fingerprint was not confirmed");
  }
  Report(JoinStep::kConnect, true, "connected to " + o_.manager + ", key " + fingerprint_);
  return Ok();
}

// 3. Prove the token, bound to this TLS session; the manager answers with the offer.
Result<void> JoinRun::ProveToken() {
  MKEYS_ASSIGN_OR_RETURN(auto wrap, X25519Key::Generate());
  wrap_key_.emplace(std::move(wrap));
  JoinHello hello;
  hello.token_id = token_.id();
  hello.token_secret = token_.secret();
  hello.member = member_;
  hello.wrap_key = wrap_key_->public_key();
  MKEYS_ASSIGN_OR_RETURN(hello.member_key_der, PublicKeyToDer(member_key_.get()));
  hello.proof = JoinProof(token_.secret(), client_->ekm(), member_, hello.wrap_key);
  FaultPoint("member", "before-hello");
  MKEYS_TRY(KeepPendingKey());
  MKEYS_ASSIGN_OR_RETURN(auto frame,
                         internal::Exchange(*client_, EncodeHello(hello), o_.timeout_seconds));
  MKEYS_ASSIGN_OR_RETURN(offer_, DecodeOffer(frame));
  Report(JoinStep::kProveToken, true,
         "token " + token_.id() + " accepted" +
             (pending_reused_ ? std::string(", with the member key of an earlier attempt (" +
                                            pending_name_ + ")")
                              : std::string()));
  return Ok();
}

Result<void> JoinRun::CheckOffer() const {
  auto ca = CertFromPem(offer_.ca_cert_pem);
  auto cert = CertFromPem(offer_.member_cert_pem);
  if (!ca || !cert) return Error(ErrorCode::kParse, "the manager sent unreadable certificates");
  auto ca_pin = SpkiPin(X509_get0_pubkey(ca->get()));
  if (!ca_pin || !ConstantTimeEquals(*ca_pin, token_.pin()) ||
      !VerifyIssuedBy(cert->get(), ca->get())) {
    return Error(ErrorCode::kPeerRefused,
                 "the member certificate is not signed by the pinned array CA");
  }
  if (offer_.member != member_) {
    return Error(ErrorCode::kPeerRefused, "the manager answered for another member");
  }
  if (previous_ && offer_.array_id != previous_->array_id) {
    return Error(ErrorCode::kPeerRefused, "a re-join reached another array than this member's");
  }
  return Ok();
}

Result<void> JoinRun::UnwrapItems() {
  for (const auto& item : offer_.items) {
    if (item.container.rfind("mkeys-array-" + offer_.array + "-", 0) != 0) {
      return Error(ErrorCode::kPeerRefused,
                   "the manager offered a container outside the array's names")
          .On(item.container);
    }
    auto plain = UnwrapSecret(*wrap_key_, item.wrapped,
                              WrapAad(offer_.array_id, member_, item.container, item.version));
    if (!plain) return std::move(plain).error().On(item.container);
    if (item.kind == kItemConfig) config_key_ = *plain;
    items_.emplace_back(item, std::move(*plain));
  }
  if (config_key_.size() != 32 || items_.size() != 2) {
    return Error(ErrorCode::kPeerRefused, "the offer lacks the array RSA or config key");
  }
  return Ok();
}

// 4. Check and unwrap what arrived.
Result<void> JoinRun::Receive() {
  MKEYS_TRY(CheckOffer());
  MKEYS_TRY(UnwrapItems());
  Report(JoinStep::kReceive, true,
         "array " + offer_.array + ", key version " + std::to_string(offer_.version) + ", " +
             std::to_string(items_.size()) + " key(s) and a member certificate");
  FaultPoint("member", "after-receive");
  return Ok();
}

// 5.-6. Install, verify as the service identity, rename. A re-join replaces its old array
// containers and keeps its member key.
Result<void> JoinRun::Install() {
  std::optional<keystore::KeyMaterial> member_material;
  if (previous_) {
    for (const auto& name : previous_->containers) {
      std::error_code ec;
      if (fs::exists(store_.PathFor(name), ec)) MKEYS_TRY(store_.Delete(name, installer_));
    }
  } else {
    MKEYS_ASSIGN_OR_RETURN(auto adopted, keystore::PrivateKey::Adopt(member_key_.release()));
    member_material.emplace();
    member_material->signature = std::move(adopted);
  }
  auto progress = [&](JoinStep step, std::string detail) { Report(step, true, detail); };
  MKEYS_ASSIGN_OR_RETURN(
      auto installed,
      internal::InstallVerified(machine_, installer_, service_, o_.service_identity, items_,
                                std::move(member_material), MemberKeyContainerName(offer_.array),
                                journal_, progress));
  (void)installed;
  MKEYS_ASSIGN_OR_RETURN(auto thumbprint,
                         internal::InstallMemberCertificate(machine_, service_, o_.service_identity,
                                                            offer_.member_cert_pem,
                                                            MemberKeyContainerName(offer_.array)));
  if (!thumbprint.empty()) {
    Report(JoinStep::kVerify, true,
           "member certificate " + thumbprint + " in LocalMachine\\My, its key readable by " +
               o_.service_identity);
  }
  return Ok();
}

MemberState JoinRun::NewState() const {
  MemberState state;
  state.array = offer_.array;
  state.array_id = offer_.array_id;
  state.manager = o_.manager;
  state.managers = {o_.manager};
  if (previous_) internal::RememberEndpoints(state, o_.manager, previous_->managers);
  state.pin = token_.pin();
  state.member = member_;
  state.service_identity = o_.service_identity;
  state.key_version = offer_.version;
  for (const auto& [item, plain] : items_) state.containers.push_back(item.container);
  state.member_cert_pem = offer_.member_cert_pem;
  state.ca_cert_pem = offer_.ca_cert_pem;
  state.joined_at = NowSeconds();
  return state;
}

JoinResult JoinRun::ResultFor(const MemberState& state) const {
  JoinResult result;
  result.array = state.array;
  result.member = member_;
  result.key_version = state.key_version;
  result.containers = state.containers;
  result.fingerprint = fingerprint_;
  return result;
}

// The confirmation left but no answer came: ask the manager whether it recorded the member.
Result<JoinResult> JoinRun::SettleUnanswered(const MemberState& state, const Error& why) {
  client_.reset();
  auto settled = internal::Settle(machine_, journal_, o_.timeout_seconds, o_.manager);
  if (!settled) {
    Report(JoinStep::kConfirm, false, settled.error().message());
    return std::move(settled).error();
  }
  if (!*settled) {
    Report(JoinStep::kConfirm, false, "the manager did not record the join; rolled back");
    return Error(ErrorCode::kNetwork,
                 "the manager did not record the join (" + why.message() +
                     "); everything was rolled back here except the member key: joining again "
                     "with the same token presents that key and resumes the delivery if the "
                     "manager still holds it (no new use)")
        .On(o_.manager);
  }
  Report(JoinStep::kConfirm, true, "the manager recorded " + member_);
  return ResultFor(state);
}

// 7. Confirm; the member state is written once the manager acknowledged.
Result<JoinResult> JoinRun::Confirm() {
  MemberState state = NewState();
  journal_.state = "confirming";
  journal_.pending = internal::FormatMemberState(state);
  if (auto r = journal_.Save(); !r) return Fail(JoinStep::kConfirm, r.error());
  FaultPoint("member", "before-confirm");
  if (auto r = client_->Send(EncodeConfirm({ConfirmCheck(config_key_, client_->ekm())})); !r) {
    return Fail(JoinStep::kConfirm, r.error());
  }
  FaultPoint("member", "after-confirm");
  auto done_frame = client_->Receive(o_.timeout_seconds);
  if (!done_frame && done_frame.error().code() != ErrorCode::kPeerRefused) {
    return SettleUnanswered(state, done_frame.error());
  }
  if (!done_frame) return Fail(JoinStep::kConfirm, std::move(done_frame).error());
  auto done = DecodeDone(*done_frame);
  if (!done) return Fail(JoinStep::kConfirm, std::move(done).error());
  state.joined_at = done->joined_at;
  journal_.state = "done";
  if (auto r = journal_.Save(); !r) return Fail(JoinStep::kConfirm, r.error());
  if (auto r = internal::WriteMemberState(o_.root, state); !r) {
    return Fail(JoinStep::kConfirm, r.error());
  }
  FaultPoint("member", "after-state");
  internal::DropPendingKeysAfterJoin(o_.root, store_, installer_, pending_name_);
  pending_kept_ = false;
  journal_.pending_key.clear();
  std::error_code ec;
  fs::remove(journal_.path, ec);
  Report(JoinStep::kConfirm, true, "the manager recorded " + member_);
  return ResultFor(state);
}

}  // namespace

std::string PendingKeyContainerName(const JoinToken& token) {
  return "mkeys-array-pending-" + token.id();
}

Result<void> Preflight(const fs::path& root, std::string_view service_identity) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  MKEYS_ASSIGN_OR_RETURN(auto service, machine.TokenFor(service_identity));
  return internal::PreflightOn(machine, installer, service, service_identity, {});
}

Result<JoinResult> Join(const JoinOptions& o, const JoinToken& token) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(o.root));
  MKEYS_TRY(RecoverInterruptedJoin(o.root, o.manager));
  JoinRun run(o, token, machine);
  MKEYS_TRY(run.CheckRoot());
  MKEYS_TRY(run.PrepareIdentity());
  MKEYS_TRY(run.Preflight());
  if (auto r = run.Connect(); !r) return run.Fail(JoinStep::kConnect, std::move(r).error());
  if (auto r = run.ProveToken(); !r) return run.Fail(JoinStep::kProveToken, std::move(r).error());
  if (auto r = run.Receive(); !r) return run.Fail(JoinStep::kReceive, std::move(r).error());
  if (auto r = run.Install(); !r) return run.Fail(JoinStep::kVerify, std::move(r).error());
  return run.Confirm();
}

}  // namespace mkeys::arrayjoin
