// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// TLS 1.3 pieces both sides share: contexts, the exported keying material, and a blocking
// client connection with timeouts (the member side).

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/arrayjoin/wire.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::arrayjoin::internal {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

Result<Ekm> ExportEkm(SSL* ssl);
// The pin of the peer's certificate key (nullopt-like error if the peer sent none).
Result<Digest> PeerPin(SSL* ssl);

// A client credential for mutual TLS (member certificate and key).
struct ClientCredential {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
};

class TlsClient final {
 public:
  // Connects to host:port with a TLS 1.3 handshake. The manager's certificate is not checked
  // here: the caller compares peer_pin() with the pin it expects before sending any secret.
  static Result<std::unique_ptr<TlsClient>> Connect(const std::string& host, std::uint16_t port,
                                                    int timeout_seconds,
                                                    const ClientCredential* credential);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  const Digest& peer_pin() const { return peer_pin_; }
  const Ekm& ekm() const { return ekm_; }
  const std::string& peer() const { return peer_; }
  // Writes raw bytes (tests use this to send garbage or replay a recorded frame).
  Result<void> SendRaw(std::span<const std::uint8_t> bytes);
  Result<void> Send(const Frame& frame);
  // The next frame; an Error frame from the peer becomes kPeerRefused with its message and hint.
  Result<Frame> Receive(int timeout_seconds);
  // The code of the last Error frame the peer sent ("" if none): AdviceFor(code) tells whether
  // the refusal is final.
  const std::string& refusal_code() const { return refusal_code_; }

 private:
  TlsClient() = default;
  Result<void> ReadExact(std::uint8_t* out, std::size_t n);
  int fd_ = -1;
  SslCtxPtr ctx_;
  SslPtr ssl_;
  Digest peer_pin_{};
  Ekm ekm_{};
  std::string peer_;
  std::string refusal_code_;
};

// "host:port" -> parts; IPv6 as "[addr]:port".
Result<std::pair<std::string, std::uint16_t>> SplitHostPort(std::string_view text);

}  // namespace mkeys::arrayjoin::internal
