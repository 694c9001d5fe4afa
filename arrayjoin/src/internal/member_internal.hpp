// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Pieces the member's source files share: the state file and the join journal, installing
// and rolling back containers, the preflight, and talking to the manager as a member.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mkeys/acl/token.hpp"
#include "mkeys/arrayjoin/member.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "tls.hpp"

namespace mkeys::arrayjoin::internal {

// Text through the one atomic writer (O_EXCL temporary, fsync, rename, directory fsync).
Result<void> WriteTextAtomic(const std::filesystem::path& path, const std::string& text);
Result<nlohmann::json> ReadJsonFile(const std::filesystem::path& path);

// The journal of a join in progress: what to remove if the process dies before it finishes.
struct Journal {
  std::filesystem::path path;
  std::vector<std::string> containers;  // committed (renamed into place) or about to be
  std::vector<std::string> staging;     // staging files written
  std::string state = "installing";
  std::string pending;  // the member state to write once the manager acknowledged ("confirming")
  // The container keeping this join's member key for a retry (mkeys-array-pending-TOKEN_ID):
  // never rolled back, removed once the manager recorded the member.
  std::string pending_key;
  Result<void> Save() const;
};

std::string FormatMemberState(const MemberState& s);
Result<MemberState> ParseMemberState(const nlohmann::json& doc, const std::string& where);
Result<void> WriteMemberState(const std::filesystem::path& root, const MemberState& s);

// Removes the container keeping a join's member key for a retry, if there is one (a failure is
// logged: the join's outcome does not depend on it).
void DropPendingKey(keystore::KeyStore& store, const acl::Token& installer,
                    const std::string& name);
// Each kept member key is noted as an empty file ROOT/mkeys-array/pending-keys/NAME, so that a
// join that succeeds (with any token) can remove the keys earlier attempts with other tokens
// left: this one's (`current`), then every noted one, then the notes.
std::filesystem::path PendingKeyNotesDir(const std::filesystem::path& root);
Result<void> NotePendingKey(const std::filesystem::path& root, const std::string& name);
// DropPendingKey, then its note once the container is gone.
void DropNotedPendingKey(const std::filesystem::path& root, keystore::KeyStore& store,
                         const acl::Token& installer, const std::string& name);
void DropPendingKeysAfterJoin(const std::filesystem::path& root, keystore::KeyStore& store,
                              const acl::Token& installer, const std::string& current);

// Removes every container and staging file a journal names, then the journal (never the
// journal's pending_key).
void RollBack(keystore::KeyStore& store, const acl::Token& installer, const Journal& journal);

// Fails with the diagnosis' reason and a runnable fix; `on_diagnosis` gets the whole diagnosis.
Result<void> PreflightOn(keystore::MachineRoot& machine, const acl::Token& installer,
                         const acl::Token& service, std::string_view service_identity,
                         const std::function<void(const repair::Diagnosis&)>& on_diagnosis);

using ItemSecrets = std::vector<std::pair<OfferItem, SecretBytes>>;
// Installs items under staging names, verifies the service can read them, renames them into
// place and opens each as the service; the journal names everything before it exists.
Result<std::vector<std::string>> InstallVerified(
    keystore::MachineRoot& machine, const acl::Token& installer, const acl::Token& service,
    std::string_view service_identity, const ItemSecrets& items,
    std::optional<keystore::KeyMaterial> member_key, std::string_view member_key_name,
    Journal& journal, const std::function<void(JoinStep, std::string)>& progress);

// The member certificate into LocalMachine\My of a model machine, its key-provider info naming
// the member key container (readable by the service); verified with diagnose as the service.
// Returns the thumbprint ("" when the root is not a model machine).
Result<std::string> InstallMemberCertificate(keystore::MachineRoot& machine,
                                             const acl::Token& service,
                                             std::string_view service_identity,
                                             std::string_view member_cert_pem,
                                             std::string_view member_key_name);

// A mutual-TLS connection to the manager with the member certificate, the pin checked; tries
// `override_manager` first, else the remembered endpoints. `used` is the endpoint that answered.
struct MemberLink {
  std::unique_ptr<TlsClient> client;
  std::string used;
};
Result<MemberLink> ConnectAsMember(keystore::MachineRoot& machine, const MemberState& state,
                                   int timeout_seconds, const std::string& override_manager);
// One request and its reply.
Result<Frame> Exchange(TlsClient& client, const Frame& request, int timeout_seconds);
Result<MemberReply> MemberExchange(TlsClient& client, const MemberRequest& request,
                                   int timeout_seconds);
// Puts `used` first and merges the endpoints the manager announced. True if anything changed.
bool RememberEndpoints(MemberState& state, const std::string& used,
                       const std::vector<std::string>& announced);

// The member sent its confirmation but did not hear back: ask the manager and settle the
// journal. True if joined, false if rolled back.
Result<bool> Settle(keystore::MachineRoot& machine, Journal& journal, int timeout_seconds,
                    const std::string& override_manager);

}  // namespace mkeys::arrayjoin::internal
