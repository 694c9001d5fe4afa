// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.4.2: security identifiers. A Sid is a small value type (no heap allocation):
// revision, 48-bit identifier authority, up to 15 sub-authorities.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mkeys/core/result.hpp"

namespace mkeys::acl {

class Sid final {
 public:
  static constexpr std::size_t kMaxSubAuthorities = 15;

  // S-1-0-0 (the NULL SID).
  Sid() = default;
  // Fails if there are more than 15 sub-authorities or the authority exceeds 48 bits.
  static Result<Sid> Create(std::uint64_t authority,
                            std::span<const std::uint32_t> sub_authorities);
  // Builds a SID known to be valid (for constants); asserts on misuse.
  static Sid Of(std::uint64_t authority, std::initializer_list<std::uint32_t> sub_authorities);

  // Parses the string form as Windows' ConvertStringSidToSid does: "S-1-5-20", hex
  // identifier authorities ("S-1-0x12-..."), hex sub-authorities, and Windows' saturation
  // of overflowing parts (see tests/data/windows-sddl/windows_is_weird.txt). Errors carry the
  // offset.
  static Result<Sid> Parse(std::string_view text);

  // Reads a binary SID at the start of `bytes`; checks the length. The size consumed is
  // ByteSize() of the result.
  static Result<Sid> Decode(std::span<const std::uint8_t> bytes);

  std::uint8_t revision() const { return revision_; }
  std::uint64_t authority() const { return authority_; }
  std::size_t sub_authority_count() const { return count_; }
  std::span<const std::uint32_t> sub_authorities() const { return {subs_.data(), count_}; }
  // The last sub-authority (the RID), or 0 if there is none.
  std::uint32_t rid() const { return count_ == 0 ? 0 : subs_[count_ - 1]; }

  // "S-1-5-20". An authority >= 2^32 is written in hex, as Windows does.
  std::string ToString() const;
  std::size_t ByteSize() const { return 8 + 4 * count_; }
  void AppendTo(std::vector<std::uint8_t>& out) const;
  std::vector<std::uint8_t> ToBytes() const;

  // True if `prefix` is this SID's domain (all but its last sub-authority) — for domain-relative
  // aliases.
  bool IsInDomain(const Sid& domain) const;

  friend bool operator==(const Sid& a, const Sid& b) {
    return a.revision_ == b.revision_ && a.authority_ == b.authority_ && a.count_ == b.count_ &&
           std::equal(a.subs_.begin(), a.subs_.begin() + a.count_, b.subs_.begin());
  }
  friend std::strong_ordering operator<=>(const Sid& a, const Sid& b);

 private:
  std::uint8_t revision_ = 1;
  std::uint8_t count_ = 1;
  std::uint64_t authority_ = 0;
  std::array<std::uint32_t, kMaxSubAuthorities> subs_{};
};

struct SidHash {
  std::size_t operator()(const Sid& sid) const;
};

// Well-known SIDs used throughout mkeys (MS-DTYP 2.4.2.4).
namespace sids {
Sid Null();                  // S-1-0-0
Sid Everyone();              // S-1-1-0   WD
Sid CreatorOwner();          // S-1-3-0   CO
Sid CreatorGroup();          // S-1-3-1   CG
Sid OwnerRights();           // S-1-3-4   OW
Sid Network();               // S-1-5-2   NU
Sid Interactive();           // S-1-5-4   IU
Sid Service();               // S-1-5-6   SU
Sid Anonymous();             // S-1-5-7   AN
Sid AuthenticatedUsers();    // S-1-5-11  AU
Sid ThisOrganization();      // S-1-5-15
Sid LocalSystem();           // S-1-5-18  SY
Sid LocalService();          // S-1-5-19  LS
Sid NetworkService();        // S-1-5-20  NS
Sid Administrators();        // S-1-5-32-544 BA
Sid Users();                 // S-1-5-32-545 BU
Sid Guests();                // S-1-5-32-546 BG
Sid BackupOperators();       // S-1-5-32-551 BO
Sid IisUsers();              // S-1-5-32-568 IS
Sid LocalAccount();          // S-1-5-113
Sid LocalAccountAndAdmin();  // S-1-5-114
Sid ConsoleLogon();          // S-1-2-1
Sid Local();                 // S-1-2-0
Sid TrustedInstaller();      // S-1-5-80-956008885-...
Sid MediumIntegrity();       // S-1-16-8192 ME
Sid HighIntegrity();         // S-1-16-12288 HI
Sid SystemIntegrity();       // S-1-16-16384 SI
Sid AllServices();           // S-1-5-80-0
}  // namespace sids

// NT SERVICE\<name>: S-1-5-80 + SHA-1 of the UTF-16LE upper-cased name as 5 LE words.
Sid ServiceSid(std::string_view service_name);
// IIS APPPOOL\<name>: S-1-5-82 + the same over the lower-cased name.
Sid AppPoolSid(std::string_view pool_name);

}  // namespace mkeys::acl
