// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A small etcd v3 client over the gRPC gateway's JSON API (POST /v3/kv/range, /v3/kv/txn,
// /v3/maintenance/status), HTTP/1.1 with Boost.Beast, over TLS 1.2+ when the access says so
// (etcd's certificate checked against the given CA and the endpoint's host name or IP; an
// optional client certificate), with etcd v3 authentication when it names a user (a token from
// /v3/auth/authenticate in the Authorization header, fetched again once when etcd calls it
// invalid). Keys and values are bytes (base64 on the wire). Each call tries the endpoints in
// turn: a refused connection, a timeout or an etcd without a leader moves on to the next one; a
// certificate that does not verify or a refused password stops at once.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/core/secret_bytes.hpp"

namespace mkeys::arrayjoin::internal {

struct EtcdKv {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
};

// One condition of a transaction.
struct EtcdCompare {
  std::string key;
  // "MOD" (mod_revision == value), "CREATE" (create_revision == value; 0: the key is absent)
  std::string target;
  std::int64_t revision = 0;
};

struct EtcdOp {
  enum class Kind : std::uint8_t { kPut, kDelete } kind = Kind::kPut;
  std::string key;
  std::string value;
  std::int64_t lease = 0;  // a put attached to this lease (deleted when it ends); 0: none
};
inline EtcdOp Put(std::string key, std::string value, std::int64_t lease = 0) {
  return {EtcdOp::Kind::kPut, std::move(key), std::move(value), lease};
}
inline EtcdOp Delete(std::string key) {
  return {EtcdOp::Kind::kDelete, std::move(key), {}};
}

std::string Base64Encode(std::string_view bytes);

class EtcdClient final {
 public:
  explicit EtcdClient(std::vector<std::string> endpoints, EtcdAccess access = {},
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(3000))
      : endpoints_(std::move(endpoints)), access_(std::move(access)), timeout_(timeout) {}

  Result<std::optional<EtcdKv>> Get(std::string_view key);
  // Every key under `prefix`, sorted by key (or by creation, newest first, with `newest_first`),
  // at most `limit` (0: all).
  Result<std::vector<EtcdKv>> List(std::string_view prefix, std::size_t limit = 0,
                                   bool newest_first = false);
  // All compares hold -> all ops applied atomically, true; else nothing applied, false.
  Result<bool> Txn(const std::vector<EtcdCompare>& compares, const std::vector<EtcdOp>& ops);
  // A lease of `ttl_seconds` (its id), and its end (its keys are deleted with it). Revoking a
  // lease etcd no longer knows is not an error.
  Result<std::int64_t> GrantLease(std::int64_t ttl_seconds);
  Result<void> RevokeLease(std::int64_t id);
  // One POST to one endpoint (tests of health): the parsed reply.
  Result<nlohmann::json> CallOne(const std::string& endpoint, std::string_view path,
                                 const nlohmann::json& body);
  // A POST to the first endpoint that answers.
  Result<nlohmann::json> Call(std::string_view path, const nlohmann::json& body);
  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  struct Reply {
    unsigned status = 0;
    std::string body;
  };
  // One HTTP exchange (TLS when configured); kCrypto when etcd's certificate does not verify.
  Result<Reply> Exchange(const std::string& endpoint, std::string_view path,
                         const std::string& body, const std::string& token);
  Result<void> Authenticate(const std::string& endpoint);
  Result<SecretBytes> Password() const;

  std::vector<std::string> endpoints_;
  EtcdAccess access_;
  std::chrono::milliseconds timeout_;
  std::string token_;  // etcd auth token (with a user), empty before the first authentication
  std::size_t preferred_ = 0;  // the endpoint that answered last
};

}  // namespace mkeys::arrayjoin::internal
