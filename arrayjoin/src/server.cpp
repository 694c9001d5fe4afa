// SPDX-License-Identifier: GPL-3.0-or-later
// The manager's TLS 1.3 server: Boost.Asio coroutines on one thread, OpenSSL underneath.
// GCC 12 reports a false -Wmismatched-new-delete on Asio 1.74's coroutine frames, whose
// class-specific operator new/delete pair is correct (it recycles frames in a thread cache).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "asio_includes.hpp"

#include <openssl/err.h>

#include <deque>
#include <fstream>
#include <map>

#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "tls.hpp"

namespace mkeys::arrayjoin {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SslStream = asio::ssl::stream<tcp::socket>;

struct ManagerState {
  ServeOptions options;
  std::unique_ptr<Registry> registry;
  ArrayInfo info;
  PkeyPtr ca_key;
  X509Ptr ca_cert;
  std::optional<keystore::MachineRoot> machine;
  acl::Token system;
  std::map<std::string, std::deque<std::int64_t>> failures;  // peer address -> times
  std::size_t connections = 0;

  void Event(const std::string& line) const {
    Logger("arrayjoin")->info("{}", line);
    if (options.on_event) options.on_event(line);
  }
  bool TooManyFailures(const std::string& peer, std::int64_t now) {
    auto& q = failures[peer];
    while (!q.empty() && q.front() <= now - options.failure_window_seconds) q.pop_front();
    return static_cast<int>(q.size()) >= options.max_failures;
  }
  void CountFailure(const std::string& peer, std::int64_t now) {
    auto& q = failures[peer];
    q.push_back(now);
    while (q.size() > static_cast<std::size_t>(options.max_failures) + 1) q.pop_front();
  }
};

struct Connection : std::enable_shared_from_this<Connection> {
  Connection(tcp::socket socket, asio::ssl::context& ctx)
      : stream(std::move(socket), ctx), timer(stream.get_executor()) {}
  SslStream stream;
  asio::steady_timer timer;
  std::string peer;
  bool timed_out = false;

  // Closes the socket if the current step takes longer than `seconds`.
  void Arm(int seconds) {
    timer.expires_after(std::chrono::seconds(seconds));
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) {
        self->timed_out = true;
        boost::system::error_code ignored;
        self->stream.lowest_layer().close(ignored);
      }
    });
  }
  void Disarm() { timer.cancel(); }
};

asio::awaitable<Result<Frame>> ReadFrame(Connection& c) {
  std::array<std::uint8_t, kFrameHeaderSize> header{};
  boost::system::error_code ec;
  co_await asio::async_read(c.stream, asio::buffer(header),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return Error(ErrorCode::kNetwork, c.timed_out ? "timed out waiting for a message"
                                                     : "connection closed: " + ec.message());
  }
  auto h = ParseFrameHeader(header);
  if (!h) co_return std::move(h).error();
  std::vector<std::uint8_t> body(h->body_length);
  co_await asio::async_read(c.stream, asio::buffer(body),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return Error(ErrorCode::kNetwork, c.timed_out ? "timed out reading a message"
                                                     : "connection closed: " + ec.message());
  }
  co_return ParseFrameBody(*h, body);
}

asio::awaitable<bool> WriteFrame(Connection& c, const Frame& frame) {
  auto bytes = EncodeFrame(frame);
  if (!bytes) co_return false;
  boost::system::error_code ec;
  co_await asio::async_write(c.stream, asio::buffer(*bytes),
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

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

struct LoadedVersion {
  std::uint32_t version = 0;
  std::string rsa_container;
  SecretBytes rsa_pkcs8;
  std::string config_container;
  SecretBytes config_key;
};

Result<LoadedVersion> LoadVersion(ManagerState& st, const KeyVersion& kv) {
  keystore::KeyStore store(*st.machine);
  LoadedVersion out;
  out.version = kv.version;
  out.rsa_container = kv.rsa_container;
  out.config_container = kv.config_container;
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

Result<KeyVersion> CurrentVersion(ManagerState& st) {
  MKEYS_ASSIGN_OR_RETURN(auto info, st.registry->Info());
  MKEYS_ASSIGN_OR_RETURN(auto versions, st.registry->KeyVersions());
  for (const auto& kv : versions) {
    if (kv.version == info.current_version) return kv;
  }
  return Error(ErrorCode::kCorrupt, "the registry names no current key version");
}

// A join: hello -> offer -> confirm -> done. Returns a refusal to send, or nullopt on success
// or when the connection is gone.
asio::awaitable<std::optional<PeerError>> HandleJoin(ManagerState& st, Connection& c,
                                                     const Frame& first, const Ekm& ekm) {
  const std::int64_t now = NowSeconds();
  auto hello = DecodeHello(first);
  if (!hello) {
    co_return PeerError{"bad-request", "malformed join request: " + hello.error().ToString(),
                        "use the same mkeys version on both sides"};
  }
  const Digest expected = JoinProof(hello->token_secret, ekm, hello->member, hello->wrap_key);
  if (!ConstantTimeEquals(expected, hello->proof)) {
    co_return PeerError{"proof-mismatch",
                        "the token proof does not match this TLS session (a replayed or relayed "
                        "join request)",
                        "connect to the manager directly; a TLS-intercepting proxy breaks the "
                        "session binding"};
  }
  auto token = st.registry->FindToken(hello->token_id);
  if (!token) co_return PeerError{"internal", token.error().ToString(), ""};
  const Digest verifier = JoinToken::VerifierOf(hello->token_secret);
  if (auto refusal = Registry::CheckToken(*token, verifier, now)) {
    co_return RefusalFor(*refusal, *token, hello->token_id, now);
  }
  auto member_key = PublicKeyFromDer(hello->member_key_der);
  if (!member_key || !EVP_PKEY_is_a(member_key->get(), "EC")) {
    co_return PeerError{"bad-request", "the member key is not an EC P-256 public key", ""};
  }
  auto kv = CurrentVersion(st);
  if (!kv) co_return PeerError{"internal", kv.error().ToString(), ""};
  auto loaded = LoadVersion(st, *kv);
  if (!loaded)
    co_return PeerError{"internal", "manager cannot read its keys: " + loaded.error().ToString(),
                        ""};
  JoinOffer offer;
  offer.array = st.info.name;
  offer.array_id = st.info.array_id;
  offer.version = loaded->version;
  offer.member = hello->member;
  auto items = WrapVersion(st, *loaded, hello->member, hello->wrap_key);
  if (!items) co_return PeerError{"internal", items.error().ToString(), ""};
  offer.items = std::move(*items);
  auto cert = IssueMemberCertificate(st.ca_key.get(), st.ca_cert.get(), member_key->get(),
                                     hello->member, 825);
  if (!cert) co_return PeerError{"internal", cert.error().ToString(), ""};
  auto cert_pem = CertToPem(cert->get());
  if (!cert_pem) co_return PeerError{"internal", cert_pem.error().ToString(), ""};
  offer.member_cert_pem = *cert_pem;
  offer.ca_cert_pem = st.info.ca_cert_pem;
  FaultPoint("manager", "before-offer");
  // GCC 12 mishandles temporaries inside co_await expressions: build every frame first.
  const Frame offer_frame = EncodeOffer(offer);
  if (!co_await WriteFrame(c, offer_frame)) co_return std::nullopt;
  FaultPoint("manager", "after-offer");

  c.Arm(st.options.step_timeout_seconds);
  auto confirm_frame = co_await ReadFrame(c);
  if (!confirm_frame) {
    st.Event("join of " + hello->member + " from " + c.peer + " abandoned before confirmation: " +
             confirm_frame.error().message() + " (nothing recorded)");
    co_return std::nullopt;
  }
  if (confirm_frame->type == MessageType::kError) {
    auto e = DecodeError(*confirm_frame);
    st.Event("join of " + hello->member + " from " + c.peer + " failed on the member: " +
             (e ? e->message : std::string("unreadable error")) + " (nothing recorded)");
    co_return std::nullopt;
  }
  auto confirm = DecodeConfirm(*confirm_frame);
  if (!confirm) {
    co_return PeerError{"bad-request", "malformed confirmation: " + confirm.error().ToString(), ""};
  }
  if (!ConstantTimeEquals(ConfirmCheck(loaded->config_key, ekm), confirm->check)) {
    co_return PeerError{"confirm-mismatch",
                        "the confirmation does not prove the array keys were received",
                        "join again; if it repeats, the member's mkeys may be damaged"};
  }
  MemberRecord member;
  member.name = hello->member;
  member.joined_at = NowSeconds();
  member.key_version = loaded->version;
  member.address = c.peer;
  member.token_id = hello->token_id;
  member.cert_pem = *cert_pem;
  auto member_pin = SpkiPin(member_key->get());
  if (!member_pin) co_return PeerError{"internal", member_pin.error().ToString(), ""};
  member.cert_pin = *member_pin;
  FaultPoint("manager", "before-record");
  if (auto r = st.registry->RecordJoin(hello->token_id, verifier, member, member.joined_at); !r) {
    if (r.error().code() == ErrorCode::kPeerRefused) {
      auto again = st.registry->FindToken(hello->token_id);
      const auto refusal =
          Registry::CheckToken(again ? *again : std::nullopt, verifier, member.joined_at);
      co_return RefusalFor(refusal.value_or(TokenRefusal::kUsedUp), again ? *again : std::nullopt,
                           hello->token_id, member.joined_at);
    }
    co_return PeerError{"internal", "cannot record the member: " + r.error().ToString(), ""};
  }
  FaultPoint("manager", "after-record");
  st.Event("joined: " + member.name + " from " + c.peer + " with token " + member.token_id +
           ", key version " + std::to_string(member.key_version));
  JoinDone done;
  done.member = member.name;
  done.joined_at = member.joined_at;
  const Frame done_frame = EncodeDone(done);
  (void)co_await WriteFrame(c, done_frame);
  co_return std::nullopt;
}

asio::awaitable<std::optional<PeerError>> HandleMember(ManagerState& st, Connection& c,
                                                       const Frame& first) {
  auto req = DecodeMemberRequest(first);
  if (!req) co_return PeerError{"bad-request", req.error().ToString(), ""};
  X509* cert = SSL_get0_peer_certificate(c.stream.native_handle());
  if (cert == nullptr || !VerifyIssuedBy(cert, st.ca_cert.get())) {
    co_return PeerError{"not-a-member", "member requests need a member certificate of this array",
                        "join the array first"};
  }
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn - 1);
  auto pin = SpkiPin(X509_get0_pubkey(cert));
  auto rec = st.registry->FindMember(cn);
  MemberReply reply;
  auto info = st.registry->Info();
  reply.current_version = info ? info->current_version : 0;
  const bool is_member =
      pin && rec && rec->has_value() && ConstantTimeEquals((*rec)->cert_pin, *pin);
  reply.member = is_member;
  if (req->op == "leave" && is_member) {
    if (auto r = st.registry->RemoveMember(cn, NowSeconds(), "left (member request)"); !r) {
      co_return PeerError{"internal", r.error().ToString(), ""};
    }
    st.Event(std::string("left: ") + cn + " from " + c.peer);
    reply.member = false;
  } else if (req->op == "sync" && is_member) {
    auto versions = st.registry->KeyVersions();
    if (!versions) co_return PeerError{"internal", versions.error().ToString(), ""};
    for (const auto& kv : *versions) {
      if (kv.version <= req->have_version) continue;
      auto loaded = LoadVersion(st, kv);
      if (!loaded) co_return PeerError{"internal", loaded.error().ToString(), ""};
      auto items = WrapVersion(st, *loaded, cn, req->wrap_key);
      if (!items) co_return PeerError{"internal", items.error().ToString(), ""};
      for (auto& item : *items) reply.items.push_back(std::move(item));
    }
    st.Event(std::string("sync: ") + cn + " from " + c.peer + " had v" +
             std::to_string(req->have_version) + ", sent " + std::to_string(reply.items.size()) +
             " item(s)");
  }
  const Frame reply_frame = EncodeMemberReply(reply);
  (void)co_await WriteFrame(c, reply_frame);
  co_return std::nullopt;
}

asio::awaitable<void> HandleConnection(ManagerState& st, std::shared_ptr<Connection> c) {
  ++st.connections;
  c->Arm(st.options.handshake_timeout_seconds);
  boost::system::error_code ec;
  co_await c->stream.async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(asio::use_awaitable, ec));
  const std::int64_t now = NowSeconds();
  std::optional<PeerError> refusal;
  if (ec) {
    st.Event("refused " + c->peer + ": TLS handshake failed (" +
             (c->timed_out ? std::string("timed out") : ec.message()) + ")");
    st.CountFailure(c->peer, now);
  } else {
    auto ekm = internal::ExportEkm(c->stream.native_handle());
    auto first = co_await ReadFrame(*c);
    if (!first || !ekm) {
      st.Event("refused " + c->peer + ": " +
               (first ? ekm.error().ToString() : first.error().ToString()));
      st.CountFailure(c->peer, now);
      if (!first && first.error().code() == ErrorCode::kParse) {
        refusal = PeerError{"bad-request", "malformed message: " + first.error().ToString(),
                            "is the client an mkeys member of the same version?"};
      }
    } else if (st.TooManyFailures(c->peer, now)) {
      refusal = PeerError{"too-many-failures",
                          "too many failed attempts from " + c->peer + "; refused for up to " +
                              std::to_string(st.options.failure_window_seconds) + " seconds",
                          "check the token and the manager address, then retry later"};
    } else if (first->type == MessageType::kJoinHello) {
      refusal = co_await HandleJoin(st, *c, *first, *ekm);
    } else if (first->type == MessageType::kMemberRequest) {
      refusal = co_await HandleMember(st, *c, *first);
    } else {
      refusal =
          PeerError{"bad-request",
                    "unexpected " + std::string(MessageTypeName(first->type)) + " message", ""};
    }
    if (refusal) {
      if (refusal->code != "too-many-failures") st.CountFailure(c->peer, now);
      st.Event("refused " + c->peer + ": " + refusal->message);
      (void)st.registry->LogEvent("join-refused", c->peer, refusal->code + ": " + refusal->message,
                                  now);
      const Frame error_frame = EncodeError(*refusal);
      (void)co_await WriteFrame(*c, error_frame);
    }
    c->Arm(2);
    co_await c->stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  c->Disarm();
  boost::system::error_code ignored;
  c->stream.lowest_layer().close(ignored);
  --st.connections;
}

asio::awaitable<void> AcceptLoop(ManagerState& st, tcp::acceptor& acceptor,
                                 asio::ssl::context& ctx) {
  while (acceptor.is_open()) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open()) co_return;
      continue;
    }
    std::string peer = "unknown";
    if (auto ep = socket.remote_endpoint(ec); !ec) {
      peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    if (st.connections >= st.options.max_connections) {
      st.Event("refused " + peer + ": too many open connections");
      socket.close(ec);
      continue;
    }
    auto c = std::make_shared<Connection>(std::move(socket), ctx);
    c->peer = peer;
    // Failed attempts are counted per address, not per source port.
    if (auto pos = peer.rfind(':'); pos != std::string::npos) c->peer = peer.substr(0, pos);
    asio::co_spawn(acceptor.get_executor(), HandleConnection(st, c), asio::detached);
  }
}

int AcceptAnyClientCert(int, X509_STORE_CTX*) {
  return 1;
}  // checked per request

}  // namespace

Result<void> Serve(const ServeOptions& options) {
  ManagerState st;
  st.options = options;
  MKEYS_ASSIGN_OR_RETURN(st.registry, Registry::Open(options.root));
  MKEYS_ASSIGN_OR_RETURN(st.info, st.registry->Info());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(options.root));
  st.machine.emplace(std::move(machine));
  MKEYS_ASSIGN_OR_RETURN(st.system, st.machine->TokenFor(kInstallerIdentity));
  {
    keystore::KeyStore store(*st.machine);
    MKEYS_ASSIGN_OR_RETURN(auto ca, store.Open(CaContainerName(st.info.name), st.system));
    if (!ca.signature) {
      return Error(ErrorCode::kCorrupt, "the array CA container holds no signature key")
          .On(CaContainerName(st.info.name));
    }
    MKEYS_ASSIGN_OR_RETURN(SecretBytes der, ca.signature->ToPkcs8());
    MKEYS_ASSIGN_OR_RETURN(st.ca_key, PrivateKeyFromPkcs8(der));
  }
  MKEYS_ASSIGN_OR_RETURN(st.ca_cert, CertFromPem(st.info.ca_cert_pem));
  MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(st.ca_key.get()));
  if (!ConstantTimeEquals(pin, st.info.pin)) {
    return Error(ErrorCode::kCorrupt, "the CA key in the store does not match the registry's pin")
        .On(CaContainerName(st.info.name));
  }
  MKEYS_ASSIGN_OR_RETURN(auto hp, internal::SplitHostPort(options.listen));

  try {
    // The TLS context outlives the io_context: coroutine frames still pending at shutdown are
    // destroyed with the io_context, and their streams use the context.
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    asio::io_context io(1);
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
    if (SSL_CTX_use_certificate(native, st.ca_cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(native, st.ca_key.get()) != 1) {
      ERR_clear_error();
      return Error(ErrorCode::kCrypto, "cannot use the array CA key for TLS");
    }
    // Ask for a member certificate (leave, sync) without requiring one (joins have none).
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, AcceptAnyClientCert);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(native, 0);

    boost::system::error_code ec;
    const auto address = asio::ip::make_address(hp.first, ec);
    if (ec) {
      return Error(ErrorCode::kInvalidArgument, "--listen needs an IP address: " + ec.message())
          .On(options.listen);
    }
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint(address, hp.second);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error(ErrorCode::kIo, "cannot listen: " + ec.message()).On(options.listen);
    }
    const std::uint16_t port = acceptor.local_endpoint().port();
    if (options.port_file) {
      const auto tmp = options.port_file->string() + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << "\n";
        if (!out) return Error(ErrorCode::kIo, "cannot write the port file").On(tmp);
      }
      std::error_code fec;
      std::filesystem::rename(tmp, *options.port_file, fec);
      if (fec) {
        return Error(ErrorCode::kIo, "cannot write the port file: " + fec.message())
            .On(options.port_file->string());
      }
    }
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& sec, int sig) {
      if (sec) return;
      st.Event(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      boost::system::error_code ignored;
      acceptor.close(ignored);
      io.stop();
    });
    st.Event("serving array " + st.info.name + " on " + hp.first + ":" + std::to_string(port) +
             ", key " + FormatFingerprint(st.info.pin));
    if (options.on_ready) options.on_ready(port);
    asio::co_spawn(io, AcceptLoop(st, acceptor, ctx), asio::detached);
    io.run();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, std::string("server failed: ") + e.what());
  }
  return Ok();
}

}  // namespace mkeys::arrayjoin
