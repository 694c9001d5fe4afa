// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The etcd records of adding a manager by approval (private to arrayjoin): under
// /mkeys/arrays/ARRAY_ID/, manager-requests/ID (the requesting root's X25519 public key, its host
// and time; JSON) and wrapped/ID (the registry key wrapped to that key; JSON, hex). Every value
// read from etcd is checked before use: etcd is not trusted with anything but availability.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "internal/etcd_registry_impl.hpp"
#include "mkeys/arrayjoin/crypto.hpp"

namespace mkeys::arrayjoin::internal {

struct RequestRecord {
  std::string id;
  std::string host;
  std::int64_t requested_at = 0;
  std::array<std::uint8_t, 32> public_key{};
  std::int64_t mod_revision = 0;  // where it was read
};

struct WrappedRecord {
  WrappedSecret wrapped;
  std::string approved_by;  // the approving manager's id
  std::int64_t approved_at = 0;
  std::int64_t mod_revision = 0;
};

std::string RequestKey(const EtcdRegistry& reg, std::string_view id);
std::string WrappedKey(const EtcdRegistry& reg, std::string_view id);

Result<std::optional<RequestRecord>> GetRequest(EtcdRegistry& reg, std::string_view id);
Result<std::vector<RequestRecord>> ListRequests(EtcdRegistry& reg);
// Create-only: false when a request or a manager with this id exists already.
Result<bool> PutRequest(EtcdRegistry& reg, const RequestRecord& request, std::int64_t now);
// One transaction, the request's mod_revision unchanged: wrapped/ID written, the request
// deleted, a manager-approved event. False when the request changed.
Result<bool> ApproveRequest(EtcdRegistry& reg, const RequestRecord& request,
                            const WrappedSecret& wrapped, std::string_view fingerprint,
                            std::int64_t now);
// Deletes the request (unchanged since read) with a manager-denied event.
Result<bool> DenyRequest(EtcdRegistry& reg, const RequestRecord& request, std::int64_t now);
// Deletes the request without an event (undoing a request whose local half failed).
Result<bool> WithdrawRequest(EtcdRegistry& reg, std::string_view id);

Result<std::optional<WrappedRecord>> GetWrapped(EtcdRegistry& reg, std::string_view id);
// The last step: managers/ID written (create-only), wrapped/ID (unchanged) deleted, a
// manager-added event. False when either changed.
Result<bool> RegisterApproved(EtcdRegistry& reg, const EtcdSettings& settings,
                              const WrappedRecord& wrapped, std::int64_t now);

// The array etcd holds under the id `name_or_id`, or else the one array named so (kNotFound
// when none, kInvalidArgument when several have the name).
Result<ArrayInfo> FindArrayInEtcd(EtcdClient& client, std::string_view name_or_id);

// The associated data of a wrapped registry key: it binds the array, the request and the
// array's CA pin, so a wrapped key cannot be moved to another request or array.
std::string ManagerWrapAad(std::string_view array_id, std::string_view request_id,
                           const Digest& ca_pin);

// From manager_add.cpp.
Result<SecretBytes> ReadRegistryKey(const std::filesystem::path& root, std::string_view array);
Result<void> CheckFreeRoot(const std::filesystem::path& root);

}  // namespace mkeys::arrayjoin::internal
