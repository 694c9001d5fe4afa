// SPDX-License-Identifier: GPL-3.0-or-later
// The manager's TLS 1.3 server: Boost.Asio coroutines on one thread, OpenSSL underneath.
// GCC 12 reports a false -Wmismatched-new-delete on Asio 1.74's coroutine frames, whose
// class-specific operator new/delete pair is correct (it recycles frames in a thread cache).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <openssl/err.h>
#include <unistd.h>

#include "internal/server_state.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "tls.hpp"

namespace mkeys::arrayjoin {
namespace internal {

void Connection::Arm(int seconds) {
  timer.expires_after(std::chrono::seconds(seconds));
  timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) {
      self->timed_out = true;
      self->Close();
    }
  });
}

void Connection::Close() {
  boost::system::error_code ignored;
  stream.lowest_layer().close(ignored);
}

void ManagerState::Event(const std::string& line) const {
  if (options.on_event) {
    options.on_event(line);
  } else {
    Logger("arrayjoin")->info("{}", line);
  }
}

bool ManagerState::Authenticate(Connection& c) {
  if (c.authed) return true;
  gate.LeavePending(c);
  if (authenticated >= options.max_connections) return false;
  ++authenticated;
  c.authed = true;
  return true;
}

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

namespace {

PeerError TooManyFailures(const ManagerState& st, const std::string& peer, std::int64_t retry_at,
                          std::int64_t now) {
  return {"too-many-failures",
          "too many failed authentications from " + peer + " (" +
              std::to_string(st.options.max_failures) + " within " +
              std::to_string(st.options.failure_window_seconds) +
              " s); joins from it are refused until " + FormatTime(retry_at) + " (in " +
              std::to_string(std::max<std::int64_t>(0, retry_at - now)) + " s)",
          "check the token and the manager address, then retry after that time; members "
          "presenting their certificate are not affected"};
}

// Sends a refusal, counts it when it is a failed authentication, and logs it.
asio::awaitable<void> Refuse(ManagerState& st, Connection& c, const PeerError& refusal,
                             std::int64_t now) {
  if (CountsAsFailure(refusal.code)) {
    const AddressLimit limit = st.gate.CountFailure(c.peer, now);
    (void)st.registry->SaveAddressLimit(limit);
  }
  st.Event("refused " + c.peer + ": " + refusal.message);
  (void)st.registry->LogEvent("join-refused", c.peer, refusal.code + ": " + refusal.message, now);
  const Frame error_frame = EncodeError(refusal);
  (void)co_await WriteFrame(c, error_frame);
}

// After the handshake: the first message decides what the client is.
asio::awaitable<std::optional<PeerError>> Dispatch(ManagerState& st, Connection& c,
                                                   std::int64_t now) {
  const PeerMember peer = CheckPeerMember(st, c.stream.native_handle());
  // A valid member certificate is past every address limit and out of the pending pool.
  if (peer.valid() && !st.Authenticate(c)) {
    co_return PeerError{"internal", "the manager is busy with too many connections", ""};
  }
  auto ekm = ExportEkm(c.stream.native_handle());
  auto first = co_await ReadFrame(c);
  if (!first || !ekm) {
    const std::string why = first ? ekm.error().ToString() : first.error().ToString();
    if (first || first.error().code() != ErrorCode::kParse) {
      // Closed before its first message: a plain connect, a scan, a health check.
      Logger("arrayjoin")->debug("{} closed before its first message: {}", c.peer, why);
      co_return std::nullopt;
    }
    co_return PeerError{"bad-request", "malformed message: " + first.error().ToString(),
                        "is the client an mkeys member of the same version?"};
  }
  if (first->type == MessageType::kMemberRequest)
    co_return co_await HandleMember(st, c, *first, peer);
  if (first->type != MessageType::kJoinHello) {
    co_return PeerError{"bad-request",
                        "unexpected " + std::string(MessageTypeName(first->type)) + " message", ""};
  }
  if (!peer.valid()) {
    if (const std::int64_t retry_at = st.gate.RetryAt(c.peer, now)) {
      co_return TooManyFailures(st, c.peer, retry_at, now);
    }
  }
  co_return co_await HandleJoin(st, c, *first, *ekm, peer);
}

asio::awaitable<void> HandleConnection(ManagerState& st, std::shared_ptr<Connection> c) {
  c->Arm(st.options.handshake_timeout_seconds);
  boost::system::error_code ec;
  co_await c->stream.async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(asio::use_awaitable, ec));
  const std::int64_t now = NowSeconds();
  if (ec) {
    if (c->evicted) {
      Logger("arrayjoin")->debug("closed a waiting connection from {}: pool full", c->peer);
    } else {
      st.Event("refused " + c->peer + ": TLS handshake failed (" +
               (c->timed_out ? std::string("timed out") : ec.message()) + ")");
    }
  } else {
    auto refusal = co_await Dispatch(st, *c, now);
    if (refusal) co_await Refuse(st, *c, *refusal, now);
    c->Arm(2);
    co_await c->stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  c->Disarm();
  c->Close();
  st.gate.LeavePending(*c);
  if (c->authed) --st.authenticated;
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
    auto c = std::make_shared<Connection>(std::move(socket), ctx);
    c->peer = "unknown";
    if (auto ep = c->stream.lowest_layer().remote_endpoint(ec); !ec) {
      c->peer = ep.address().to_string();
    }
    st.gate.AddPending(c);
    asio::co_spawn(acceptor.get_executor(), HandleConnection(st, c), asio::detached);
  }
}

int AcceptAnyClientCert(int, X509_STORE_CTX*) {
  return 1;
}  // checked per request

Result<void> LoadManager(ManagerState& st) {
  MKEYS_ASSIGN_OR_RETURN(st.registry, Registry::Open(st.options.root));
  MKEYS_ASSIGN_OR_RETURN(st.info, st.registry->Info());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(st.options.root));
  st.machine.emplace(std::move(machine));
  MKEYS_ASSIGN_OR_RETURN(st.system, st.machine->TokenFor(kInstallerIdentity));
  keystore::KeyStore store(*st.machine);
  MKEYS_ASSIGN_OR_RETURN(auto ca, store.Open(CaContainerName(st.info.name), st.system));
  if (!ca.signature) {
    return Error(ErrorCode::kCorrupt, "the array CA container holds no signature key")
        .On(CaContainerName(st.info.name));
  }
  MKEYS_ASSIGN_OR_RETURN(SecretBytes der, ca.signature->ToPkcs8());
  MKEYS_ASSIGN_OR_RETURN(st.ca_key, PrivateKeyFromPkcs8(der));
  MKEYS_ASSIGN_OR_RETURN(st.ca_cert, CertFromPem(st.info.ca_cert_pem));
  MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(st.ca_key.get()));
  if (!ConstantTimeEquals(pin, st.info.pin)) {
    return Error(ErrorCode::kCorrupt, "the CA key in the store does not match the registry's pin")
        .On(CaContainerName(st.info.name));
  }
  return Ok();
}

Result<void> ConfigureTls(ManagerState& st, asio::ssl::context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  if (SSL_CTX_use_certificate(native, st.ca_cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(native, st.ca_key.get()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kCrypto, "cannot use the array CA key for TLS");
  }
  // Ask for a member certificate (leave, sync, re-join) without requiring one (joins have none).
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, AcceptAnyClientCert);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(native, 0);
  return Ok();
}

Result<void> Listen(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port,
                    const std::string& listen) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return Error(ErrorCode::kInvalidArgument, "--listen needs an IP address: " + ec.message())
        .On(listen);
  }
  const tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot listen: " + ec.message()).On(listen);
  return Ok();
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// Where members should dial: --advertise, else the listen address (the host name for a
// wildcard address).
std::vector<std::string> Endpoints(const ServeOptions& o, const std::string& host,
                                   std::uint16_t port) {
  if (!o.advertise.empty()) return o.advertise;
  const bool wildcard = host == "0.0.0.0" || host == "::";
  const bool v6 = host.find(':') != std::string::npos;
  const std::string shown = wildcard ? HostName() : (v6 ? "[" + host + "]" : host);
  return {shown + ":" + std::to_string(port)};
}

Result<void> Announce(ManagerState& st, const std::string& host, std::uint16_t port) {
  st.endpoints = Endpoints(st.options, host, port);
  if (st.endpoints.size() > kMaxEndpoints) st.endpoints.resize(kMaxEndpoints);
  ServeRecord record;
  record.endpoints = st.endpoints;
  record.max_failures = st.options.max_failures;
  record.failure_window = st.options.failure_window_seconds;
  record.started_at = NowSeconds();
  record.pid = ::getpid();
  MKEYS_TRY(st.registry->ClearAddressLimits());
  MKEYS_TRY(st.registry->SaveServeRecord(record));
  if (st.options.port_file) {
    const std::string text = std::to_string(port) + "\n";
    MKEYS_TRY(files::WriteFileAtomic(
        *st.options.port_file,
        std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), 0644));
  }
  return Ok();
}

}  // namespace
}  // namespace internal

Result<void> Serve(const ServeOptions& options) {
  using namespace internal;
  ManagerState st(options);
  MKEYS_TRY(LoadManager(st));
  MKEYS_ASSIGN_OR_RETURN(auto hp, SplitHostPort(options.listen));
  try {
    // The TLS context outlives the io_context: coroutine frames still pending at shutdown are
    // destroyed with the io_context, and their streams use the context.
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    asio::io_context io(1);
    MKEYS_TRY(ConfigureTls(st, ctx));
    tcp::acceptor acceptor(io);
    MKEYS_TRY(Listen(acceptor, hp.first, hp.second, options.listen));
    const std::uint16_t port = acceptor.local_endpoint().port();
    MKEYS_TRY(Announce(st, hp.first, port));
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& sec, int sig) {
      if (sec) return;
      st.Event(std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      boost::system::error_code ignored;
      acceptor.close(ignored);
      io.stop();
    });
    st.Event("serving array " + st.info.name + " on " + hp.first + ":" + std::to_string(port) +
             " (members dial " + st.endpoints.front() + "), key " + FormatFingerprint(st.info.pin) +
             "; failure limit " + std::to_string(options.max_failures) + " per address within " +
             std::to_string(options.failure_window_seconds) + " s");
    if (options.on_ready) options.on_ready(port);
    asio::co_spawn(io, AcceptLoop(st, acceptor, ctx), asio::detached);
    io.run();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, std::string("server failed: ") + e.what());
  }
  return Ok();
}

}  // namespace mkeys::arrayjoin
