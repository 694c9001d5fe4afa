// SPDX-License-Identifier: GPL-3.0-or-later
// The etcd registry's rotation lock: one manager rotates at a time. The lock is the key
// rotation/lock, created only if absent and attached to a lease, so a leader that dies lets it go
// when the lease runs out. Its create_revision identifies this holding of it; every rotation write
// compares it (fencing), so a leader that was paused past its lease writes nothing.
#include <openssl/rand.h>

#include "internal/etcd_registry_impl.hpp"
#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

// What the lock's value says of its holder: "manager ID (HOST) since TIME".
std::string HolderText(const std::string& value,
                       const Result<std::vector<ManagerRecord>>& managers) {
  const auto doc = nlohmann::json::parse(value, nullptr, false);
  if (!doc.is_object()) return "an unknown manager";
  const auto id = doc.find("manager");
  const auto since = doc.find("since");
  std::string out = "manager ";
  out += id != doc.end() && id->is_string() ? id->get<std::string>() : std::string("?");
  if (managers && id != doc.end() && id->is_string()) {
    for (const auto& m : *managers) {
      if (m.id == id->get<std::string>() && !m.host.empty()) out += " (" + m.host + ")";
    }
  }
  if (since != doc.end() && since->is_number_integer()) {
    out += " since " + FormatTime(since->get<std::int64_t>());
  }
  return out;
}

}  // namespace

Result<void> EtcdRegistry::LeadRotation(std::chrono::seconds lease) {
  std::lock_guard lock(mutex_);
  if (lock_revision_ != 0) return Ok();
  if (lease.count() < 2) {
    return Error(ErrorCode::kInvalidArgument, "the rotation lease must be at least 2 seconds");
  }
  MKEYS_ASSIGN_OR_RETURN(std::int64_t lease_id, client_.GrantLease(lease.count()));
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  const std::string value = nlohmann::json({{"manager", settings_.manager_id},
                                            {"since", NowSeconds()},
                                            {"lease_seconds", lease.count()},
                                            {"nonce", HexEncode(nonce)}})
                                .dump();
  const std::string key = RotationLockKey();
  auto taken = client_.Txn({{key, "CREATE", 0}}, {Put(key, value, lease_id)});
  // Whether it was taken or not (a reply lost after etcd applied it reads as "not"), the key
  // says who holds the lock now.
  auto holder = taken ? client_.Get(key) : Result<std::optional<EtcdKv>>(taken.error());
  if (holder && *holder && (*holder)->value == value) {
    lock_revision_ = (*holder)->create_revision;
    lock_lease_ = lease_id;
    lock_ttl_ = lease;
    return Ok();
  }
  (void)client_.RevokeLease(lease_id);
  if (!holder) return std::move(holder).error();
  if (!*holder) {
    return Error(ErrorCode::kNetwork,
                 "the rotation lock was let go while this manager asked for it; run it again")
        .On(Location());
  }
  return Error(ErrorCode::kExists,
               "another manager leads a rotation of this array: " +
                   HolderText((*holder)->value, Managers()) +
                   "; run it again once that one is done (its lock ends with it, or when its "
                   "lease runs out if it stopped)")
      .On(Location());
}

void EtcdRegistry::EndRotation() {
  std::lock_guard lock(mutex_);
  if (lock_lease_ != 0) {
    // Best effort: a lease that cannot be revoked now ends by itself.
    (void)client_.RevokeLease(lock_lease_);
  }
  lock_revision_ = 0;
  lock_lease_ = 0;
}

std::optional<Error> EtcdRegistry::LostRotationLock() {
  if (lock_revision_ == 0) return std::nullopt;
  auto holder = client_.Get(RotationLockKey());
  if (holder && *holder && (*holder)->create_revision == lock_revision_) return std::nullopt;
  return Error(ErrorCode::kExists,
               "this manager's rotation lock ended before the rotation was written (its lease "
               "of " +
                   std::to_string(lock_ttl_.count()) +
                   " s ran out, or etcd let it go); nothing of this rotation was written; "
                   "run it again")
      .On(Location());
}

}  // namespace mkeys::arrayjoin::internal
