// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/acl/icacls.hpp"

#include <array>
#include <cctype>

#include <fmt/format.h>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::acl {
namespace {

struct RightToken {
  std::string_view name;
  AccessMask mask;
};

// icacls' simple rights, in the order it prints them. The masks are what `icacls /grant X:<r>`
// writes and what its listing recognises (checked against published listings: `(R,W)` for
// 0x12019f, `(W,Rc,X,RA)` for FILE_GENERIC_WRITE|FILE_GENERIC_EXECUTE — so W lacks
// READ_CONTROL — `(RX,D,WDAC)`, `(W,D,Rc,DC)`, `(M,DC)`, `(M,WDAC,WO)`; D is DELETE|SYNCHRONIZE,
// as `(DE,WDAC,WO,WD,DC)` for a deny ACE without SYNCHRONIZE shows).
constexpr std::array<RightToken, 6> kSimpleRights = {{
    {"F", rights::kFileAllAccess},  // 0x1f01ff
    {"M", 0x001301BF},              // F without DELETE_CHILD, WRITE_DAC, WRITE_OWNER
    {"RX", 0x001200A9},             // FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
    {"R", rights::kFileGenericRead},
    {"W", 0x00100116},  // write data, append, write EA, write attributes, synchronize
    {"D", rights::kDelete | rights::kSynchronize},
}};

// icacls' specific rights, in the order its help lists them and its listing prints them
// (`(S,RD,X,RA)`, `(WO,S)`, `(DE,WDAC,WO,WD,DC)`, `(W,Rc,GW,DC)`). The listing spells
// READ_CONTROL "Rc"; the help and the parser say "RC" (parsing is case-insensitive).
constexpr std::array<RightToken, 20> kSpecificRights = {{
    {"DE", rights::kDelete},         {"Rc", rights::kReadControl},
    {"WDAC", rights::kWriteDac},     {"WO", rights::kWriteOwner},
    {"S", rights::kSynchronize},     {"AS", rights::kAccessSystemSecurity},
    {"MA", rights::kMaximumAllowed}, {"GR", rights::kGenericRead},
    {"GW", rights::kGenericWrite},   {"GE", rights::kGenericExecute},
    {"GA", rights::kGenericAll},     {"RD", rights::kReadData},
    {"WD", rights::kWriteData},      {"AD", rights::kAppendData},
    {"REA", rights::kReadEa},        {"WEA", rights::kWriteEa},
    {"X", rights::kExecute},         {"DC", rights::kDeleteChild},
    {"RA", rights::kReadAttributes}, {"WA", rights::kWriteAttributes},
}};

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The items icacls prints for a mask: simple rights first (each one not already implied by an
// earlier one), then the specific rights left over, then any bits icacls has no name for.
std::vector<std::string> RightItems(AccessMask mask) {
  std::vector<std::string> items;
  if (mask == 0) return {"N"};
  AccessMask covered = 0;
  // GENERIC_ALL on its own is listed as F (e.g. `CREATOR OWNER:(OI)(CI)(IO)(F)` for GA).
  if (mask == rights::kGenericAll) return {"F"};
  for (const auto& simple : kSimpleRights) {
    if (HasAll(mask, simple.mask) && !HasAll(covered, simple.mask)) {
      items.emplace_back(simple.name);
      covered |= simple.mask;
    }
  }
  AccessMask rest = mask & ~covered;
  for (const auto& specific : kSpecificRights) {
    if ((rest & specific.mask) != 0) {
      items.emplace_back(specific.name);
      rest &= ~specific.mask;
    }
  }
  if (rest != 0) items.push_back(fmt::format("0x{:x}", rest));
  return items;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

std::optional<AccessMask> LookupRight(std::string_view word) {
  const std::string upper = Upper(word);
  if (upper == "N") return AccessMask{0};
  for (const auto& simple : kSimpleRights) {
    if (upper == simple.name) return simple.mask;
  }
  for (const auto& specific : kSpecificRights) {
    if (upper == Upper(specific.name)) return specific.mask;
  }
  return std::nullopt;
}

Result<AccessMask> ParseHexMask(std::string_view text, std::size_t base) {
  if (text.size() <= 2 || text.size() > 10) {
    return Error(ErrorCode::kParse, "a hex mask needs 1 to 8 digits after 0x").At(base);
  }
  AccessMask value = 0;
  for (std::size_t i = 2; i < text.size(); ++i) {
    const char c = text[i];
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) {
      return Error(ErrorCode::kParse, fmt::format("'{}' is not a hex digit", c)).At(base + i);
    }
    value = (value << 4) | static_cast<AccessMask>(digit);
  }
  return value;
}

// Parses rights at `text`, reporting positions relative to `base`.
Result<AccessMask> ParseRightsAt(std::string_view text, std::size_t base) {
  if (text.empty()) return Error(ErrorCode::kParse, "no rights given").At(base);
  std::string_view body = text;
  std::size_t offset = base;
  if (body.front() == '(') {
    if (body.back() != ')') {
      return Error(ErrorCode::kParse, "')' expected to close the rights list")
          .At(base + text.size());
    }
    body = body.substr(1, body.size() - 2);
    offset += 1;
  } else if (body.back() == ')') {
    return Error(ErrorCode::kParse, "')' without '('").At(base + text.size() - 1);
  }
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') &&
      body.find(',') == std::string_view::npos) {
    return ParseHexMask(body, offset);
  }
  AccessMask mask = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = body.find(',', start);
    const std::string_view word = body.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (word.empty()) return Error(ErrorCode::kParse, "empty right in the list").At(offset + start);
    auto right = LookupRight(word);
    if (!right) {
      return Error(ErrorCode::kParse,
                   fmt::format("unknown right '{}' (simple: F, M, RX, R, W, D, N; specific: DE, "
                               "RC, WDAC, WO, S, AS, MA, GR, GW, GE, GA, RD, WD, AD, REA, WEA, "
                               "X, DC, RA, WA; or a hex mask)",
                               word))
          .At(offset + start);
    }
    mask |= *right;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return mask;
}

}  // namespace

std::string FormatIcaclsRights(AccessMask mask) {
  const auto items = RightItems(mask);
  // A single simple right stands alone ("R"), as typed after /grant; anything else is a list.
  if (items.size() == 1) {
    if (items[0] == "N") return items[0];
    for (const auto& simple : kSimpleRights) {
      if (items[0] == simple.name) return items[0];
    }
  }
  return "(" + Join(items) + ")";
}

std::vector<std::string> FormatIcacls(const Acl& dacl) {
  std::vector<std::string> lines;
  for (const Ace& ace : dacl.aces) {
    std::string line = DisplayName(ace.sid) + ":";
    // icacls prints (I) first, then the inheritance flags in bit order: (OI)(CI)(NP)(IO).
    if (ace.IsInherited()) line += "(I)";
    if ((ace.flags & ace_flags::kObjectInherit) != 0) line += "(OI)";
    if ((ace.flags & ace_flags::kContainerInherit) != 0) line += "(CI)";
    if ((ace.flags & ace_flags::kNoPropagateInherit) != 0) line += "(NP)";
    if ((ace.flags & ace_flags::kInheritOnly) != 0) line += "(IO)";
    if (ace.IsDeny()) line += "(DENY)";
    line += "(" + Join(RightItems(ace.mask)) + ")";
    lines.push_back(std::move(line));
  }
  return lines;
}

Result<AccessMask> ParseIcaclsRights(std::string_view text) {
  return ParseRightsAt(text, 0);
}

Result<IcaclsGrant> ParseIcaclsGrant(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Error(ErrorCode::kParse, "expected IDENTITY:RIGHTS (e.g. \"NETWORK SERVICE\":R)")
        .At(text.size());
  }
  std::string_view identity = text.substr(0, colon);
  std::size_t identity_at = 0;
  if (identity.size() >= 2 && identity.front() == '"' && identity.back() == '"') {
    identity = identity.substr(1, identity.size() - 2);
    identity_at = 1;
  } else if (!identity.empty() && (identity.front() == '"' || identity.back() == '"')) {
    return Error(ErrorCode::kParse, "unbalanced '\"' around the identity")
        .At(identity.front() == '"' ? 0 : colon - 1);
  }
  // icacls takes a SID as "*S-1-5-20".
  if (!identity.empty() && identity.front() == '*') {
    identity.remove_prefix(1);
    ++identity_at;
  }
  if (identity.empty()) return Error(ErrorCode::kParse, "no identity before ':'").At(identity_at);
  auto resolved = ResolveName(identity);
  if (!resolved) {
    return Error(resolved.error().code(), resolved.error().message()).At(identity_at);
  }
  IcaclsGrant grant;
  grant.sid = resolved->sid;

  std::size_t pos = colon + 1;
  while (pos < text.size() && text[pos] == '(') {
    const std::size_t close = text.find(')', pos);
    if (close == std::string_view::npos) {
      return Error(ErrorCode::kParse, "')' expected").At(text.size());
    }
    const std::string flag = Upper(text.substr(pos + 1, close - pos - 1));
    std::uint8_t bit = 0;
    if (flag == "OI") bit = ace_flags::kObjectInherit;
    if (flag == "CI") bit = ace_flags::kContainerInherit;
    if (flag == "IO") bit = ace_flags::kInheritOnly;
    if (flag == "NP") bit = ace_flags::kNoPropagateInherit;
    if (flag == "I") bit = ace_flags::kInherited;
    if (bit == 0) break;  // not a flag: the parenthesised rights list
    grant.flags |= bit;
    pos = close + 1;
  }
  MKEYS_ASSIGN_OR_RETURN(grant.mask, ParseRightsAt(text.substr(pos), pos));
  return grant;
}

Result<std::vector<IcaclsSaveEntry>> ParseIcaclsSave(std::span<const std::uint8_t> bytes) {
  if (bytes.size() % 2 != 0) {
    return Error(ErrorCode::kParse, "icacls save file: odd number of bytes; not UTF-16LE")
        .At(bytes.size() - 1);
  }
  std::size_t i = 0;
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE) i = 2;  // tolerated BOM
  // Every SDDL line is ASCII, so a real save file has CR LF as UTF-16LE (0d 00 0a 00). An 8-bit
  // text file (a save file converted by an editor, or SDDL typed by hand) has none: say so,
  // instead of reading its bytes pairwise as nonsense characters.
  if (!bytes.empty()) {
    bool utf16_crlf = false;
    bool byte_newline = false;
    for (std::size_t k = i; k + 3 < bytes.size() && !utf16_crlf; ++k) {
      if (bytes[k] == '\r' && bytes[k + 1] == 0 && bytes[k + 2] == '\n' && bytes[k + 3] == 0 &&
          (k - i) % 2 == 0) {
        utf16_crlf = true;
      }
    }
    for (std::uint8_t b : bytes) byte_newline = byte_newline || b == '\n';
    if (!utf16_crlf && byte_newline) {
      return Error(ErrorCode::kParse,
                   "not an icacls /save file: no UTF-16LE CR LF line end (icacls /save writes "
                   "UTF-16LE; this looks like 8-bit text)")
          .At(0);
    }
  }
  std::vector<std::pair<std::string, std::size_t>> lines;  // text, byte offset of the line
  std::string line;
  std::size_t line_at = i;
  bool pending_cr = false;
  while (i < bytes.size()) {
    const std::size_t at = i;
    std::uint32_t unit =
        static_cast<std::uint32_t>(bytes[i]) | (static_cast<std::uint32_t>(bytes[i + 1]) << 8);
    i += 2;
    if (pending_cr && unit != '\n') {
      return Error(ErrorCode::kParse, "icacls save file: CR not followed by LF").At(at - 2);
    }
    if (unit == '\r') {
      pending_cr = true;
      continue;
    }
    if (unit == '\n') {
      if (!pending_cr) {
        return Error(ErrorCode::kParse, "icacls save file: line ends in LF without CR").At(at);
      }
      pending_cr = false;
      lines.emplace_back(std::move(line), line_at);
      line.clear();
      line_at = i;
      continue;
    }
    if (unit == 0) {
      return Error(ErrorCode::kParse, "icacls save file: NUL character").At(at);
    }
    std::uint32_t cp = unit;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      if (i + 2 > bytes.size()) {
        return Error(ErrorCode::kParse, "icacls save file: truncated surrogate pair").At(at);
      }
      const std::uint32_t low =
          static_cast<std::uint32_t>(bytes[i]) | (static_cast<std::uint32_t>(bytes[i + 1]) << 8);
      if (low < 0xDC00 || low > 0xDFFF) {
        return Error(ErrorCode::kParse, "icacls save file: unpaired high surrogate").At(at);
      }
      i += 2;
      cp = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return Error(ErrorCode::kParse, "icacls save file: unpaired low surrogate").At(at);
    }
    text::AppendUtf8(line, cp);
  }
  if (pending_cr) {
    return Error(ErrorCode::kParse, "icacls save file: CR at the end without LF")
        .At(bytes.size() - 2);
  }
  if (!line.empty()) lines.emplace_back(std::move(line), line_at);  // last line without CRLF

  std::vector<IcaclsSaveEntry> entries;
  for (std::size_t k = 0; k < lines.size(); k += 2) {
    if (lines[k].first.empty()) {
      return Error(ErrorCode::kParse, "icacls save file: empty path line").At(lines[k].second);
    }
    if (k + 1 >= lines.size()) {
      return Error(ErrorCode::kParse,
                   "icacls save file: path '" + lines[k].first + "' has no SDDL line after it")
          .At(lines[k].second);
    }
    const std::string& sddl = lines[k + 1].first;
    if (sddl.empty() || (sddl[0] != 'D' && sddl[0] != 'S')) {
      return Error(ErrorCode::kParse,
                   "icacls save file: expected an SDDL line (D:... or S:...) after '" +
                       lines[k].first + "'")
          .At(lines[k + 1].second);
    }
    entries.push_back({lines[k].first, sddl});
  }
  return entries;
}

std::vector<std::uint8_t> FormatIcaclsSave(const std::vector<IcaclsSaveEntry>& entries) {
  std::vector<std::uint8_t> out;
  auto put_line = [&](std::string_view text) {
    for (std::uint32_t cp : text::DecodeUtf8(text)) text::AppendUtf16Le(out, cp);
    text::AppendUtf16Le(out, '\r');
    text::AppendUtf16Le(out, '\n');
  };
  for (const auto& entry : entries) {
    put_line(entry.path);
    put_line(entry.sddl);
  }
  return out;
}

}  // namespace mkeys::acl
