// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The member side: preflight, join (connect, verify the pin, prove the token, receive, install
// under staging names, verify as the service identity, rename, confirm), status, leave, sync.
// Any failure after the preflight removes every trace on the member but one: the member key,
// kept for a retry with the same token (see docs/arrayjoin.md).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/result.hpp"
#include "mkeys/repair/diagnose.hpp"

namespace mkeys::arrayjoin {

enum class JoinStep : std::uint8_t {
  kPreflight,   // 1. can the store take containers the service identity can read?
  kConnect,     // 2. TCP + TLS 1.3, manager key pin verified
  kProveToken,  // 3. token proof bound to the TLS session
  kReceive,     // 4. wrapped key material + member certificate
  kInstall,     // 5. containers under staging names with the service's read grant
  kVerify,      // 6. access check as the service identity, rename into place, open as it
  kConfirm,     // 7. the manager records the member
};
std::string_view JoinStepName(JoinStep step);

struct JoinProgress {
  JoinStep step;
  bool ok = true;
  std::string detail;
};

struct JoinOptions {
  std::filesystem::path root;
  std::string manager;  // HOST:PORT (HOST alone: the default port, 4763)
  std::string service_identity = "NT AUTHORITY\\NETWORK SERVICE";
  // Default: the host name and the first 8 hex digits of the member key's fingerprint
  // ("web1-3f9a0c2e"), so that clones of one image do not share a name.
  std::string member_name;
  // Re-join with this root's existing member credentials (its member key and certificate,
  // proved over mutual TLS): the manager lets the member's own name be taken over by it.
  bool rejoin = false;
  // Called with the full diagnosis when the preflight fails (the evidence chain and the fix).
  std::function<void(const repair::Diagnosis&)> on_diagnosis;
  int timeout_seconds = 30;
  std::function<void(const JoinProgress&)> on_progress;
  // Asked after the pin matched, with the manager's fingerprint; false stops the join
  // (the wizard's confirmation). Absent: the pin match is enough.
  std::function<bool(const std::string& fingerprint)> confirm_fingerprint;
};

struct JoinResult {
  std::string array;
  std::string member;
  std::uint32_t key_version = 0;
  std::vector<std::string> containers;
  std::string fingerprint;
};

// The container that keeps the member key of a join with `token` (mkeys-array-pending-ID, by
// the token's public id; readable by SYSTEM only) from just before the join-hello is sent until
// the manager recorded the member or refused the join for good. A retry with the same token
// presents that key again, and so resumes a delivery the manager recorded (the same name, no
// new token use) instead of taking a new use.
std::string PendingKeyContainerName(const JoinToken& token);

// Joins. Reads the member state first: a root that is already a member (or a manager) is an
// error; a join interrupted earlier (a journal left by a killed process) is rolled back first.
Result<JoinResult> Join(const JoinOptions& options, const JoinToken& token);

// Step 1 alone: fails with the reason and the repair command when the service identity could
// not read containers the join would install. Nothing is left in the store.
Result<void> Preflight(const std::filesystem::path& root, std::string_view service_identity);

// What a member knows about its array (<root>/mkeys-array/member.json).
struct MemberState {
  std::string array;
  std::string array_id;
  std::string manager;                // the endpoint that answered last
  std::vector<std::string> managers;  // every endpoint known (joined through, learned on sync)
  Digest pin{};
  std::string member;
  std::string service_identity;
  std::uint32_t key_version = 0;
  std::vector<std::string> containers;  // array key containers installed
  std::string member_cert_pem;
  std::string ca_cert_pem;
  std::int64_t joined_at = 0;
};
Result<std::optional<MemberState>> ReadMemberState(const std::filesystem::path& root);
std::filesystem::path MemberStatePath(const std::filesystem::path& root);
std::filesystem::path JoinJournalPath(const std::filesystem::path& root);

// Rolls back a join a killed process left half-done (its journal). Returns true if it did.
// `manager` as for CheckWithManager (used when the outcome must be asked).
Result<bool> RecoverInterruptedJoin(const std::filesystem::path& root,
                                    const std::string& manager = "");

// Asks the manager (mutual TLS with the member certificate) whether it lists this member.
struct MemberCheck {
  bool listed = false;
  std::uint32_t current_version = 0;
};
// `manager`, when not empty, is tried first (HOST:PORT) and remembered once it answers with the
// pinned key; otherwise the remembered endpoints are tried in turn.
Result<MemberCheck> CheckWithManager(const std::filesystem::path& root, int timeout_seconds,
                                     const std::string& manager = "");

// Tells the manager (mutual TLS) and removes the array containers, the member key and the state.
// With `force`, an unreachable manager does not stop the local removal.
Result<void> Leave(const std::filesystem::path& root, bool force, int timeout_seconds,
                   const std::string& manager = "");

// Fetches and installs key versions newer than the member's (verified the same way as a join).
struct SyncResult {
  std::uint32_t from_version = 0;
  std::uint32_t to_version = 0;
  std::vector<std::string> installed;
};
Result<SyncResult> Sync(const std::filesystem::path& root, int timeout_seconds,
                        const std::string& manager = "");

}  // namespace mkeys::arrayjoin
