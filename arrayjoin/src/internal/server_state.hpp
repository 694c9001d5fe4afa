// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The manager server's shared state and connection type (private to server*.cpp).

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio_includes.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::arrayjoin::internal {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SslStream = asio::ssl::stream<tcp::socket>;

struct Connection : std::enable_shared_from_this<Connection> {
  Connection(tcp::socket socket, asio::ssl::context& ctx)
      : stream(std::move(socket), ctx), timer(stream.get_executor()) {}
  SslStream stream;
  asio::steady_timer timer;
  std::string peer;  // the address alone: limits are per address, not per source port
  bool timed_out = false;
  bool evicted = false;  // closed to make room in the pre-handshake pool
  bool pending = true;   // not yet authenticated (handshake, or before its first message)
  bool authed = false;   // counted in ManagerState::authenticated

  // Closes the socket if the current step takes longer than `seconds`.
  void Arm(int seconds);
  void Disarm() { timer.cancel(); }
  void Close();
};

// Failure limits per address, and the pool of connections that have not authenticated yet.
class AddressGate final {
 public:
  explicit AddressGate(const ServeOptions& options) : options_(options) {}
  // 0 when `address` may try to authenticate now, else the time its refusal ends.
  std::int64_t RetryAt(const std::string& address, std::int64_t now);
  // One failed authentication; returns the address's state to persist.
  AddressLimit CountFailure(const std::string& address, std::int64_t now);
  // A new unauthenticated connection; closes the oldest waiting ones when a pool is full.
  void AddPending(const std::shared_ptr<Connection>& c);
  // The connection authenticated or ended.
  void LeavePending(Connection& c);
  std::size_t pending() const { return pending_total_; }

 private:
  void EvictOldest(std::list<std::weak_ptr<Connection>>& list);
  const ServeOptions& options_;
  std::map<std::string, std::deque<std::int64_t>> failures_;
  std::map<std::string, std::list<std::weak_ptr<Connection>>> pending_;
  std::size_t pending_total_ = 0;
};

struct ManagerState {
  explicit ManagerState(const ServeOptions& o) : options(o), gate(options) {}
  ServeOptions options;
  std::unique_ptr<Registry> registry;
  ArrayInfo info;
  PkeyPtr ca_key;
  X509Ptr ca_cert;
  std::optional<keystore::MachineRoot> machine;
  acl::Token system;
  std::vector<std::string> endpoints;
  AddressGate gate;
  std::size_t authenticated = 0;  // connections that left the pending pool

  // One line per join, refusal and server event: to on_event when set, else the logger.
  void Event(const std::string& line) const;
  // Moves `c` out of the pending pool; false (refuse: busy) when the authenticated pool is full.
  bool Authenticate(Connection& c);
};

// The certificate a client presented, checked against the array CA and the registry.
struct PeerMember {
  bool presented = false;  // a certificate signed by this array's CA, within its validity
  Digest pin{};            // its key's pin
  std::string name;        // its CN
  bool revoked = false;
  std::optional<MemberRecord> record;  // the registry's member of that name, if any
  // A joined member whose recorded certificate key is this one and not revoked.
  bool valid() const {
    return presented && !revoked && record && record->status == MemberStatus::kJoined &&
           ConstantTimeEquals(record->cert_pin, pin);
  }
};
PeerMember CheckPeerMember(ManagerState& st, SSL* ssl);

asio::awaitable<Result<Frame>> ReadFrame(Connection& c);
asio::awaitable<bool> WriteFrame(Connection& c, const Frame& frame);

// A join (hello -> offer -> confirm -> done). Returns a refusal to send, or nullopt on success
// or when the connection is gone.
asio::awaitable<std::optional<PeerError>> HandleJoin(ManagerState& st, Connection& c,
                                                     const Frame& first, const Ekm& ekm,
                                                     const PeerMember& peer);
// status, leave, sync over mutual TLS.
asio::awaitable<std::optional<PeerError>> HandleMember(ManagerState& st, Connection& c,
                                                       const Frame& first, const PeerMember& peer);

// Key material of one version, read from the manager's store.
struct LoadedVersion {
  std::uint32_t version = 0;
  std::string rsa_container;
  SecretBytes rsa_pkcs8;
  std::string config_container;
  SecretBytes config_key;
};
Result<LoadedVersion> LoadVersion(ManagerState& st, const KeyVersion& kv);
Result<std::vector<OfferItem>> WrapVersion(const ManagerState& st, const LoadedVersion& v,
                                           std::string_view member,
                                           std::span<const std::uint8_t, 32> wrap_key);

// What members are told: this manager's endpoints, then every other manager's that is serving
// (several managers on etcd), at most kMaxEndpoints.
std::vector<std::string> AnnouncedEndpoints(ManagerState& st);

// Whether a refusal is a failed authentication (counted by the address limit).
bool CountsAsFailure(std::string_view code);

}  // namespace mkeys::arrayjoin::internal
