// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Adding a manager on another machine by approval (docs/arrayjoin.md, "More than one manager"):
// the new root asks (a fresh X25519 key in its store, a request record in etcd), an operator of
// an existing manager checks the request's fingerprint out of band and approves it (the registry
// key wrapped to the request's public key, in etcd), and the new root completes (unwraps the
// registry key into its store). The registry key never appears in etcd in clear.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/arrayjoin/etcd_registry.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/arrayjoin/registry.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::arrayjoin {

// The container holding a requesting manager's X25519 private key (32 raw bytes, kept as a
// 256-bit secret): mkeys-array-NAME-manager-wrap. Deleted once the request completes.
std::string ManagerWrapContainerName(std::string_view array);

// SHA-256 of the request's X25519 public key, "sha256:" and 16 groups of 4 hex digits joined by
// '-', the form the operators compare.
std::string RequestFingerprint(const std::array<std::uint8_t, 32>& public_key);

// A request to become a manager, as etcd holds it (manager-requests/ID).
struct ManagerRequestInfo {
  std::string id;  // the manager id the new root takes (16 hex digits)
  std::string host;
  std::int64_t requested_at = 0;
  std::string fingerprint;  // RequestFingerprint of the public key, computed, never stored
};

struct RequestedManager {
  ArrayInfo info;  // the array as etcd describes it (name, id, CA pin)
  ManagerRequestInfo request;
  std::vector<std::string> containers;  // created in the new root's store
  bool pin_checked = false;             // info.pin was the --array-fingerprint given
};
// `array manager add ROOT --registry etcd://... --array NAME_OR_ID`: `root` must be free; finds
// the array in etcd, keeps a fresh X25519 key in the root's store, writes the request record
// (create-only) and ROOT/mkeys-array/registry.json marked pending. Nothing is left behind on
// failure. With `array_fingerprint` (the array key fingerprint as `array status` prints it on a
// manager the operator trusts), the array etcd describes must have that pin (else kAccessDenied,
// nothing written), and --complete refuses unless it still has.
Result<RequestedManager> RequestManager(const std::filesystem::path& root,
                                        const std::vector<std::string>& etcd_endpoints,
                                        const EtcdAccess& etcd_access, std::string_view array,
                                        std::string_view array_fingerprint = {});

// On an existing manager (`root`): the requests waiting for approval.
Result<std::vector<ManagerRequestInfo>> ManagerRequests(const std::filesystem::path& root);
// Approves request `id` when `fingerprint` (any case, with or without "sha256:" and separators)
// is the request's: the registry key, wrapped to the request's key (associated data: array id,
// request id, the array's CA pin), is written as wrapped/ID and the request deleted, with a
// manager-approved event, in one transaction that requires the request unchanged since it was
// read. A fingerprint that does not match: kAccessDenied, nothing written.
Result<ManagerRequestInfo> ApproveManager(const std::filesystem::path& root, std::string_view id,
                                          std::string_view fingerprint);
// Deletes request `id` (a manager-denied event).
Result<ManagerRequestInfo> DenyManager(const std::filesystem::path& root, std::string_view id);

struct CompletedManager {
  bool waiting = false;        // not approved yet: nothing changed
  RequestedManager requested;  // with `waiting`: the request (info, id, fingerprint)
  AddedManager added;          // otherwise: the new manager
  // The manager was registered in etcd by an earlier --complete that stopped before finishing
  // registry.json; this run finished it from the containers that one made.
  bool finished_interrupted = false;
};
// `array manager add ROOT --complete` on the requesting root: unwraps wrapped/ID with the key in
// its store, checks the registry key opens the array's sealed CA key (else kCorrupt, nothing
// kept), stores the registry key and the CA key as `--from` does, registers managers/ID and
// finishes registry.json. A denied (deleted) request: kAccessDenied, and the root is free again.
// Safe to run again after it was interrupted at any point: containers left before the etcd
// transaction are replaced, and a registration already in etcd is finished from them.
Result<CompletedManager> CompleteManager(const std::filesystem::path& root);

}  // namespace mkeys::arrayjoin
