// SPDX-License-Identifier: GPL-3.0-or-later
// MS-DTYP 2.4.2 SID: construction, binary form, string form, well-known SIDs and the
// NT SERVICE / IIS APPPOOL derivations. Parsing of the string form is in sid_parse.cpp.
#include "mkeys/acl/sid.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cassert>
#include <cctype>

#include <fmt/format.h>

namespace mkeys::acl {

Result<Sid> Sid::Create(std::uint64_t authority, std::span<const std::uint32_t> sub_authorities) {
  if (sub_authorities.size() > kMaxSubAuthorities) {
    return Error(
        ErrorCode::kInvalidArgument,
        fmt::format("a SID has at most 15 sub-authorities, not {}", sub_authorities.size()));
  }
  if (authority > 0xFFFFFFFFFFFFull) {
    return Error(ErrorCode::kInvalidArgument, "a SID's identifier authority is at most 48 bits");
  }
  Sid sid;
  sid.authority_ = authority;
  sid.count_ = static_cast<std::uint8_t>(sub_authorities.size());
  std::copy(sub_authorities.begin(), sub_authorities.end(), sid.subs_.begin());
  return sid;
}

Sid Sid::Of(std::uint64_t authority, std::initializer_list<std::uint32_t> sub_authorities) {
  auto sid = Create(
      authority, std::span<const std::uint32_t>(sub_authorities.begin(), sub_authorities.size()));
  assert(sid.ok());
  return *sid;
}

Result<Sid> Sid::Decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) {
    return Error(ErrorCode::kParse,
                 fmt::format("SID needs at least 8 bytes, {} available", bytes.size()));
  }
  if (bytes[0] != 1) {
    return Error(ErrorCode::kParse, fmt::format("SID revision is {}, not 1", bytes[0])).At(0);
  }
  const std::size_t count = bytes[1];
  if (count > kMaxSubAuthorities) {
    return Error(ErrorCode::kParse,
                 fmt::format("SID claims {} sub-authorities (at most 15)", count))
        .At(1);
  }
  if (bytes.size() < 8 + 4 * count) {
    return Error(ErrorCode::kParse, fmt::format("SID with {} sub-authorities needs {} bytes, {} "
                                                "available",
                                                count, 8 + 4 * count, bytes.size()))
        .At(1);
  }
  Sid sid;
  sid.revision_ = 1;
  sid.count_ = static_cast<std::uint8_t>(count);
  std::uint64_t authority = 0;
  for (int i = 2; i < 8; ++i) authority = authority << 8 | bytes[i];  // big-endian
  sid.authority_ = authority;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* p = bytes.data() + 8 + 4 * i;
    sid.subs_[i] = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                   static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
  }
  return sid;
}

std::string Sid::ToString() const {
  std::string out = authority_ >= (1ull << 32) ? fmt::format("S-{}-0x{:X}", revision_, authority_)
                                               : fmt::format("S-{}-{}", revision_, authority_);
  for (std::size_t i = 0; i < count_; ++i) {
    fmt::format_to(std::back_inserter(out), "-{}", subs_[i]);
  }
  return out;
}

void Sid::AppendTo(std::vector<std::uint8_t>& out) const {
  out.push_back(revision_);
  out.push_back(count_);
  for (int shift = 40; shift >= 0; shift -= 8) {
    out.push_back(static_cast<std::uint8_t>(authority_ >> shift));
  }
  for (std::size_t i = 0; i < count_; ++i) {
    const std::uint32_t v = subs_[i];
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    out.push_back(static_cast<std::uint8_t>(v >> 24));
  }
}

std::vector<std::uint8_t> Sid::ToBytes() const {
  std::vector<std::uint8_t> out;
  out.reserve(ByteSize());
  AppendTo(out);
  return out;
}

bool Sid::IsInDomain(const Sid& domain) const {
  if (authority_ != domain.authority_ || count_ != domain.count_ + 1) return false;
  return std::equal(domain.subs_.begin(), domain.subs_.begin() + domain.count_, subs_.begin());
}

std::strong_ordering operator<=>(const Sid& a, const Sid& b) {
  if (auto c = a.revision_ <=> b.revision_; c != 0) return c;
  if (auto c = a.authority_ <=> b.authority_; c != 0) return c;
  if (auto c = a.count_ <=> b.count_; c != 0) return c;
  for (std::size_t i = 0; i < a.count_; ++i) {
    if (auto c = a.subs_[i] <=> b.subs_[i]; c != 0) return c;
  }
  return std::strong_ordering::equal;
}

std::size_t SidHash::operator()(const Sid& sid) const {
  std::size_t h = std::hash<std::uint64_t>{}(sid.authority()) ^ sid.sub_authority_count();
  for (std::uint32_t s : sid.sub_authorities()) {
    h = h * 1000003u ^ s;
  }
  return h;
}

namespace sids {
Sid Null() {
  return Sid::Of(0, {0});
}
Sid Everyone() {
  return Sid::Of(1, {0});
}
Sid CreatorOwner() {
  return Sid::Of(3, {0});
}
Sid CreatorGroup() {
  return Sid::Of(3, {1});
}
Sid OwnerRights() {
  return Sid::Of(3, {4});
}
Sid Network() {
  return Sid::Of(5, {2});
}
Sid Interactive() {
  return Sid::Of(5, {4});
}
Sid Service() {
  return Sid::Of(5, {6});
}
Sid Anonymous() {
  return Sid::Of(5, {7});
}
Sid AuthenticatedUsers() {
  return Sid::Of(5, {11});
}
Sid ThisOrganization() {
  return Sid::Of(5, {15});
}
Sid LocalSystem() {
  return Sid::Of(5, {18});
}
Sid LocalService() {
  return Sid::Of(5, {19});
}
Sid NetworkService() {
  return Sid::Of(5, {20});
}
Sid Administrators() {
  return Sid::Of(5, {32, 544});
}
Sid Users() {
  return Sid::Of(5, {32, 545});
}
Sid Guests() {
  return Sid::Of(5, {32, 546});
}
Sid BackupOperators() {
  return Sid::Of(5, {32, 551});
}
Sid IisUsers() {
  return Sid::Of(5, {32, 568});
}
Sid LocalAccount() {
  return Sid::Of(5, {113});
}
Sid LocalAccountAndAdmin() {
  return Sid::Of(5, {114});
}
Sid ConsoleLogon() {
  return Sid::Of(2, {1});
}
Sid Local() {
  return Sid::Of(2, {0});
}
Sid TrustedInstaller() {
  return ServiceSid("TrustedInstaller");
}
Sid MediumIntegrity() {
  return Sid::Of(16, {8192});
}
Sid HighIntegrity() {
  return Sid::Of(16, {12288});
}
Sid SystemIntegrity() {
  return Sid::Of(16, {16384});
}
Sid AllServices() {
  return Sid::Of(5, {80, 0});
}
}  // namespace sids

namespace {

// S-1-5-<rid>-<5 words of SHA-1 over the UTF-16LE name> (ASCII names; other bytes are
// passed through as UTF-16 code units of Latin-1, which is what an ASCII service name needs).
Sid DerivedSid(std::uint32_t rid, std::string_view name, bool upper) {
  std::vector<std::uint8_t> utf16;
  utf16.reserve(name.size() * 2);
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    const unsigned char folded = upper ? static_cast<unsigned char>(std::toupper(u))
                                       : static_cast<unsigned char>(std::tolower(u));
    utf16.push_back(folded);
    utf16.push_back(0);
  }
  std::uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1(utf16.data(), utf16.size(), digest);
  std::uint32_t words[5];
  for (int i = 0; i < 5; ++i) {
    words[i] = static_cast<std::uint32_t>(digest[4 * i]) |
               static_cast<std::uint32_t>(digest[4 * i + 1]) << 8 |
               static_cast<std::uint32_t>(digest[4 * i + 2]) << 16 |
               static_cast<std::uint32_t>(digest[4 * i + 3]) << 24;
  }
  return Sid::Of(5, {rid, words[0], words[1], words[2], words[3], words[4]});
}

}  // namespace

Sid ServiceSid(std::string_view service_name) {
  return DerivedSid(80, service_name, true);
}
Sid AppPoolSid(std::string_view pool_name) {
  return DerivedSid(82, pool_name, false);
}

}  // namespace mkeys::acl
