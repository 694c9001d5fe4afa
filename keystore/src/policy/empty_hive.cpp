// SPDX-License-Identifier: GPL-3.0-or-later
// The minimal empty hive, written from the regf format (docs/machine-policy.md, "The minimal
// hive"): base block, one hbin with the root nk cell, its sk cell and one free cell.
#include <fmt/format.h>

#include <chrono>

#include "mkeys/core/files.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"

namespace fs = std::filesystem;

namespace mkeys::keystore {
namespace {

constexpr std::size_t kBlock = 4096;           // base block and hbin size
constexpr std::uint32_t kRootCell = 0x20;      // first cell after the 32-byte hbin header
constexpr std::uint32_t kNoCell = 0xFFFFFFFF;  // "no list" in nk fields
constexpr std::uint16_t kRootFlags = 0x0004 | 0x0008 | 0x0020;  // HIVE_ENTRY|NO_DELETE|COMP_NAME
constexpr std::uint32_t kKeyAllAccess = 0x000F003F;

std::uint64_t FileTimeNow() {
  using namespace std::chrono;
  const auto since_unix = duration_cast<nanoseconds>(system_clock::now().time_since_epoch());
  constexpr std::uint64_t kUnixEpochIn100ns = 116444736000000000ULL;
  return kUnixEpochIn100ns + static_cast<std::uint64_t>(since_unix.count() / 100);
}

std::size_t Align8(std::size_t n) {
  return (n + 7) & ~std::size_t{7};
}

// O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KA;;;BA), self-relative: the key's security.
std::vector<std::uint8_t> RootSecurityDescriptor() {
  const acl::Sid system = acl::Sid::Of(5, {18});
  const acl::Sid admins = acl::Sid::Of(5, {32, 544});
  std::vector<std::uint8_t> dacl;
  for (const acl::Sid* sid : {&system, &admins}) {
    dacl.push_back(0x00);  // ACCESS_ALLOWED_ACE_TYPE
    dacl.push_back(0x02);  // CONTAINER_INHERIT_ACE
    le::Put16(dacl, static_cast<std::uint16_t>(8 + sid->ByteSize()));
    le::Put32(dacl, kKeyAllAccess);
    sid->AppendTo(dacl);
  }
  std::vector<std::uint8_t> acl_bytes{2, 0};  // ACL_REVISION
  le::Put16(acl_bytes, static_cast<std::uint16_t>(8 + dacl.size()));
  le::Put16(acl_bytes, 2);
  le::Put16(acl_bytes, 0);
  le::Append(acl_bytes, dacl);

  std::vector<std::uint8_t> sd{1, 0};
  le::Put16(sd, 0x8004);  // SE_SELF_RELATIVE | SE_DACL_PRESENT
  const auto dacl_at = static_cast<std::uint32_t>(20);
  const auto owner_at = static_cast<std::uint32_t>(dacl_at + acl_bytes.size());
  const auto group_at = static_cast<std::uint32_t>(owner_at + admins.ByteSize());
  le::Put32(sd, owner_at);
  le::Put32(sd, group_at);
  le::Put32(sd, 0);  // no SACL
  le::Put32(sd, dacl_at);
  le::Append(sd, acl_bytes);
  admins.AppendTo(sd);
  system.AppendTo(sd);
  return sd;
}

std::vector<std::uint8_t> NkCell(std::string_view name, std::uint32_t sk_offset,
                                 std::uint64_t now) {
  std::vector<std::uint8_t> nk{'n', 'k'};
  le::Put16(nk, kRootFlags);
  le::Put64(nk, now);
  le::Put32(nk, 0);        // access bits
  le::Put32(nk, kNoCell);  // parent (none: the root)
  le::Put32(nk, 0);        // subkeys
  le::Put32(nk, 0);        // volatile subkeys
  le::Put32(nk, kNoCell);  // subkey list
  le::Put32(nk, kNoCell);  // volatile subkey list
  le::Put32(nk, 0);        // values
  le::Put32(nk, kNoCell);  // value list
  le::Put32(nk, sk_offset);
  le::Put32(nk, kNoCell);                        // class name
  for (int i = 0; i < 5; ++i) le::Put32(nk, 0);  // largest names/data, workvar
  le::Put16(nk, static_cast<std::uint16_t>(name.size()));
  le::Put16(nk, 0);  // class name length
  nk.insert(nk.end(), name.begin(), name.end());
  return nk;
}

std::vector<std::uint8_t> SkCell(std::uint32_t self, const std::vector<std::uint8_t>& sd) {
  std::vector<std::uint8_t> sk{'s', 'k'};
  le::Put16(sk, 0);
  le::Put32(sk, self);  // flink: the only sk points at itself
  le::Put32(sk, self);  // blink
  le::Put32(sk, 1);     // reference count: the root key
  le::Put32(sk, static_cast<std::uint32_t>(sd.size()));
  le::Append(sk, sd);
  return sk;
}

// Appends a used cell (negative size, 8-aligned) holding `body`; returns its offset.
std::uint32_t AppendCell(std::vector<std::uint8_t>& bin, const std::vector<std::uint8_t>& body) {
  const auto offset = static_cast<std::uint32_t>(bin.size());
  const std::size_t size = Align8(4 + body.size());
  le::Put32(bin, static_cast<std::uint32_t>(-static_cast<std::int32_t>(size)));
  le::Append(bin, body);
  bin.resize(offset + size, 0);
  return offset;
}

std::vector<std::uint8_t> BaseBlock(std::uint64_t now) {
  std::vector<std::uint8_t> base{'r', 'e', 'g', 'f'};
  le::Put32(base, 1);  // primary sequence number
  le::Put32(base, 1);  // secondary sequence number: equal, nothing to replay
  le::Put64(base, now);
  le::Put32(base, 1);  // major version
  le::Put32(base, 5);  // minor version
  le::Put32(base, 0);  // file type: primary
  le::Put32(base, 1);  // file format: direct memory load
  le::Put32(base, kRootCell);
  le::Put32(base, static_cast<std::uint32_t>(kBlock));  // hive bins data size
  le::Put32(base, 1);                                   // clustering factor
  base.resize(kBlock, 0);
  std::uint32_t checksum = 0;
  for (std::size_t at = 0; at < 508; at += 4) checksum ^= le::Read32(base, at);
  if (checksum == 0) checksum = 1;
  if (checksum == 0xFFFFFFFF) checksum = 0xFFFFFFFE;
  le::Set32(base, 508, checksum);
  return base;
}

}  // namespace

std::vector<std::uint8_t> BuildEmptyHive(std::string_view root_name) {
  const std::uint64_t now = FileTimeNow();
  std::vector<std::uint8_t> bin{'h', 'b', 'i', 'n'};
  le::Put32(bin, 0);  // offset of this hbin from the first
  le::Put32(bin, static_cast<std::uint32_t>(kBlock));
  le::Put64(bin, 0);    // reserved
  le::Put64(bin, now);  // timestamp
  le::Put32(bin, 0);    // spare
  const std::size_t nk_size = Align8(4 + NkCell(root_name, 0, now).size());
  const auto sk_offset = static_cast<std::uint32_t>(kRootCell + nk_size);
  AppendCell(bin, NkCell(root_name, sk_offset, now));
  AppendCell(bin, SkCell(sk_offset, RootSecurityDescriptor()));
  const auto free_size = static_cast<std::uint32_t>(kBlock - bin.size());
  le::Put32(bin, free_size);  // positive: a free cell filling the rest of the bin
  bin.resize(kBlock, 0);

  std::vector<std::uint8_t> hive = BaseBlock(now);
  le::Append(hive, bin);
  return hive;
}

Result<void> WriteEmptyHive(const fs::path& file, std::string_view root_name) {
  if (root_name.empty() || root_name.size() > 255) {
    return Error(ErrorCode::kInvalidArgument, "a hive's root key name needs 1 to 255 characters");
  }
  std::error_code ec;
  if (fs::exists(file, ec)) {
    return std::move(Error(ErrorCode::kExists, "the hive file exists already").On(file.string()));
  }
  return files::WriteFileAtomic(file, BuildEmptyHive(root_name), 0600);
}

}  // namespace mkeys::keystore
