// SPDX-License-Identifier: GPL-3.0-or-later
// etcd v3 through its gRPC gateway: JSON over HTTP/1.1 (Boost.Beast), one connection per call,
// each step bounded by the client's timeout.
#include "internal/etcd_client.hpp"

#include <openssl/evp.h>

// Asio first, as asio_includes.hpp configures it; then Beast.
#include "asio_includes.hpp"
// (keep this order)
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

std::int64_t Int(const nlohmann::json& j, const char* field) {
  if (!j.contains(field)) return 0;
  const auto& v = j[field];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

Result<EtcdKv> ReadKv(const nlohmann::json& j) {
  EtcdKv kv;
  MKEYS_ASSIGN_OR_RETURN(kv.key, Base64Decode(j.value("key", "")));
  MKEYS_ASSIGN_OR_RETURN(kv.value, Base64Decode(j.value("value", "")));
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  return kv;
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

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Error(ErrorCode::kCorrupt, "etcd sent base64 of a length that is not a multiple of 4");
  }
  std::string out(3 * (text.size() / 4) + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return Error(ErrorCode::kCorrupt, "etcd sent invalid base64");
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

Result<nlohmann::json> EtcdClient::CallOne(const std::string& endpoint, std::string_view path,
                                           const nlohmann::json& body) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "an etcd endpoint is HOST:PORT").On(endpoint);
  }
  const std::string host = endpoint.substr(0, colon);
  const std::string port = endpoint.substr(colon + 1);
  asio::io_context io(1);
  beast::tcp_stream stream(io);
  auto unreachable = [&](const std::string& what, boost::system::error_code ec) {
    return Error(ErrorCode::kNetwork, "etcd " + what + ": " + ec.message()).On(endpoint);
  };
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto addresses = resolver.resolve(host, port, ec);
  if (ec) return unreachable("cannot resolve", ec);
  stream.expires_after(timeout_);
  ec = RunStep(io, [&](auto handler) { stream.async_connect(addresses, handler); });
  if (ec) return unreachable("does not answer", ec);
  http::request<http::string_body> req{http::verb::post, std::string(path), 11};
  req.set(http::field::host, endpoint);
  req.set(http::field::content_type, "application/json");
  req.body() = body.dump();
  req.prepare_payload();
  stream.expires_after(timeout_);
  ec = RunStep(io, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return unreachable("cannot be written to", ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  stream.expires_after(timeout_);
  ec = RunStep(io, [&](auto handler) { http::async_read(stream, buffer, res, handler); });
  if (ec) return unreachable("sent no answer", ec);
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto doc = nlohmann::json::parse(res.body(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error(ErrorCode::kCorrupt, "etcd sent a reply that is not JSON (HTTP " +
                                          std::to_string(res.result_int()) + ")")
        .On(endpoint + std::string(path));
  }
  if (res.result_int() != 200 || doc.contains("error")) {
    const std::string message = doc.value("message", doc.value("error", std::string("error")));
    // No leader, a stopped member, a timeout inside etcd: another endpoint may do better.
    return Error(ErrorCode::kNetwork,
                 "etcd refused: " + message + " (HTTP " + std::to_string(res.result_int()) + ")")
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
  }
  return Error(ErrorCode::kNetwork, "no etcd endpoint answered (" +
                                        std::to_string(endpoints_.size()) +
                                        " tried); last: " + last->ToString());
}

Result<std::optional<EtcdKv>> EtcdClient::Get(std::string_view key) {
  MKEYS_ASSIGN_OR_RETURN(auto doc, Call("/v3/kv/range", {{"key", Base64Encode(key)}}));
  if (!doc.contains("kvs") || !doc["kvs"].is_array() || doc["kvs"].empty()) {
    return std::optional<EtcdKv>();
  }
  MKEYS_ASSIGN_OR_RETURN(auto kv, ReadKv(doc["kvs"][0]));
  return std::optional<EtcdKv>(std::move(kv));
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
  std::vector<EtcdKv> out;
  if (doc.contains("kvs") && doc["kvs"].is_array()) {
    for (const auto& j : doc["kvs"]) {
      MKEYS_ASSIGN_OR_RETURN(auto kv, ReadKv(j));
      out.push_back(std::move(kv));
    }
  }
  return out;
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
      success.push_back(
          {{"request_put", {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}}}});
    } else {
      success.push_back({{"request_delete_range", {{"key", Base64Encode(op.key)}}}});
    }
  }
  MKEYS_ASSIGN_OR_RETURN(auto doc,
                         Call("/v3/kv/txn", {{"compare", compare}, {"success", success}}));
  return doc.value("succeeded", false);
}

}  // namespace mkeys::arrayjoin::internal
