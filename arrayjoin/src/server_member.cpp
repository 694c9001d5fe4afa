// SPDX-License-Identifier: GPL-3.0-or-later
// The manager's side of member requests (status, leave, sync over mutual TLS), the member
// certificate check, and the per-address gate: failure limits and the pre-handshake pool.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // see server.cpp
#endif
#include "internal/server_state.hpp"

namespace mkeys::arrayjoin::internal {

PeerMember CheckPeerMember(ManagerState& st, SSL* ssl) {
  PeerMember p;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || !VerifyIssuedBy(cert, st.ca_cert.get())) return p;
  auto pin = SpkiPin(X509_get0_pubkey(cert));
  if (!pin) return p;
  p.presented = true;
  p.pin = *pin;
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn - 1);
  p.name = cn;
  auto revoked = st.registry->IsRevoked(p.pin);
  p.revoked = !revoked || *revoked;  // unreadable revocations: treat as revoked
  auto rec = st.registry->FindMember(p.name);
  if (rec && *rec) p.record = **rec;
  return p;
}

asio::awaitable<std::optional<PeerError>> HandleMember(ManagerState& st, Connection& c,
                                                       const Frame& first, const PeerMember& peer) {
  auto req = DecodeMemberRequest(first);
  if (!req) co_return PeerError{"bad-request", req.error().ToString(), ""};
  if (!peer.presented) {
    co_return PeerError{"not-a-member", "member requests need a member certificate of this array",
                        "join the array first"};
  }
  if (peer.revoked) {
    co_return PeerError{"certificate-revoked",
                        "the certificate of " + peer.name + " (" + FormatFingerprint(peer.pin) +
                            ") was revoked on the manager",
                        "'mkeys array leave --force' here, then join with a new token"};
  }
  MemberReply reply;
  auto info = st.registry->Info();
  reply.current_version = info ? info->current_version : 0;
  reply.member = peer.valid();
  reply.endpoints = AnnouncedEndpoints(st);
  const std::string& name = peer.name;
  if (req->op == "leave" && reply.member) {
    if (auto r = st.registry->RemoveMember(name, NowSeconds(), "left (member request)"); !r) {
      co_return PeerError{"internal", r.error().ToString(), ""};
    }
    st.Event("left: " + name + " from " + c.peer);
    reply.member = false;
  } else if (req->op == "sync" && reply.member) {
    auto versions = st.registry->KeyVersions();
    if (!versions) co_return PeerError{"internal", versions.error().ToString(), ""};
    for (const auto& kv : *versions) {
      if (kv.version <= req->have_version) continue;
      auto loaded = LoadVersion(st, kv);
      if (!loaded) co_return PeerError{"internal", loaded.error().ToString(), ""};
      auto items = WrapVersion(st, *loaded, name, req->wrap_key);
      if (!items) co_return PeerError{"internal", items.error().ToString(), ""};
      for (auto& item : *items) reply.items.push_back(std::move(item));
    }
    st.Event("sync: " + name + " from " + c.peer + " had v" + std::to_string(req->have_version) +
             ", sent " + std::to_string(reply.items.size()) + " item(s)");
  }
  const Frame reply_frame = EncodeMemberReply(reply);
  (void)co_await WriteFrame(c, reply_frame);
  co_return std::nullopt;
}

std::int64_t AddressGate::RetryAt(const std::string& address, std::int64_t now) {
  auto it = failures_.find(address);
  if (it == failures_.end()) return 0;
  auto& q = it->second;
  const std::int64_t window = options_.failure_window_seconds;
  while (!q.empty() && q.front() <= now - window) q.pop_front();
  const auto limit = static_cast<std::size_t>(std::max(1, options_.max_failures));
  if (q.size() < limit) return 0;
  // Allowed again once all but limit - 1 of the failures left the window.
  return q[q.size() - limit] + window;
}

AddressLimit AddressGate::CountFailure(const std::string& address, std::int64_t now) {
  auto& q = failures_[address];
  q.push_back(now);
  const auto limit = static_cast<std::size_t>(std::max(1, options_.max_failures));
  while (q.size() > limit) q.pop_front();
  AddressLimit out;
  out.address = address;
  out.failures = static_cast<std::int64_t>(q.size());
  out.last_at = now;
  out.retry_at = RetryAt(address, now);
  return out;
}

void AddressGate::EvictOldest(std::list<std::weak_ptr<Connection>>& list) {
  while (!list.empty()) {
    auto victim = list.front().lock();
    list.pop_front();
    --pending_total_;
    if (victim) {
      victim->pending = false;
      victim->evicted = true;
      victim->Close();
      return;
    }
  }
}

void AddressGate::AddPending(const std::shared_ptr<Connection>& c) {
  auto& list = pending_[c->peer];
  if (list.size() >= std::max<std::size_t>(1, options_.max_pending_per_address)) {
    EvictOldest(list);
  }
  if (pending_total_ >= std::max<std::size_t>(1, options_.max_pending)) {
    auto fullest = pending_.begin();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->second.size() > fullest->second.size()) fullest = it;
    }
    if (fullest != pending_.end()) EvictOldest(fullest->second);
  }
  list.push_back(c);
  ++pending_total_;
  c->pending = true;
}

void AddressGate::LeavePending(Connection& c) {
  if (!c.pending) return;
  c.pending = false;
  auto it = pending_.find(c.peer);
  if (it == pending_.end()) return;
  auto& list = it->second;
  for (auto i = list.begin(); i != list.end(); ++i) {
    auto p = i->lock();
    if (p.get() == &c) {
      list.erase(i);
      --pending_total_;
      break;
    }
  }
  if (list.empty()) pending_.erase(it);
}

}  // namespace mkeys::arrayjoin::internal
