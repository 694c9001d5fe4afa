// SPDX-License-Identifier: GPL-3.0-or-later
// A joined member talking to its manager over mutual TLS: status, leave and sync, through one
// request/response exchange, with the manager's endpoints remembered and learned.
#include <algorithm>

#include "internal/member_internal.hpp"
#include "mkeys/arrayjoin/manager.hpp"

namespace mkeys::arrayjoin {

namespace fs = std::filesystem;

namespace internal {
namespace {

std::vector<std::string> Candidates(const MemberState& state, const std::string& override_manager) {
  if (!override_manager.empty()) return {override_manager};
  std::vector<std::string> out = {state.manager};
  for (const auto& m : state.managers) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

Result<std::unique_ptr<TlsClient>> ConnectOne(const std::string& endpoint, const MemberState& state,
                                              const ClientCredential& cred, int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto hp, SplitHostPort(endpoint));
  MKEYS_ASSIGN_OR_RETURN(auto client,
                         TlsClient::Connect(hp.first, hp.second, timeout_seconds, &cred));
  if (!ConstantTimeEquals(client->peer_pin(), state.pin)) {
    return Error(ErrorCode::kPeerRefused,
                 "the manager's key fingerprint changed: expected " + FormatFingerprint(state.pin) +
                     ", saw " + FormatFingerprint(client->peer_pin()) +
                     "; nothing was sent (another server at this address?)")
        .On(endpoint);
  }
  return client;
}

}  // namespace

Result<MemberLink> ConnectAsMember(keystore::MachineRoot& machine, const MemberState& state,
                                   int timeout_seconds, const std::string& override_manager) {
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  MKEYS_ASSIGN_OR_RETURN(auto opened, store.Open(MemberKeyContainerName(state.array), installer));
  if (!opened.signature) {
    return Error(ErrorCode::kCorrupt, "the member key container holds no key")
        .On(MemberKeyContainerName(state.array));
  }
  MKEYS_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(state.member_cert_pem));
  const ClientCredential cred{cert.get(), opened.signature->get()};
  const auto candidates = Candidates(state, override_manager);
  std::optional<Error> last;
  for (const auto& endpoint : candidates) {
    auto client = ConnectOne(endpoint, state, cred, timeout_seconds);
    if (client) return MemberLink{std::move(*client), endpoint};
    last = std::move(client).error();
  }
  std::string tried;
  for (const auto& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
  return Error(last->code(), last->message() + " (tried " + tried +
                                 "; a manager that moved is reached with --manager HOST:PORT)")
      .On(last->object().value_or(tried));
}

Result<Frame> Exchange(TlsClient& client, const Frame& request, int timeout_seconds) {
  MKEYS_TRY(client.Send(request));
  return client.Receive(timeout_seconds);
}

Result<MemberReply> MemberExchange(TlsClient& client, const MemberRequest& request,
                                   int timeout_seconds) {
  MKEYS_ASSIGN_OR_RETURN(auto frame,
                         Exchange(client, EncodeMemberRequest(request), timeout_seconds));
  return DecodeMemberReply(frame);
}

bool RememberEndpoints(MemberState& state, const std::string& used,
                       const std::vector<std::string>& announced) {
  std::vector<std::string> next = {used};
  for (const auto& list : {announced, state.managers}) {
    for (const auto& e : list) {
      if (next.size() < kMaxEndpoints && std::find(next.begin(), next.end(), e) == next.end()) {
        next.push_back(e);
      }
    }
  }
  const bool changed = state.manager != used || state.managers != next;
  state.manager = used;
  state.managers = std::move(next);
  return changed;
}

}  // namespace internal

namespace {

struct Opened {
  MemberState state;
  keystore::MachineRoot machine;
};

Result<Opened> OpenMember(const fs::path& root) {
  MKEYS_ASSIGN_OR_RETURN(auto state, ReadMemberState(root));
  if (!state) return Error(ErrorCode::kNotFound, "not a member of an array").On(root.string());
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  return Opened{std::move(*state), std::move(machine)};
}

// One request as a member; the endpoint that answered and the ones announced are remembered.
Result<MemberReply> Ask(Opened& m, const MemberRequest& req, int timeout_seconds,
                        const std::string& manager) {
  MKEYS_ASSIGN_OR_RETURN(auto link,
                         internal::ConnectAsMember(m.machine, m.state, timeout_seconds, manager));
  MKEYS_ASSIGN_OR_RETURN(auto reply, internal::MemberExchange(*link.client, req, timeout_seconds));
  if (internal::RememberEndpoints(m.state, link.used, reply.endpoints)) {
    MKEYS_TRY(internal::WriteMemberState(m.machine.root(), m.state));
  }
  return reply;
}

Result<internal::ItemSecrets> UnwrapSyncItems(const MemberState& state,
                                              const std::vector<OfferItem>& items,
                                              const X25519Key& wrap_key, SyncResult& result) {
  internal::ItemSecrets out;
  for (const auto& item : items) {
    if (item.version <= state.key_version ||
        item.container.rfind("mkeys-array-" + state.array + "-", 0) != 0) {
      return Error(ErrorCode::kPeerRefused, "the manager sent an unexpected item")
          .On(item.container);
    }
    MKEYS_ASSIGN_OR_RETURN(auto plain, UnwrapSecret(wrap_key, item.wrapped,
                                                    WrapAad(state.array_id, state.member,
                                                            item.container, item.version)));
    result.to_version = std::max(result.to_version, item.version);
    out.emplace_back(item, std::move(plain));
  }
  return out;
}

Result<std::vector<std::string>> InstallSynced(Opened& m, const internal::ItemSecrets& items) {
  MKEYS_ASSIGN_OR_RETURN(auto installer, m.machine.TokenFor(kInstallerIdentity));
  MKEYS_ASSIGN_OR_RETURN(auto service, m.machine.TokenFor(m.state.service_identity));
  MKEYS_TRY(internal::PreflightOn(m.machine, installer, service, m.state.service_identity, {}));
  keystore::KeyStore store(m.machine);
  internal::Journal journal;
  journal.path = JoinJournalPath(m.machine.root());
  auto installed =
      internal::InstallVerified(m.machine, installer, service, m.state.service_identity, items,
                                std::nullopt, "", journal, [](JoinStep, std::string) {});
  if (!installed) internal::RollBack(store, installer, journal);
  return installed;
}

}  // namespace

Result<MemberCheck> CheckWithManager(const fs::path& root, int timeout_seconds,
                                     const std::string& manager) {
  MKEYS_ASSIGN_OR_RETURN(auto m, OpenMember(root));
  MemberRequest req;
  req.op = "status";
  req.have_version = m.state.key_version;
  MKEYS_ASSIGN_OR_RETURN(auto reply, Ask(m, req, timeout_seconds, manager));
  return MemberCheck{reply.member, reply.current_version};
}

Result<void> Leave(const fs::path& root, bool force, int timeout_seconds,
                   const std::string& manager) {
  MKEYS_ASSIGN_OR_RETURN(auto m, OpenMember(root));
  MemberRequest req;
  req.op = "leave";
  req.have_version = m.state.key_version;
  auto told = Ask(m, req, timeout_seconds, manager);
  if (!told && !force) {
    return Error(told.error().code(), told.error().message() +
                                          " (nothing was removed; 'mkeys array leave --force' "
                                          "removes the keys here anyway)")
        .On(m.state.manager);
  }
  MKEYS_ASSIGN_OR_RETURN(auto installer, m.machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(m.machine);
  internal::Journal journal;
  journal.path = JoinJournalPath(root);
  journal.containers = m.state.containers;
  journal.containers.push_back(MemberKeyContainerName(m.state.array));
  journal.state = "leaving";
  MKEYS_TRY(journal.Save());
  std::error_code ec;
  fs::remove(MemberStatePath(root), ec);
  internal::RollBack(store, installer, journal);
  return Ok();
}

Result<SyncResult> Sync(const fs::path& root, int timeout_seconds, const std::string& manager) {
  MKEYS_ASSIGN_OR_RETURN(auto m, OpenMember(root));
  MKEYS_ASSIGN_OR_RETURN(auto wrap_key, X25519Key::Generate());
  MemberRequest req;
  req.op = "sync";
  req.have_version = m.state.key_version;
  req.wrap_key = wrap_key.public_key();
  MKEYS_ASSIGN_OR_RETURN(auto reply, Ask(m, req, timeout_seconds, manager));
  if (!reply.member) {
    return Error(ErrorCode::kPeerRefused,
                 "the manager no longer lists this member ('mkeys array "
                 "leave --force', then join again)")
        .On(m.state.manager);
  }
  SyncResult result;
  result.from_version = m.state.key_version;
  result.to_version = m.state.key_version;
  MKEYS_ASSIGN_OR_RETURN(auto items, UnwrapSyncItems(m.state, reply.items, wrap_key, result));
  if (items.empty()) return result;
  MKEYS_ASSIGN_OR_RETURN(auto installed, InstallSynced(m, items));
  for (const auto& name : installed) m.state.containers.push_back(name);
  m.state.key_version = result.to_version;
  MKEYS_TRY(internal::WriteMemberState(root, m.state));
  std::error_code ec;
  fs::remove(JoinJournalPath(root), ec);
  result.installed = std::move(installed);
  return result;
}

}  // namespace mkeys::arrayjoin
