// SPDX-License-Identifier: GPL-3.0-or-later
// The etcd registry's joins and members. Each change is one etcd transaction whose compares
// check the revisions of every key the decision read (the token, the member name, the revoked
// certificate): two managers deciding at once cannot both win; the loser reads again and
// decides again.
#include "internal/etcd_registry_impl.hpp"
#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

constexpr int kAttempts = 64;

Error Contended(std::string_view what) {
  return Error(ErrorCode::kNetwork,
               "the registry kept changing under this " + std::string(what) + "; try again");
}

}  // namespace

std::string EtcdRegistry::RevokedKey(const Digest& pin) const {
  return prefix_ + "revoked/" + HexEncode(pin);
}

Result<std::optional<EtcdKv>> EtcdRegistry::GetMember(std::string_view name) {
  return client_.Get(MemberKey(name));
}

Result<bool> EtcdRegistry::ReserveDelivery(std::string_view token_id, const Digest& verifier,
                                           const MemberRecord& member,
                                           const std::optional<Digest>& proven_pin,
                                           std::int64_t now) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    MKEYS_ASSIGN_OR_RETURN(auto token_kv, GetToken(token_id));
    std::optional<TokenRecord> token;
    if (token_kv) {
      MKEYS_ASSIGN_OR_RETURN(auto t, TokenFromJson(token_kv->value, token_kv->key));
      token = std::move(t);
    }
    MKEYS_ASSIGN_OR_RETURN(auto member_kv, GetMember(member.name));
    std::optional<MemberRecord> existing;
    if (member_kv) {
      MKEYS_ASSIGN_OR_RETURN(auto m, MemberFromJson(member_kv->value, member_kv->key));
      existing = std::move(m);
    }
    // The same member key retrying with the same token (through this or another manager, or
    // after a lost reply) resumes its delivery: no second use. The token must still be valid.
    const bool resume = ResumesDelivery(existing, token, token_id, verifier, member);
    if (auto refusal = CheckToken(token, verifier, now);
        refusal && !(resume && *refusal == TokenRefusal::kUsedUp)) {
      return Error(ErrorCode::kPeerRefused, std::string(TokenRefusalText(*refusal)))
          .On("token " + std::string(token_id));
    }
    std::vector<EtcdCompare> compares = {
        {TokenKey(token_id), "MOD", token_kv ? token_kv->mod_revision : 0},
        member_kv ? EtcdCompare{MemberKey(member.name), "MOD", member_kv->mod_revision}
                  : EtcdCompare{MemberKey(member.name), "CREATE", 0}};
    if (proven_pin) {
      MKEYS_ASSIGN_OR_RETURN(auto revoked, client_.Get(RevokedKey(*proven_pin)));
      if (revoked) {
        return Error(ErrorCode::kAccessDenied, "the certificate this client presented was revoked")
            .On(member.name);
      }
      compares.push_back({RevokedKey(*proven_pin), "CREATE", 0});
    }
    if (existing && !resume && token->replace_name != member.name &&
        !(proven_pin && existing->status != MemberStatus::kRevoked &&
          ConstantTimeEquals(existing->cert_pin, *proven_pin))) {
      return Error(ErrorCode::kExists, "the array already has a member named " + member.name +
                                           " (" + std::string(MemberStatusName(existing->status)) +
                                           ", certificate " +
                                           FormatFingerprint(existing->cert_pin) + ")")
          .On(member.name);
    }
    MemberRecord record = member;
    record.status = MemberStatus::kDelivered;
    record.joined_at = 0;
    record.delivered_at = now;
    std::vector<EtcdOp> ops = {Put(MemberKey(member.name), MemberToJson(record).dump())};
    std::string detail = "keys for key version " + std::to_string(member.key_version) +
                         " to certificate " + FormatFingerprint(member.cert_pin) + " at " +
                         member.address + " with token " + member.token_id + " (manager " +
                         settings_.manager_id;
    if (resume) {
      detail += "; the same member key again: its delivery resumed, no new use)";
    } else {
      TokenRecord spent = *token;
      spent.uses_left -= 1;
      ops.push_back(Put(TokenKey(token_id), TokenToJson(spent).dump()));
      detail += "; use spent, " + std::to_string(spent.uses_left) + " left; not confirmed yet)";
    }
    ops.push_back(EventOp(resume ? "delivery-resumed" : "delivered", member.name, detail, now));
    MKEYS_ASSIGN_OR_RETURN(bool done, client_.Txn(compares, ops));
    if (done) return resume;
  }
  return Contended("join");
}

Result<void> EtcdRegistry::ConfirmJoin(std::string_view name, const Digest& cert_pin,
                                       std::int64_t now) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    MKEYS_ASSIGN_OR_RETURN(auto kv, GetMember(name));
    std::optional<MemberRecord> m;
    if (kv) {
      MKEYS_ASSIGN_OR_RETURN(auto rec, MemberFromJson(kv->value, kv->key));
      m = std::move(rec);
    }
    // A second attempt (a reply lost after etcd applied the first) finds its own confirmation.
    if (attempt > 0 && m && m->status == MemberStatus::kJoined &&
        ConstantTimeEquals(m->cert_pin, cert_pin)) {
      return Ok();
    }
    if (!m || m->status != MemberStatus::kDelivered || !ConstantTimeEquals(m->cert_pin, cert_pin)) {
      return Error(ErrorCode::kPeerRefused,
                   "the delivery was removed or revoked on the manager before the "
                   "confirmation arrived")
          .On(std::string(name));
    }
    m->status = MemberStatus::kJoined;
    m->joined_at = now;
    MKEYS_ASSIGN_OR_RETURN(
        bool done,
        client_.Txn({{kv->key, "MOD", kv->mod_revision}},
                    {Put(kv->key, MemberToJson(*m).dump()),
                     EventOp("joined", name,
                             "confirmed by certificate " + FormatFingerprint(cert_pin), now)}));
    if (done) return Ok();
  }
  return Contended("confirmation");
}

Result<void> EtcdRegistry::RevokeMember(std::string_view name, std::int64_t now) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    MKEYS_ASSIGN_OR_RETURN(auto kv, GetMember(name));
    if (!kv) {
      return Error(ErrorCode::kNotFound,
                   "no such member ('mkeys array members ROOT --all' lists them)")
          .On(std::string(name));
    }
    MKEYS_ASSIGN_OR_RETURN(auto m, MemberFromJson(kv->value, kv->key));
    const std::string was(MemberStatusName(m.status));
    m.status = MemberStatus::kRevoked;
    const nlohmann::json rev = {{"member", name}, {"at", now}};
    MKEYS_ASSIGN_OR_RETURN(
        bool done,
        client_.Txn(
            {{kv->key, "MOD", kv->mod_revision}},
            {Put(kv->key, MemberToJson(m).dump()), Put(RevokedKey(m.cert_pin), rev.dump()),
             EventOp("certificate-revoked", name,
                     "certificate " + FormatFingerprint(m.cert_pin) + " (was " + was + ")", now)}));
    if (done) return Ok();
  }
  return Contended("revocation");
}

Result<bool> EtcdRegistry::IsRevoked(const Digest& cert_pin) {
  MKEYS_ASSIGN_OR_RETURN(auto kv, client_.Get(RevokedKey(cert_pin)));
  return kv.has_value();
}

Result<std::vector<MemberRecord>> EtcdRegistry::Members() {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "members/"));
  std::vector<MemberRecord> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(auto m, MemberFromJson(kv.value, kv.key));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::optional<MemberRecord>> EtcdRegistry::FindMember(std::string_view name) {
  MKEYS_ASSIGN_OR_RETURN(auto kv, GetMember(name));
  if (!kv) return std::optional<MemberRecord>();
  MKEYS_ASSIGN_OR_RETURN(auto m, MemberFromJson(kv->value, kv->key));
  return std::optional<MemberRecord>(std::move(m));
}

Result<void> EtcdRegistry::RemoveMember(std::string_view name, std::int64_t now,
                                        std::string_view why) {
  MKEYS_ASSIGN_OR_RETURN(auto kv, GetMember(name));
  if (!kv) {
    return Error(ErrorCode::kNotFound, "no such member ('mkeys array members ROOT' lists them)")
        .On(std::string(name));
  }
  MKEYS_ASSIGN_OR_RETURN(bool done,
                         client_.Txn({{kv->key, "MOD", kv->mod_revision}},
                                     {Delete(kv->key), EventOp("removed", name, why, now)}));
  if (!done) return Contended("removal");
  return Ok();
}

}  // namespace mkeys::arrayjoin::internal
