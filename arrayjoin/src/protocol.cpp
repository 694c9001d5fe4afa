// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/arrayjoin/protocol.hpp"

#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/core/hex.hpp"

namespace mkeys::arrayjoin {
namespace {

void Append(std::vector<std::uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}
void Append(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> s) {
  out.insert(out.end(), s.begin(), s.end());
}

Result<void> ExpectType(const Frame& f, MessageType type) {
  if (f.type != type) {
    return Error(ErrorCode::kParse, "expected a " + std::string(MessageTypeName(type)) +
                                        " message, got " + std::string(MessageTypeName(f.type)));
  }
  return Ok();
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> GetFixed(const nlohmann::json& body, std::string_view field) {
  MKEYS_ASSIGN_OR_RETURN(auto bytes, GetHex(body, field, N));
  std::array<std::uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

nlohmann::json ItemJson(const OfferItem& item) {
  return {{"container", item.container},
          {"kind", item.kind},
          {"version", item.version},
          {"ephemeral", HexEncode(item.wrapped.ephemeral_public)},
          {"nonce", HexEncode(item.wrapped.nonce)},
          {"ciphertext", HexEncode(item.wrapped.ciphertext)}};
}

Result<std::vector<OfferItem>> GetItems(const nlohmann::json& body) {
  const auto it = body.find("items");
  if (it == body.end() || !it->is_array()) {
    return Error(ErrorCode::kParse, "frame field \"items\" must be an array");
  }
  if (it->size() > 64) {
    return Error(ErrorCode::kParse, "frame field \"items\" has more than 64 entries");
  }
  std::vector<OfferItem> items;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& j = (*it)[i];
    auto fail = [i](const Error& e) {
      return Error(ErrorCode::kParse, "items[" + std::to_string(i) + "]: " + e.message());
    };
    if (!j.is_object()) {
      return Error(ErrorCode::kParse, "items[" + std::to_string(i) + "] must be an object");
    }
    OfferItem item;
    auto container = GetName(j, "container");
    if (!container) return fail(container.error());
    item.container = *container;
    auto kind = GetName(j, "kind", 32);
    if (!kind) return fail(kind.error());
    if (*kind != kItemRsa && *kind != kItemConfig) {
      return Error(ErrorCode::kParse,
                   "items[" + std::to_string(i) + "]: unknown item kind \"" + *kind + "\"");
    }
    item.kind = *kind;
    auto version = GetUint(j, "version", 0xffffffffu);
    if (!version) return fail(version.error());
    item.version = static_cast<std::uint32_t>(*version);
    auto eph = GetFixed<32>(j, "ephemeral");
    if (!eph) return fail(eph.error());
    item.wrapped.ephemeral_public = *eph;
    auto nonce = GetFixed<12>(j, "nonce");
    if (!nonce) return fail(nonce.error());
    item.wrapped.nonce = *nonce;
    auto ct = GetHex(j, "ciphertext", 0, 16384);
    if (!ct) return fail(ct.error());
    if (ct->size() < 16) {
      return Error(ErrorCode::kParse,
                   "items[" + std::to_string(i) + "]: ciphertext shorter than its tag");
    }
    item.wrapped.ciphertext = std::move(*ct);
    items.push_back(std::move(item));
  }
  return items;
}

Result<void> ValidateName(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > 64) {
    return Error(ErrorCode::kInvalidArgument, std::string(what) + " must have 1 to 64 characters")
        .On(std::string(name));
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok || (i == 0 && (c == '.' || c == '-'))) {
      return Error(ErrorCode::kInvalidArgument,
                   std::string(what) +
                       " may hold only letters, digits, '.', '_' and '-' "
                       "(not first)")
          .At(i)
          .On(std::string(name));
    }
  }
  return Ok();
}

}  // namespace

Result<void> ValidateArrayName(std::string_view name) {
  return ValidateName(name, "array name");
}
Result<void> ValidateMemberName(std::string_view name) {
  return ValidateName(name, "member name");
}

Digest JoinProof(const SecretBytes& token_secret, const Ekm& ekm, std::string_view member,
                 std::span<const std::uint8_t, 32> wrap_key) {
  std::vector<std::uint8_t> msg;
  Append(msg, "mkeys-join-proof-v1");
  msg.push_back(0);
  Append(msg, ekm);
  Append(msg, member);
  msg.push_back(0);
  Append(msg, wrap_key);
  return HmacSha256(token_secret.RevealSecret(), msg);
}

Digest ConfirmCheck(const SecretBytes& config_key, const Ekm& ekm) {
  std::vector<std::uint8_t> msg;
  Append(msg, "mkeys-join-confirm-v1");
  msg.push_back(0);
  Append(msg, ekm);
  return HmacSha256(config_key.RevealSecret(), msg);
}

Frame EncodeHello(const JoinHello& m) {
  return {MessageType::kJoinHello,
          {{"token_id", m.token_id},
           {"token_secret", HexEncode(m.token_secret.RevealSecret())},
           {"proof", HexEncode(m.proof)},
           {"member", m.member},
           {"wrap_key", HexEncode(m.wrap_key)},
           {"member_key", HexEncode(m.member_key_der)}}};
}

Result<JoinHello> DecodeHello(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kJoinHello));
  JoinHello m;
  MKEYS_ASSIGN_OR_RETURN(m.token_id, GetName(f.body, "token_id", kTokenIdBytes * 2));
  MKEYS_ASSIGN_OR_RETURN(auto secret, GetHex(f.body, "token_secret", kTokenSecretBytes));
  m.token_secret = SecretBytes(secret);
  std::fill(secret.begin(), secret.end(), std::uint8_t{0});
  MKEYS_ASSIGN_OR_RETURN(m.proof, GetFixed<32>(f.body, "proof"));
  MKEYS_ASSIGN_OR_RETURN(m.member, GetName(f.body, "member", 64));
  MKEYS_TRY(ValidateMemberName(m.member));
  MKEYS_ASSIGN_OR_RETURN(m.wrap_key, GetFixed<32>(f.body, "wrap_key"));
  MKEYS_ASSIGN_OR_RETURN(m.member_key_der, GetHex(f.body, "member_key", 0, 1024));
  if (m.member_key_der.empty()) {
    return Error(ErrorCode::kParse, "frame field \"member_key\" is empty");
  }
  return m;
}

Frame EncodeOffer(const JoinOffer& m) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : m.items) items.push_back(ItemJson(item));
  return {MessageType::kJoinOffer,
          {{"array", m.array},
           {"array_id", m.array_id},
           {"version", m.version},
           {"member", m.member},
           {"items", items},
           {"member_cert", m.member_cert_pem},
           {"ca_cert", m.ca_cert_pem}}};
}

Result<JoinOffer> DecodeOffer(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kJoinOffer));
  JoinOffer m;
  MKEYS_ASSIGN_OR_RETURN(m.array, GetName(f.body, "array", 64));
  MKEYS_ASSIGN_OR_RETURN(m.array_id, GetName(f.body, "array_id", 64));
  MKEYS_ASSIGN_OR_RETURN(auto version, GetUint(f.body, "version", 0xffffffffu));
  m.version = static_cast<std::uint32_t>(version);
  MKEYS_ASSIGN_OR_RETURN(m.member, GetName(f.body, "member", 64));
  MKEYS_ASSIGN_OR_RETURN(m.items, GetItems(f.body));
  MKEYS_ASSIGN_OR_RETURN(m.member_cert_pem, GetString(f.body, "member_cert", 16384));
  MKEYS_ASSIGN_OR_RETURN(m.ca_cert_pem, GetString(f.body, "ca_cert", 16384));
  return m;
}

Frame EncodeConfirm(const JoinConfirm& m) {
  return {MessageType::kJoinConfirm, {{"check", HexEncode(m.check)}}};
}

Result<JoinConfirm> DecodeConfirm(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kJoinConfirm));
  JoinConfirm m;
  MKEYS_ASSIGN_OR_RETURN(m.check, GetFixed<32>(f.body, "check"));
  return m;
}

Frame EncodeDone(const JoinDone& m) {
  return {MessageType::kJoinDone, {{"member", m.member}, {"joined_at", m.joined_at}}};
}

Result<JoinDone> DecodeDone(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kJoinDone));
  JoinDone m;
  MKEYS_ASSIGN_OR_RETURN(m.member, GetName(f.body, "member", 64));
  MKEYS_ASSIGN_OR_RETURN(auto at, GetUint(f.body, "joined_at", 0x7fffffffffffffffULL));
  m.joined_at = static_cast<std::int64_t>(at);
  return m;
}

Frame EncodeError(const PeerError& m) {
  return {MessageType::kError, ErrorBody(m.code, m.message, m.hint)};
}

Result<PeerError> DecodeError(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kError));
  PeerError m;
  MKEYS_ASSIGN_OR_RETURN(m.code, GetName(f.body, "code", 64));
  MKEYS_ASSIGN_OR_RETURN(m.message, GetString(f.body, "message", 2048));
  MKEYS_ASSIGN_OR_RETURN(m.hint, GetString(f.body, "hint", 2048));
  return m;
}

Frame EncodeMemberRequest(const MemberRequest& m) {
  return {MessageType::kMemberRequest,
          {{"op", m.op}, {"have_version", m.have_version}, {"wrap_key", HexEncode(m.wrap_key)}}};
}

Result<MemberRequest> DecodeMemberRequest(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kMemberRequest));
  MemberRequest m;
  MKEYS_ASSIGN_OR_RETURN(m.op, GetName(f.body, "op", 16));
  if (m.op != "status" && m.op != "leave" && m.op != "sync") {
    return Error(ErrorCode::kParse, "unknown member request \"" + m.op + "\"");
  }
  MKEYS_ASSIGN_OR_RETURN(auto v, GetUint(f.body, "have_version", 0xffffffffu));
  m.have_version = static_cast<std::uint32_t>(v);
  MKEYS_ASSIGN_OR_RETURN(m.wrap_key, GetFixed<32>(f.body, "wrap_key"));
  return m;
}

Frame EncodeMemberReply(const MemberReply& m) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : m.items) items.push_back(ItemJson(item));
  return {MessageType::kMemberReply,
          {{"member", m.member},
           {"current_version", m.current_version},
           {"items", items},
           {"endpoints", m.endpoints}}};
}

namespace {

Result<std::vector<std::string>> GetEndpoints(const nlohmann::json& body) {
  std::vector<std::string> out;
  const auto it = body.find("endpoints");
  if (it == body.end()) return out;
  if (!it->is_array() || it->size() > kMaxEndpoints) {
    return Error(ErrorCode::kParse, "frame field \"endpoints\" must be an array of at most " +
                                        std::to_string(kMaxEndpoints) + " strings");
  }
  for (const auto& e : *it) {
    nlohmann::json one = {{"endpoint", e}};
    MKEYS_ASSIGN_OR_RETURN(auto text, GetName(one, "endpoint", 270));
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace

RefusalAdvice AdviceFor(std::string_view code) {
  if (code == "too-many-failures") {
    return {true, "retry after the time given; a member's own certificate is never refused"};
  }
  if (code == "internal") return {true, "the manager has a problem; retry once it is fixed"};
  if (code == "token-expired" || code == "token-revoked" || code == "token-used-up" ||
      code == "token-unknown" || code == "token-invalid") {
    return {false, "this token will be refused again; ask the manager's operator for a new one"};
  }
  if (code == "name-taken") {
    return {false,
            "refused again until the operator removes the member or issues a token with "
            "--replace NAME, or a join with --rejoin proves the member's key"};
  }
  if (code == "not-a-member" || code == "certificate-revoked") {
    return {false, "this member's certificate is not accepted; it must join again"};
  }
  if (code == "confirm-mismatch") {
    return {false, "the keys were delivered and the token use is spent; ask for a new token"};
  }
  return {false, "the same request will be refused again"};
}

Result<MemberReply> DecodeMemberReply(const Frame& f) {
  MKEYS_TRY(ExpectType(f, MessageType::kMemberReply));
  MemberReply m;
  const auto it = f.body.find("member");
  if (it == f.body.end() || !it->is_boolean()) {
    return Error(ErrorCode::kParse, "frame field \"member\" must be a boolean");
  }
  m.member = it->get<bool>();
  MKEYS_ASSIGN_OR_RETURN(auto v, GetUint(f.body, "current_version", 0xffffffffu));
  m.current_version = static_cast<std::uint32_t>(v);
  MKEYS_ASSIGN_OR_RETURN(m.items, GetItems(f.body));
  MKEYS_ASSIGN_OR_RETURN(m.endpoints, GetEndpoints(f.body));
  return m;
}

}  // namespace mkeys::arrayjoin
