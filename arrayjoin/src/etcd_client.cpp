// SPDX-License-Identifier: GPL-3.0-or-later
// etcd v3 through its gRPC gateway: JSON over HTTP/1.1 (Boost.Beast), one connection per call,
// each step bounded by the client's timeout.
#include "internal/etcd_client.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>

#include "internal/etcd_json.hpp"
#include "mkeys/core/files.hpp"

// Asio first, as asio_includes.hpp configures it; then Beast.
#include "asio_includes.hpp"
// (keep this order)
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mkeys::arrayjoin::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// The key just after every key starting with `prefix` (etcd's range_end for a prefix).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

// Runs one asynchronous step on `io` to completion (the stream's expiry cancels it).
template <typename Start>
boost::system::error_code RunStep(asio::io_context& io, Start&& start) {
  boost::system::error_code result = asio::error::would_block;
  start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<EtcdClient::Reply> EtcdClient::Exchange(const std::string& endpoint, std::string_view path,
                                               const std::string& body, const std::string& token) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "an etcd endpoint is HOST:PORT").On(endpoint);
  }
  std::string host = endpoint.substr(0, colon);
  const std::string port = endpoint.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  asio::io_context io(1);
  auto unreachable = [&](const std::string& what, boost::system::error_code ec) {
    return Error(ErrorCode::kNetwork, "etcd " + what + ": " + ec.message()).On(endpoint);
  };
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto addresses = resolver.resolve(host, port, ec);
  if (ec) return unreachable("cannot resolve", ec);

  http::request<http::string_body> req{http::verb::post, std::string(path), 11};
  req.set(http::field::host, endpoint);
  req.set(http::field::content_type, "application/json");
  if (!token.empty()) req.set(http::field::authorization, token);
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> res;

  // The same exchange over a plain or a TLS stream.
  auto talk = [&](auto& stream, auto& lowest) -> Result<void> {
    lowest.expires_after(timeout_);
    ec = RunStep(io, [&](auto handler) { http::async_write(stream, req, handler); });
    if (ec) return unreachable("cannot be written to", ec);
    lowest.expires_after(timeout_);
    ec = RunStep(io, [&](auto handler) { http::async_read(stream, buffer, res, handler); });
    if (ec == asio::error::connection_reset && !access_.tls) {
      // etcd serving TLS only drops a plain HTTP request.
      return Error(ErrorCode::kNetwork,
                   "etcd sent no answer: " + ec.message() +
                       " (if etcd speaks only TLS, write the registry as etcds://HOST:PORT "
                       "with --etcd-ca FILE)")
          .On(endpoint);
    }
    if (ec) return unreachable("sent no answer", ec);
    return Ok();
  };

  if (!access_.tls) {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout_);
    ec = RunStep(io, [&](auto handler) { stream.async_connect(addresses, handler); });
    if (ec) return unreachable("does not answer", ec);
    MKEYS_TRY(talk(stream, stream));
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  } else {
    namespace ssl = asio::ssl;
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(ssl::verify_peer);
    auto load_error = [&](const char* option, const std::string& file) {
      return Error(ErrorCode::kCrypto,
                   std::string("cannot load ") + option + " " + file + ": " + ec.message());
    };
    ctx.load_verify_file(access_.ca_file, ec);
    if (ec) return load_error("--etcd-ca", access_.ca_file);
    if (!access_.cert_file.empty()) {
      ctx.use_certificate_chain_file(access_.cert_file, ec);
      if (ec) return load_error("--etcd-cert", access_.cert_file);
      ctx.use_private_key_file(access_.key_file, ssl::context::pem, ec);
      if (ec) return load_error("--etcd-key", access_.key_file);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    // etcd's certificate must name the endpoint: its IP address, or its host name (and SNI).
    X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
    boost::system::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
      SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    }
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(timeout_);
    ec = RunStep(io, [&](auto handler) { lowest.async_connect(addresses, handler); });
    if (ec) return unreachable("does not answer", ec);
    lowest.expires_after(timeout_);
    ec = RunStep(io,
                 [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
      const long verify = SSL_get_verify_result(stream.native_handle());
      if (verify != X509_V_OK) {
        return Error(ErrorCode::kCrypto, "etcd's certificate did not verify against --etcd-ca " +
                                             access_.ca_file + ": " +
                                             X509_verify_cert_error_string(verify))
            .On(endpoint);
      }
      if (ec.category() == asio::error::get_ssl_category()) {
        // Not a timeout or a reset: the TLS handshake itself failed (a plain HTTP etcd, an
        // old protocol, a client certificate etcd does not accept).
        return Error(ErrorCode::kCrypto,
                     "the TLS handshake with etcd failed (is this endpoint https, and does etcd "
                     "accept the client certificate?): " +
                         ec.message())
            .On(endpoint);
      }
      return unreachable("failed the TLS handshake", ec);
    }
    MKEYS_TRY(talk(stream, lowest));
    lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
  return Reply{res.result_int(), std::move(res.body())};
}

Result<SecretBytes> EtcdClient::Password() const {
  if (!access_.password_file.empty()) {
    MKEYS_ASSIGN_OR_RETURN(auto bytes, files::ReadFile(access_.password_file, 4096));
    SecretBytes out{std::span<const std::uint8_t>(bytes)};
    OPENSSL_cleanse(bytes.data(), bytes.size());
    std::size_t n = out.size();
    // A trailing newline (echo > file) is not part of the password.
    while (n > 0 && (out.RevealSecret()[n - 1] == '\n' || out.RevealSecret()[n - 1] == '\r')) --n;
    return SecretBytes(out.RevealSecret().first(n));
  }
  if (const char* env = std::getenv("MKEYS_ETCD_PASSWORD"); env != nullptr && *env != '\0') {
    return SecretBytes::FromString(env);
  }
  return Error(ErrorCode::kNotFound,
               "--etcd-user " + access_.user +
                   " needs a password: give --etcd-password-file FILE or set MKEYS_ETCD_PASSWORD");
}

Result<void> EtcdClient::Authenticate(const std::string& endpoint) {
  MKEYS_ASSIGN_OR_RETURN(SecretBytes password, Password());
  const auto pw = password.RevealSecret();
  std::string body =
      nlohmann::json({{"name", access_.user}, {"password", std::string(pw.begin(), pw.end())}})
          .dump();
  auto reply = Exchange(endpoint, "/v3/auth/authenticate", body, {});
  OPENSSL_cleanse(body.data(), body.size());
  if (!reply) return std::move(reply).error();
  auto doc = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status == 200 && doc.is_object() && doc.contains("token") &&
      doc["token"].is_string()) {
    token_ = doc["token"].get<std::string>();
    return Ok();
  }
  const std::string message = doc.is_object() ? EtcdErrorText(doc) : std::string();
  if (message.find("authentication failed") != std::string::npos) {
    return Error(ErrorCode::kPeerRefused,
                 "etcd refused the user " + access_.user +
                     ": wrong user name or password (the password comes from " +
                     (access_.password_file.empty() ? std::string("MKEYS_ETCD_PASSWORD")
                                                    : access_.password_file) +
                     ")")
        .On(endpoint);
  }
  if (message.find("authentication is not enabled") != std::string::npos) {
    return Error(ErrorCode::kPeerRefused,
                 "etcd has authentication disabled, yet --etcd-user " + access_.user +
                     " was given (drop --etcd-user, or enable auth in etcd)")
        .On(endpoint);
  }
  return Error(ErrorCode::kNetwork, "etcd did not authenticate " + access_.user + ": " +
                                        (message.empty() ? "no token" : message) + " (HTTP " +
                                        std::to_string(reply->status) + ")")
      .On(endpoint);
}

Result<nlohmann::json> EtcdClient::CallOne(const std::string& endpoint, std::string_view path,
                                           const nlohmann::json& body) {
  const std::string text = body.dump();
  if (!access_.user.empty() && token_.empty()) MKEYS_TRY(Authenticate(endpoint));
  MKEYS_ASSIGN_OR_RETURN(Reply res, Exchange(endpoint, path, text, token_));
  auto doc = nlohmann::json::parse(res.body, nullptr, false);
  auto message = [&] { return doc.is_object() ? EtcdErrorText(doc) : std::string(); };
  // A token that expired, or that another etcd member does not know (simple tokens are per
  // member): authenticate again, once.
  if (!access_.user.empty() && res.status != 200 &&
      message().find("invalid auth token") != std::string::npos) {
    token_.clear();
    MKEYS_TRY(Authenticate(endpoint));
    MKEYS_ASSIGN_OR_RETURN(res, Exchange(endpoint, path, text, token_));
    doc = nlohmann::json::parse(res.body, nullptr, false);
  }
  if (doc.is_discarded() || !doc.is_object()) {
    if (res.status == 400 && res.body.find("HTTPS server") != std::string::npos) {
      return Error(ErrorCode::kUnsupported,
                   "etcd speaks only TLS here: write the registry as etcds://HOST:PORT with "
                   "--etcd-ca FILE")
          .On(endpoint);
    }
    return Error(ErrorCode::kCorrupt,
                 "etcd sent a reply that is not JSON (HTTP " + std::to_string(res.status) + ")")
        .On(endpoint + std::string(path));
  }
  if (res.status != 200 || doc.contains("error")) {
    const std::string m = message();
    if (m.find("user name is empty") != std::string::npos ||
        m.find("permission denied") != std::string::npos) {
      return Error(ErrorCode::kPeerRefused,
                   "etcd requires authentication (" + m +
                       "): give --etcd-user NAME with a user allowed to use the array's keys")
          .On(endpoint);
    }
    // No leader, a stopped member, a timeout inside etcd: another endpoint may do better.
    return Error(ErrorCode::kNetwork,
                 "etcd refused: " + m + " (HTTP " + std::to_string(res.status) + ")")
        .On(endpoint + std::string(path));
  }
  return doc;
}

Result<nlohmann::json> EtcdClient::Call(std::string_view path, const nlohmann::json& body) {
  if (endpoints_.empty()) return Error(ErrorCode::kInvalidArgument, "no etcd endpoints");
  std::optional<Error> last;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    const std::size_t at = (preferred_ + i) % endpoints_.size();
    auto r = CallOne(endpoints_[at], path, body);
    if (r) {
      preferred_ = at;
      return r;
    }
    last = std::move(r).error();
    // A certificate, a password or a scheme that is wrong is wrong on every endpoint.
    if (last->code() != ErrorCode::kNetwork && last->code() != ErrorCode::kCorrupt) return *last;
  }
  return Error(ErrorCode::kNetwork, "no etcd endpoint answered (" +
                                        std::to_string(endpoints_.size()) +
                                        " tried); last: " + last->ToString());
}

Result<std::optional<EtcdKv>> EtcdClient::Get(std::string_view key) {
  MKEYS_ASSIGN_OR_RETURN(auto doc, Call("/v3/kv/range", {{"key", Base64Encode(key)}}));
  MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeRangeReply(doc));
  if (reply.kvs.empty()) return std::optional<EtcdKv>();
  return std::optional<EtcdKv>(std::move(reply.kvs.front()));
}

Result<std::vector<EtcdKv>> EtcdClient::List(std::string_view prefix, std::size_t limit,
                                             bool newest_first) {
  nlohmann::json body = {{"key", Base64Encode(prefix)},
                         {"range_end", Base64Encode(PrefixEnd(std::string(prefix)))}};
  if (limit > 0) body["limit"] = std::to_string(limit);
  if (newest_first) {
    body["sort_order"] = "DESCEND";
    body["sort_target"] = "CREATE";
  }
  MKEYS_ASSIGN_OR_RETURN(auto doc, Call("/v3/kv/range", body));
  MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeRangeReply(doc));
  return std::move(reply.kvs);
}

Result<bool> EtcdClient::Txn(const std::vector<EtcdCompare>& compares,
                             const std::vector<EtcdOp>& ops) {
  nlohmann::json compare = nlohmann::json::array();
  for (const auto& c : compares) {
    nlohmann::json j = {{"key", Base64Encode(c.key)}, {"target", c.target}, {"result", "EQUAL"}};
    j[c.target == "MOD" ? "mod_revision" : "create_revision"] = std::to_string(c.revision);
    compare.push_back(std::move(j));
  }
  nlohmann::json success = nlohmann::json::array();
  for (const auto& op : ops) {
    if (op.kind == EtcdOp::Kind::kPut) {
      nlohmann::json put = {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      success.push_back({{"request_put", std::move(put)}});
    } else {
      success.push_back({{"request_delete_range", {{"key", Base64Encode(op.key)}}}});
    }
  }
  MKEYS_ASSIGN_OR_RETURN(auto doc,
                         Call("/v3/kv/txn", {{"compare", compare}, {"success", success}}));
  MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeTxnReply(doc));
  return reply.succeeded;
}

Result<std::int64_t> EtcdClient::GrantLease(std::int64_t ttl_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto doc, Call("/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}}));
  MKEYS_ASSIGN_OR_RETURN(auto reply, DecodeLeaseReply(doc));
  return reply.id;
}

Result<void> EtcdClient::RevokeLease(std::int64_t id) {
  auto r = Call("/v3/lease/revoke", {{"ID", std::to_string(id)}});
  if (!r && r.error().ToString().find("requested lease not found") == std::string::npos) {
    return std::move(r).error();
  }
  return Ok();
}

}  // namespace mkeys::arrayjoin::internal
