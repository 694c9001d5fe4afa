// SPDX-License-Identifier: GPL-3.0-or-later
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <openssl/err.h>

#include "mkeys/arrayjoin/manager.hpp"
#include "tls.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

std::string SslErrorText() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<Ekm> ExportEkm(SSL* ssl) {
  Ekm ekm{};
  if (SSL_export_keying_material(ssl, ekm.data(), ekm.size(), kEkmLabel.data(), kEkmLabel.size(),
                                 nullptr, 0, 0) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kCrypto, "cannot export keying material from the TLS session");
  }
  return ekm;
}

Result<Digest> PeerPin(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return Error(ErrorCode::kNetwork, "the peer presented no certificate");
  }
  return SpkiPin(X509_get0_pubkey(cert));
}

Result<std::pair<std::string, std::uint16_t>> SplitHostPort(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close != std::string_view::npos && close + 1 == text.size()) {
      return std::make_pair(std::string(text.substr(1, close - 1)), kDefaultPort);
    }
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error(ErrorCode::kInvalidArgument, "expected [IPv6]:PORT").On(std::string(text));
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos && !text.empty()) {
      return std::make_pair(std::string(text), kDefaultPort);  // HOST: the default port
    }
    if (colon == std::string_view::npos || colon == 0) {
      return Error(ErrorCode::kInvalidArgument, "expected HOST:PORT").On(std::string(text));
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) {
    return Error(ErrorCode::kInvalidArgument, "the port must be a number from 0 to 65535")
        .On(std::string(text));
  }
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      return Error(ErrorCode::kInvalidArgument, "the port must be a number from 0 to 65535")
          .On(std::string(text));
    }
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) {
    return Error(ErrorCode::kInvalidArgument, "the port must be a number from 0 to 65535")
        .On(std::string(text));
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

TlsClient::~TlsClient() {
  if (ssl_) {
    SSL_shutdown(ssl_.get());
  }
  ssl_.reset();
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<TlsClient>> TlsClient::Connect(const std::string& host, std::uint16_t port,
                                                      int timeout_seconds,
                                                      const ClientCredential* credential) {
  std::unique_ptr<TlsClient> c(new TlsClient());
  c->peer_ = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res); rc != 0) {
    return Error(ErrorCode::kNetwork,
                 std::string("cannot resolve the manager: ") + gai_strerror(rc))
        .On(c->peer_);
  }
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr && c->fd_ < 0; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_seconds * 1000);
      if (rc == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        if (rc == 0) errno = ETIMEDOUT;
        rc = -1;
      }
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, flags);
    c->fd_ = fd;
  }
  freeaddrinfo(res);
  if (c->fd_ < 0) {
    return Error(ErrorCode::kNetwork, "cannot connect to the manager: " + last_error +
                                          " (is 'mkeys array serve' running there, and is the "
                                          "port reachable?)")
        .On(c->peer_);
  }
  timeval tv{timeout_seconds, 0};
  setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  c->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!c->ctx_ || SSL_CTX_set_min_proto_version(c->ctx_.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c->ctx_.get(), TLS1_3_VERSION) != 1) {
    return Error(ErrorCode::kCrypto, "cannot set up TLS 1.3: " + SslErrorText());
  }
  // The certificate is checked by pin (SHA-256 of its key) right after the handshake.
  SSL_CTX_set_verify(c->ctx_.get(), SSL_VERIFY_NONE, nullptr);
  if (credential != nullptr) {
    if (SSL_CTX_use_certificate(c->ctx_.get(), credential->cert) != 1 ||
        SSL_CTX_use_PrivateKey(c->ctx_.get(), credential->key) != 1) {
      return Error(ErrorCode::kCrypto, "cannot use the member certificate: " + SslErrorText());
    }
  }
  c->ssl_.reset(SSL_new(c->ctx_.get()));
  if (!c->ssl_ || SSL_set_fd(c->ssl_.get(), c->fd_) != 1) {
    return Error(ErrorCode::kCrypto, "cannot set up TLS: " + SslErrorText());
  }
  if (SSL_connect(c->ssl_.get()) != 1) {
    return Error(ErrorCode::kNetwork, "TLS handshake with the manager failed: " + SslErrorText() +
                                          " (is this port an mkeys array manager?)")
        .On(c->peer_);
  }
  MKEYS_ASSIGN_OR_RETURN(c->peer_pin_, PeerPin(c->ssl_.get()));
  MKEYS_ASSIGN_OR_RETURN(c->ekm_, ExportEkm(c->ssl_.get()));
  return c;
}

Result<void> TlsClient::SendRaw(std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    std::size_t n = 0;
    if (SSL_write_ex(ssl_.get(), bytes.data() + done, bytes.size() - done, &n) != 1) {
      return Error(ErrorCode::kNetwork, "sending to the manager failed: " + SslErrorText())
          .On(peer_);
    }
    done += n;
  }
  return Ok();
}

Result<void> TlsClient::Send(const Frame& frame) {
  MKEYS_ASSIGN_OR_RETURN(auto bytes, EncodeFrame(frame));
  return SendRaw(bytes);
}

Result<void> TlsClient::ReadExact(std::uint8_t* out, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    std::size_t got = 0;
    if (SSL_read_ex(ssl_.get(), out + done, n - done, &got) != 1) {
      const int err = SSL_get_error(ssl_.get(), 0);
      const bool timeout = (errno == EAGAIN || errno == EWOULDBLOCK) && err == SSL_ERROR_SYSCALL;
      ERR_clear_error();
      return Error(ErrorCode::kNetwork,
                   timeout ? "the manager did not answer in time"
                           : "the manager closed the connection (it may have stopped or "
                             "refused the request; its log says why)")
          .On(peer_);
    }
    done += got;
  }
  return Ok();
}

Result<Frame> TlsClient::Receive(int timeout_seconds) {
  timeval tv{timeout_seconds, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::array<std::uint8_t, kFrameHeaderSize> header{};
  MKEYS_TRY(ReadExact(header.data(), header.size()));
  MKEYS_ASSIGN_OR_RETURN(FrameHeader h, ParseFrameHeader(header));
  std::vector<std::uint8_t> body(h.body_length);
  MKEYS_TRY(ReadExact(body.data(), body.size()));
  MKEYS_ASSIGN_OR_RETURN(Frame frame, ParseFrameBody(h, body));
  if (frame.type == MessageType::kError) {
    MKEYS_ASSIGN_OR_RETURN(PeerError e, DecodeError(frame));
    refusal_code_ = e.code;
    std::string text = e.message;
    if (!e.hint.empty()) text += " (hint: " + e.hint + ")";
    const RefusalAdvice advice = AdviceFor(e.code);
    text +=
        std::string(advice.retryable ? "; retryable: " : "; final: ") + std::string(advice.text);
    return Error(ErrorCode::kPeerRefused, "the manager refused [" + e.code + "]: " + text)
        .On(peer_);
  }
  return frame;
}

}  // namespace mkeys::arrayjoin::internal
