// SPDX-License-Identifier: GPL-3.0-or-later
// The manager's side of a join: check the proof and the token, reserve a token use and record
// the delivery in one transaction, and only then send the wrapped keys.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // see server.cpp
#endif
#include <algorithm>

#include "internal/server_state.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/keystore/key_store.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

constexpr int kMemberCertDays = 825;

PeerError RefusalFor(TokenRefusal refusal, const std::optional<TokenRecord>& token,
                     std::string_view id, std::int64_t now) {
  const std::string tid = "token " + std::string(id);
  switch (refusal) {
    case TokenRefusal::kUnknown:
      return {"token-unknown", "this manager issued no " + tid,
              "check that the token belongs to this manager, or ask for a new one "
              "('mkeys array token ROOT' on the manager)"};
    case TokenRefusal::kWrongSecret:
      return {"token-invalid", tid + ": the secret does not match",
              "copy the whole token again; it may have been altered"};
    case TokenRefusal::kRevoked:
      return {"token-revoked",
              tid + " was revoked at " + FormatTime(token ? token->revoked_at.value_or(0) : 0),
              "ask for a new token ('mkeys array token ROOT' on the manager)"};
    case TokenRefusal::kExpired:
      return {"token-expired",
              tid + " expired at " + FormatTime(token ? token->expires_at : 0) + " (now " +
                  FormatTime(now) + ")",
              "ask for a new token, with a longer --ttl if needed"};
    case TokenRefusal::kUsedUp:
      return {"token-used-up",
              tid + " has been used " + std::to_string(token ? token->uses_total : 0) +
                  " time(s), its limit",
              "ask for a new token (--uses N allows N joins)"};
  }
  return {"token-invalid", tid + " refused", ""};
}

Result<KeyVersion> CurrentVersion(ManagerState& st) {
  MKEYS_ASSIGN_OR_RETURN(auto info, st.registry->Info());
  MKEYS_ASSIGN_OR_RETURN(auto versions, st.registry->KeyVersions());
  for (const auto& kv : versions) {
    if (kv.version == info.current_version) return kv;
  }
  return Error(ErrorCode::kCorrupt, "the registry names no current key version");
}

PeerError Internal(const std::string& what, const Error& e) {
  return {"internal", what + e.ToString(), ""};
}

// What a join will deliver, built before anything is reserved or sent.
struct PreparedOffer {
  JoinOffer offer;
  LoadedVersion loaded;
  MemberRecord member;
};

Result<PreparedOffer> PrepareOffer(ManagerState& st, const JoinHello& hello, EVP_PKEY* member_key,
                                   const std::string& peer) {
  PreparedOffer p;
  MKEYS_ASSIGN_OR_RETURN(auto kv, CurrentVersion(st));
  MKEYS_ASSIGN_OR_RETURN(p.loaded, LoadVersion(st, kv));
  p.offer.array = st.info.name;
  p.offer.array_id = st.info.array_id;
  p.offer.version = p.loaded.version;
  p.offer.member = hello.member;
  MKEYS_ASSIGN_OR_RETURN(p.offer.items, WrapVersion(st, p.loaded, hello.member, hello.wrap_key));
  MKEYS_ASSIGN_OR_RETURN(
      auto cert, IssueMemberCertificate(st.ca_key.get(), st.ca_cert.get(), member_key, hello.member,
                                        kMemberCertDays));
  MKEYS_ASSIGN_OR_RETURN(p.offer.member_cert_pem, CertToPem(cert.get()));
  p.offer.ca_cert_pem = st.info.ca_cert_pem;
  p.member.name = hello.member;
  p.member.key_version = p.loaded.version;
  p.member.address = peer;
  p.member.token_id = hello.token_id;
  p.member.cert_pem = p.offer.member_cert_pem;
  MKEYS_ASSIGN_OR_RETURN(p.member.cert_pin, SpkiPin(member_key));
  return p;
}

// Checks the hello: the session-bound proof, then the token. nullopt when both hold.
std::optional<PeerError> CheckHello(ManagerState& st, const JoinHello& hello, const Ekm& ekm,
                                    std::int64_t now) {
  const Digest expected = JoinProof(hello.token_secret, ekm, hello.member, hello.wrap_key);
  if (!ConstantTimeEquals(expected, hello.proof)) {
    return PeerError{"proof-mismatch",
                     "the token proof does not match this TLS session (a replayed or relayed "
                     "join request)",
                     "connect to the manager directly; a TLS-intercepting proxy breaks the "
                     "session binding"};
  }
  auto token = st.registry->FindToken(hello.token_id);
  if (!token) return Internal("", token.error());
  // A used-up token is still good for resuming its own delivery (the same member key retrying):
  // the reservation decides.
  if (auto refusal = Registry::CheckToken(*token, JoinToken::VerifierOf(hello.token_secret), now);
      refusal && *refusal != TokenRefusal::kUsedUp) {
    return RefusalFor(*refusal, *token, hello.token_id, now);
  }
  return std::nullopt;
}

// The reservation: one transaction spends the use and records the delivery (or resumes this
// member key's own delivery: `resumed`), or refuses.
std::optional<PeerError> Reserve(ManagerState& st, const JoinHello& hello, const PreparedOffer& p,
                                 const PeerMember& peer, std::int64_t now, bool& resumed) {
  const Digest verifier = JoinToken::VerifierOf(hello.token_secret);
  std::optional<Digest> proven;
  if (peer.presented) proven = peer.pin;
  auto r = st.registry->ReserveDelivery(hello.token_id, verifier, p.member, proven, now);
  if (r) {
    resumed = *r;
    return std::nullopt;
  }
  switch (r.error().code()) {
    case ErrorCode::kPeerRefused: {
      auto again = st.registry->FindToken(hello.token_id);
      const auto refusal = Registry::CheckToken(again ? *again : std::nullopt, verifier, now);
      return RefusalFor(refusal.value_or(TokenRefusal::kUsedUp), again ? *again : std::nullopt,
                        hello.token_id, now);
    }
    case ErrorCode::kExists:
      return PeerError{"name-taken", r.error().message(),
                       "choose another --member-name, re-join with 'mkeys array join --rejoin' "
                       "from that member, or on the manager run 'mkeys array remove ROOT " +
                           hello.member + "' or issue 'mkeys array token ROOT --replace " +
                           hello.member + "'"};
    case ErrorCode::kAccessDenied:
      return PeerError{"certificate-revoked", r.error().message(), "join with a new token"};
    default:
      return Internal("cannot reserve the token use: ", r.error());
  }
}

}  // namespace

asio::awaitable<std::optional<PeerError>> HandleJoin(ManagerState& st, Connection& c,
                                                     const Frame& first, const Ekm& ekm,
                                                     const PeerMember& peer) {
  const std::int64_t now = NowSeconds();
  auto hello = DecodeHello(first);
  if (!hello) {
    co_return PeerError{"bad-request", "malformed join request: " + hello.error().ToString(),
                        "use the same mkeys version on both sides"};
  }
  if (auto refusal = CheckHello(st, *hello, ekm, now)) co_return refusal;
  if (!st.Authenticate(c)) {
    co_return PeerError{"internal", "the manager is busy with too many connections", ""};
  }
  auto member_key = PublicKeyFromDer(hello->member_key_der);
  if (!member_key || !EVP_PKEY_is_a(member_key->get(), "EC")) {
    co_return PeerError{"bad-request", "the member key is not an EC P-256 public key", ""};
  }
  auto prepared = PrepareOffer(st, *hello, member_key->get(), c.peer);
  if (!prepared) co_return Internal("cannot prepare the keys: ", prepared.error());
  bool resumed = false;
  if (auto refusal = Reserve(st, *hello, *prepared, peer, now, resumed)) co_return refusal;
  st.Event("delivering to " + hello->member + " at " + c.peer + " (token " + hello->token_id +
           ", certificate " + FormatFingerprint(prepared->member.cert_pin) +
           "): " + (resumed ? "its earlier delivery resumed, no new use" : "use spent"));
  FaultPoint("manager", "before-offer");
  // GCC 12 mishandles temporaries inside co_await expressions: build every frame first.
  const Frame offer_frame = EncodeOffer(prepared->offer);
  const bool sent = co_await WriteFrame(c, offer_frame);
  FaultPoint("manager", "after-offer");
  FaultPoint("manager", "after-send-before-commit");
  auto unconfirmed = [&](const std::string& why) {
    st.Event("delivery to " + hello->member + " at " + c.peer + " not confirmed: " + why +
             " (the use stays spent; 'mkeys array members ROOT --pending' lists it)");
    (void)st.registry->LogEvent("delivery-unconfirmed", hello->member, why, NowSeconds());
  };
  if (!sent) {
    unconfirmed("the connection closed while sending");
    co_return std::nullopt;
  }
  c.Arm(st.options.step_timeout_seconds);
  auto confirm_frame = co_await ReadFrame(c);
  if (!confirm_frame) {
    unconfirmed(confirm_frame.error().message());
    co_return std::nullopt;
  }
  if (confirm_frame->type == MessageType::kError) {
    auto e = DecodeError(*confirm_frame);
    unconfirmed("the member failed: " + (e ? e->message : std::string("unreadable error")));
    co_return std::nullopt;
  }
  auto confirm = DecodeConfirm(*confirm_frame);
  if (!confirm) {
    unconfirmed("malformed confirmation");
    co_return PeerError{"bad-request", "malformed confirmation: " + confirm.error().ToString(), ""};
  }
  if (!ConstantTimeEquals(ConfirmCheck(prepared->loaded.config_key, ekm), confirm->check)) {
    unconfirmed("the confirmation did not prove the keys were received");
    co_return PeerError{"confirm-mismatch",
                        "the confirmation does not prove the array keys were received",
                        "ask for a new token; if it repeats, the member's mkeys may be damaged"};
  }
  FaultPoint("manager", "before-record");
  const std::int64_t joined_at = NowSeconds();
  if (auto r = st.registry->ConfirmJoin(hello->member, prepared->member.cert_pin, joined_at); !r) {
    if (r.error().code() == ErrorCode::kPeerRefused) {
      co_return PeerError{"certificate-revoked", r.error().message(), "join with a new token"};
    }
    co_return Internal("cannot record the member: ", r.error());
  }
  FaultPoint("manager", "after-record");
  st.Event("joined: " + hello->member + " from " + c.peer + " with token " + hello->token_id +
           ", key version " + std::to_string(prepared->member.key_version));
  JoinDone done;
  done.member = hello->member;
  done.joined_at = joined_at;
  const Frame done_frame = EncodeDone(done);
  (void)co_await WriteFrame(c, done_frame);
  co_return std::nullopt;
}

std::vector<std::string> AnnouncedEndpoints(ManagerState& st) {
  std::vector<std::string> out = st.endpoints;
  auto managers = st.registry->Managers();
  if (!managers) return out;  // etcd unreachable: at least this manager
  for (const auto& m : *managers) {
    if (m.id == st.registry->ManagerId()) continue;
    for (const auto& e : m.endpoints) {
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
  }
  if (out.size() > kMaxEndpoints) out.resize(kMaxEndpoints);
  return out;
}

Result<LoadedVersion> LoadVersion(ManagerState& st, const KeyVersion& kv) {
  keystore::KeyStore store(*st.machine);
  LoadedVersion out;
  out.version = kv.version;
  out.rsa_container = kv.rsa_container;
  out.config_container = kv.config_container;
  if (st.registry->HoldsSecrets()) {
    // Several managers: any of them may have made this version; its keys are sealed in etcd.
    const std::string v = "v" + std::to_string(kv.version);
    MKEYS_ASSIGN_OR_RETURN(out.rsa_pkcs8, st.registry->LoadSecret(v + "/rsa"));
    MKEYS_ASSIGN_OR_RETURN(out.config_key, st.registry->LoadSecret(v + "/config"));
    if (out.config_key.size() != 32) {
      return Error(ErrorCode::kCorrupt, "the sealed config key is not 256 bits")
          .On(kv.config_container);
    }
    return out;
  }
  MKEYS_ASSIGN_OR_RETURN(auto rsa, store.Open(kv.rsa_container, st.system));
  if (!rsa.exchange) {
    return Error(ErrorCode::kCorrupt, "the array RSA container holds no exchange key")
        .On(kv.rsa_container);
  }
  MKEYS_ASSIGN_OR_RETURN(out.rsa_pkcs8, rsa.exchange->ToPkcs8());
  MKEYS_ASSIGN_OR_RETURN(auto config, store.Open(kv.config_container, st.system));
  if (!config.symmetric || config.symmetric->size() != 32) {
    return Error(ErrorCode::kCorrupt, "the array config container holds no 256-bit key")
        .On(kv.config_container);
  }
  out.config_key = *config.symmetric;
  return out;
}

Result<std::vector<OfferItem>> WrapVersion(const ManagerState& st, const LoadedVersion& v,
                                           std::string_view member,
                                           std::span<const std::uint8_t, 32> wrap_key) {
  std::vector<OfferItem> items;
  for (int i = 0; i < 2; ++i) {
    OfferItem item;
    item.container = i == 0 ? v.rsa_container : v.config_container;
    item.kind = std::string(i == 0 ? kItemRsa : kItemConfig);
    item.version = v.version;
    MKEYS_ASSIGN_OR_RETURN(
        item.wrapped, WrapSecret(wrap_key, i == 0 ? v.rsa_pkcs8 : v.config_key,
                                 WrapAad(st.info.array_id, member, item.container, v.version)));
    items.push_back(std::move(item));
  }
  return items;
}

bool CountsAsFailure(std::string_view code) {
  return code == "token-unknown" || code == "token-invalid" || code == "proof-mismatch" ||
         code == "confirm-mismatch" || code == "not-a-member" || code == "certificate-revoked";
}

}  // namespace mkeys::arrayjoin::internal
