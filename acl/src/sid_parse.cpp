// SPDX-License-Identifier: GPL-3.0-or-later
// Sid::Parse: the string form of a SID, read the way Windows' ConvertStringSidToSidW reads it
// (tests/data/windows-sddl: windows_is_weird.txt, windows_is_less_fussy.txt):
//  - "S-" or "s-", then revision, identifier authority and sub-authorities separated by '-';
//  - blanks before a number are skipped ("S- 1- 2-3" is S-1-2-3), nothing after it;
//  - a number may be hex with "0x"; a revision written in hex ("S-0x1-...") makes every
//    following part hex ("S-0x1-20-0-579" is S-1-32-0-1401);
//  - a sub-authority that overflows 32 bits saturates to 4294967295; the identifier
//    authority may use 48 bits (decimal or hex) and is rejected beyond that;
//  - at least one sub-authority ("S-1-5" is rejected).
#include <fmt/format.h>

#include "internal/sid_parse.hpp"
#include "mkeys/acl/sid.hpp"

namespace mkeys::acl {
namespace internal {
namespace {

int DigitValue(char c, int base) {
  int v = -1;
  if (c >= '0' && c <= '9') v = c - '0';
  if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
  if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
  return v < base ? v : -1;
}

struct Number {
  std::uint64_t value = 0;  // saturated at kSaturate
  bool hex = false;         // written with 0x (or in hex mode)
  bool overflow = false;    // more than 48 bits were given
};

Error SidError(std::string message, std::size_t position) {
  return std::move(Error(ErrorCode::kParse, std::move(message)).At(position));
}

// Reads one number at `pos`; `hex_mode` makes the base 16 with an optional "0x".
Result<Number> ReadNumber(std::string_view text, std::size_t& pos, bool hex_mode) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  Number n;
  int base = hex_mode ? 16 : 10;
  if (pos + 1 < text.size() && text[pos] == '0' && (text[pos + 1] == 'x' || text[pos + 1] == 'X') &&
      pos + 2 < text.size() && DigitValue(text[pos + 2], 16) >= 0) {
    base = 16;
    pos += 2;
  }
  n.hex = base == 16;
  const std::size_t start = pos;
  while (pos < text.size()) {
    const int d = DigitValue(text[pos], base);
    if (d < 0) break;
    // In SDDL "O:S-1-2-0x200D:" the 'D' starts the DACL, it is not a hex digit.
    if ((text[pos] == 'D' || text[pos] == 'd') && pos + 1 < text.size() && text[pos + 1] == ':') {
      break;
    }
    if (n.value <= 0xFFFFFFFFFFFFull) {
      n.value = n.value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    }
    if (n.value > 0xFFFFFFFFFFFFull) n.overflow = true;
    ++pos;
  }
  if (pos == start) {
    return SidError("a SID part must be a number", pos);
  }
  return n;
}

}  // namespace

Result<std::pair<Sid, std::size_t>> ParseSidPrefix(std::string_view text) {
  if (text.size() < 2 || (text[0] != 'S' && text[0] != 's') || text[1] != '-') {
    return SidError("a SID string starts with \"S-\"", 0);
  }
  std::size_t pos = 2;
  MKEYS_ASSIGN_OR_RETURN(const Number revision, ReadNumber(text, pos, false));
  if (revision.overflow || revision.value != 1) {
    return SidError(fmt::format("SID revision must be 1"), 2);
  }
  const bool hex_mode = revision.hex;
  if (pos >= text.size() || text[pos] != '-') {
    return SidError("a SID needs an identifier authority after the revision", pos);
  }
  ++pos;
  const std::size_t authority_pos = pos;
  MKEYS_ASSIGN_OR_RETURN(const Number authority, ReadNumber(text, pos, hex_mode));
  if (authority.overflow) {
    return SidError("SID identifier authority exceeds 48 bits", authority_pos);
  }
  const std::uint64_t authority_value = authority.value;
  std::uint32_t subs[Sid::kMaxSubAuthorities];
  std::size_t count = 0;
  while (pos < text.size() && text[pos] == '-') {
    // A '-' not followed by a number ends the SID there only if nothing follows: "S-1-5-"
    // is malformed.
    ++pos;
    const std::size_t part_pos = pos;
    MKEYS_ASSIGN_OR_RETURN(const Number sub, ReadNumber(text, pos, hex_mode));
    if (count == Sid::kMaxSubAuthorities) {
      return SidError("a SID has at most 15 sub-authorities", part_pos);
    }
    subs[count++] = sub.overflow || sub.value > 0xFFFFFFFFull
                        ? 0xFFFFFFFFu
                        : static_cast<std::uint32_t>(sub.value);
  }
  if (count == 0) {
    // ConvertStringSidToSid("S-1-5") fails with ERROR_INVALID_SID (Wine's advapi32 tests,
    // run on Windows: "expected failure with no sub authorities").
    return SidError("a SID needs at least one sub-authority", pos);
  }
  MKEYS_ASSIGN_OR_RETURN(Sid sid,
                         Sid::Create(authority_value, std::span<const std::uint32_t>(subs, count)));
  return std::make_pair(sid, pos);
}

}  // namespace internal

Result<Sid> Sid::Parse(std::string_view text) {
  MKEYS_ASSIGN_OR_RETURN(auto parsed, internal::ParseSidPrefix(text));
  if (parsed.second != text.size()) {
    return internal::SidError(fmt::format("unexpected '{}' in SID", text[parsed.second]),
                              parsed.second);
  }
  return parsed.first;
}

}  // namespace mkeys::acl
