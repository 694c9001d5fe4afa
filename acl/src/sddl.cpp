// SPDX-License-Identifier: GPL-3.0-or-later
// MS-DTYP 2.5.1: SDDL, parsed and formatted as Windows' ConvertStringSecurityDescriptorTo...
// and ConvertSecurityDescriptorToStringSecurityDescriptorW do. The rules below were checked
// against the Windows-recorded vectors in tests/data/windows-sddl:
//  - tokens (ACE types, flags, rights letters, aliases) are case-insensitive; component
//    letters (O: G: D: S:) are not;
//  - blanks are accepted around components, before ACE fields and between rights letters, but
//    not after a rights string, inside or around a GUID, or after an S-... trustee;
//  - a numeric access mask is read like wcstoul (0x hex, leading-0 octal, decimal), saturates
//    to 0xffffffff on overflow and may be negated with '-';
//  - Windows formats a mask as one letter group when every bit has a letter, else as FA/FR/FW/FX
//    when it is exactly one of those, else in hex; generic bits stay generic;
//  - ACL revision is 4 when the ACL holds an object ACE, else 2;
//  - callback ACEs (XA, XD, ZA, XU) carry a conditional expression as a seventh field
//    (conditional_compile.cpp, conditional_format.cpp); resource-attribute ACEs (RA) carry
//    their attribute there (resource_attribute.cpp).
#include "mkeys/acl/sddl.hpp"

#include <cctype>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "internal/conditional_expression.hpp"
#include "internal/resource_attribute.hpp"
#include "internal/sddl_tables.hpp"
#include "internal/sid_parse.hpp"
#include "mkeys/acl/sid_names.hpp"

namespace mkeys::acl {
namespace {

using namespace internal::sddl;

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char Up(char c) {
  return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}

bool MatchesNoCase(std::string_view text, std::size_t at, const char* token) {
  std::size_t i = 0;
  for (; token[i] != '\0'; ++i) {
    if (at + i >= text.size() || Up(text[at + i]) != token[i]) return false;
  }
  return true;
}

Error ParseError(std::string message, std::size_t position) {
  return std::move(Error(ErrorCode::kParse, std::move(message)).At(position));
}

// wcstoul semantics over [begin, end): returns the value and where the number stopped.
struct NumericMask {
  std::uint32_t value = 0;
  std::size_t end = 0;
  bool any_digit = false;
};
NumericMask ReadNumericMask(std::string_view text, std::size_t pos, std::size_t end) {
  NumericMask r;
  bool negative = false;
  if (pos < end && (text[pos] == '-' || text[pos] == '+')) {
    negative = text[pos] == '-';
    ++pos;
  }
  unsigned base = 10;
  if (pos + 1 < end && text[pos] == '0' && (text[pos + 1] == 'x' || text[pos + 1] == 'X') &&
      pos + 2 < end && std::isxdigit(static_cast<unsigned char>(text[pos + 2]))) {
    base = 16;
    pos += 2;
  } else if (pos < end && text[pos] == '0') {
    base = 8;
  }
  std::uint64_t value = 0;
  bool overflow = false;
  while (pos < end) {
    const char c = text[pos];
    unsigned d = 99;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    if (d >= base) break;
    r.any_digit = true;
    if (!overflow) {
      value = value * base + d;
      if (value > 0xFFFFFFFFull) overflow = true;
    }
    ++pos;
  }
  std::uint32_t v = overflow ? 0xFFFFFFFFu : static_cast<std::uint32_t>(value);
  if (negative) v = static_cast<std::uint32_t>(0u - v);
  r.value = v;
  r.end = pos;
  return r;
}

// One rights letter pair at text[pos] (any table), or 0 bits and false.
bool ReadRightsLetters(std::string_view text, std::size_t pos, std::size_t end, AccessMask& mask) {
  if (pos + 2 > end) return false;
  for (const auto& t : kRightsLetters) {
    if (MatchesNoCase(text, pos, t.text)) return (mask |= t.value), true;
  }
  for (const auto& t : kRightsComposite) {
    if (MatchesNoCase(text, pos, t.text)) return (mask |= t.value), true;
  }
  for (const auto& t : kLabelLetters) {
    if (MatchesNoCase(text, pos, t.text)) return (mask |= t.value), true;
  }
  return false;
}

bool StartsNumber(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+';
}

// Rights in text[begin, end) (a whole ACE field, or a standalone string). Windows reads the
// field left to right: a number (wcstoul) or a letter pair at each step, OR-ing them, so hex
// and letters may be mixed ("GR0xFFFFFFFF", "0xFFFFFGR"; issue 17 class 4, Windows-run).
Result<AccessMask> ParseRightsField(std::string_view text, std::size_t begin, std::size_t end) {
  std::size_t pos = begin;
  while (pos < end && IsBlank(text[pos])) ++pos;
  AccessMask mask = 0;
  while (pos < end) {
    if (text[pos] == ' ') {
      // Windows accepts spaces between rights letters, not after the last one, never tabs.
      while (pos < end && text[pos] == ' ') ++pos;
      if (pos == end) return ParseError("access mask: trailing blank after the rights", pos);
      continue;
    }
    if (StartsNumber(text[pos])) {
      const NumericMask n = ReadNumericMask(text, pos, end);
      if (!n.any_digit) return ParseError("access mask: expected a number", pos);
      mask |= n.value;
      pos = n.end;
      continue;
    }
    if (!ReadRightsLetters(text, pos, end, mask)) {
      return ParseError(fmt::format("access mask: unknown right '{}'",
                                    text.substr(pos, std::min<std::size_t>(2, end - pos))),
                        pos);
    }
    pos += 2;
  }
  return mask;
}

class Parser {
 public:
  Parser(std::string_view text, const SddlOptions& options) : text_(text), options_(options) {}

  Result<SecurityDescriptor> Run() {
    SecurityDescriptor sd;
    bool seen[4] = {false, false, false, false};
    SkipBlanks();
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      const std::size_t at = pos_;
      int which = -1;
      switch (c) {
        case 'O':
          which = 0;
          break;
        case 'G':
          which = 1;
          break;
        case 'D':
          which = 2;
          break;
        case 'S':
          which = 3;
          break;
        default:
          return ParseError(fmt::format("expected O:, G:, D: or S:, found '{}'", c), at);
      }
      if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != ':') {
        return ParseError(fmt::format("expected ':' after '{}'", c), pos_ + 1);
      }
      if (seen[which]) return ParseError(fmt::format("'{}:' appears twice", c), at);
      seen[which] = true;
      pos_ += 2;
      if (which <= 1) {
        SkipBlanks();
        MKEYS_ASSIGN_OR_RETURN(Sid sid, ParseTopLevelSid());
        (which == 0 ? sd.owner : sd.group) = sid;
      } else {
        MKEYS_TRY(ParseAclComponent(sd, which == 2));
      }
      SkipBlanks();
    }
    return sd;
  }

 private:
  void SkipBlanks() {
    while (pos_ < text_.size() && IsBlank(text_[pos_])) ++pos_;
  }

  // A SID after O: or G: — an alias or an S- string, ending where the SID ends.
  Result<Sid> ParseTopLevelSid() {
    const std::size_t at = pos_;
    if (at + 1 < text_.size() && (text_[at] == 'S' || text_[at] == 's') && text_[at + 1] == '-') {
      auto parsed = internal::ParseSidPrefix(text_.substr(at));
      if (!parsed) {
        const Error& e = parsed.error();
        return ParseError("SID: " + e.message(), at + e.position().value_or(0));
      }
      pos_ = at + parsed->second;
      return parsed->first;
    }
    if (at + 2 > text_.size()) return ParseError("expected a SID or a SID alias", at);
    auto sid = SidFromAlias(text_.substr(at, 2), options_.domain_sid);
    if (!sid) return UnknownAlias(text_.substr(at, 2), at);
    pos_ = at + 2;
    return *sid;
  }

  Error UnknownAlias(std::string_view alias, std::size_t at) const {
    for (const char* domain_alias : {"LA", "LG", "DA", "DU", "DG", "DC", "DD", "CA", "SA", "EA",
                                     "PA", "RS", "CN", "AP", "KA", "EK", "RO"}) {
      if (alias.size() == 2 && Up(alias[0]) == domain_alias[0] && Up(alias[1]) == domain_alias[1] &&
          !options_.domain_sid) {
        return ParseError(
            fmt::format("SID alias '{}' is domain-relative: it needs a domain SID", alias), at);
      }
    }
    return ParseError(fmt::format("unknown SID alias '{}'", alias), at);
  }

  Result<void> ParseAclComponent(SecurityDescriptor& sd, bool is_dacl) {
    SkipBlanks();
    std::uint16_t flags = 0;
    constexpr std::string_view kNull = "NO_ACCESS_CONTROL";
    bool null_acl = false;
    for (;;) {
      if (pos_ < text_.size() && text_[pos_] == 'P') {
        flags |= is_dacl ? sd_control::kDaclProtected : sd_control::kSaclProtected;
        ++pos_;
      } else if (text_.substr(pos_, 2) == "AR") {
        flags |= is_dacl ? sd_control::kDaclAutoInheritReq : sd_control::kSaclAutoInheritReq;
        pos_ += 2;
      } else if (text_.substr(pos_, 2) == "AI") {
        flags |= is_dacl ? sd_control::kDaclAutoInherited : sd_control::kSaclAutoInherited;
        pos_ += 2;
      } else if (text_.substr(pos_, kNull.size()) == kNull) {
        null_acl = true;
        pos_ += kNull.size();
      } else {
        break;
      }
      SkipBlanks();
    }
    Acl acl;
    bool object_ace = false;
    std::size_t oversize = 0;
    while (pos_ < text_.size() && text_[pos_] == '(') {
      if (null_acl) return ParseError("NO_ACCESS_CONTROL cannot have ACEs", pos_);
      MKEYS_ASSIGN_OR_RETURN(ParsedAce parsed, ParseAce(is_dacl));
      object_ace = object_ace || parsed.ace.IsObjectAce();
      // Windows reserves 4 more bytes (and marks the ACL revision 4) for an ACE with an empty
      // rights field that repeats the previous ACE's type, flags and trustee, or that names a
      // mandatory-label SID (conformance: oversize ACLs, and 8 cases of the ordinary set).
      // Not for callback or RA ACEs: Windows writes their DACL/SACL at revision 2 with no slack
      // (Samba's Windows-recorded conditional_aces.txt.json, e.g. "(XA;;;;;WD;(...))").
      if (parsed.empty_rights && parsed.ace.type != AceType::kSystemMandatoryLabel &&
          !IsCallback(parsed.ace.type)) {
        const bool repeats = !acl.aces.empty() && acl.aces.back().type == parsed.ace.type &&
                             acl.aces.back().flags == parsed.ace.flags &&
                             acl.aces.back().sid == parsed.ace.sid;
        if (repeats || parsed.ace.sid.authority() == 16) ++oversize;
      }
      acl.aces.push_back(std::move(parsed.ace));
      SkipBlanks();
    }
    if (acl.aces.size() > 0xFFFF || acl.ByteSize() + 4 * oversize > 0xFFFF) {
      return ParseError("the ACL exceeds 65535 bytes", pos_);
    }
    acl.slack = static_cast<std::uint16_t>(4 * oversize);
    acl.revision = (object_ace || oversize > 0) ? Acl::kRevisionDs : Acl::kRevision;
    sd.control |= flags;
    if (is_dacl) {
      if (null_acl) {
        sd.SetNullDacl();
      } else {
        sd.SetDacl(std::move(acl));
      }
    } else {
      if (null_acl) {
        sd.sacl.reset();
        sd.control |= sd_control::kSaclPresent;
      } else {
        sd.SetSacl(std::move(acl));
      }
    }
    return Ok();
  }

  struct ParsedAce {
    Ace ace;
    bool empty_rights = false;
  };

  Result<ParsedAce> ParseAce(bool is_dacl) {
    const std::size_t open = pos_;
    ++pos_;  // '('
    // Split into fields at ';' up to ')'.
    std::vector<std::pair<std::size_t, std::size_t>> fields;
    std::optional<std::vector<std::uint8_t>> condition;
    std::size_t start = pos_;
    for (;;) {
      if (pos_ >= text_.size()) return ParseError("ACE is not closed with ')'", open);
      const char c = text_[pos_];
      if (c == '(') return ParseError("unexpected '(' inside an ACE", pos_);
      if (c == ';' || c == ')') {
        fields.emplace_back(start, pos_);
        ++pos_;
        start = pos_;
        if (c == ')') break;
        if (fields.size() == 6) {
          // A seventh field: the condition of a callback ACE, the attribute of an RA ACE.
          auto [tb, te] = Trimmed(fields[0]);
          const std::string_view type = text_.substr(tb, te - tb);
          bool callback = false;
          for (const char* t : {"XA", "XD", "ZA", "XU"}) {
            callback = callback || (type.size() == 2 && MatchesNoCase(text_, tb, t));
          }
          const bool attribute = type.size() == 2 && MatchesNoCase(text_, tb, "RA");
          if (!callback && !attribute) {
            return ParseError(
                "only callback ACEs (XA, XD, ZA, XU) and RA take a seventh field after the "
                "trustee",
                pos_);
          }
          while (pos_ < text_.size() && IsBlank(text_[pos_])) ++pos_;
          auto compiled =
              attribute
                  ? internal::CompileResourceAttribute(text_.substr(pos_), options_.domain_sid)
                  : internal::CompileConditionalExpression(text_.substr(pos_), options_.domain_sid);
          if (!compiled) {
            return ParseError(
                std::string(attribute ? "attribute: " : "condition: ") + compiled.error().message(),
                pos_ + compiled.error().position().value_or(0));
          }
          condition = std::move(compiled->first);
          pos_ += compiled->second;
          while (pos_ < text_.size() && IsBlank(text_[pos_])) ++pos_;
          if (pos_ >= text_.size() || text_[pos_] != ')') {
            return ParseError("expected ')' after the condition or attribute", pos_);
          }
          ++pos_;
          break;
        }
      } else {
        ++pos_;
      }
    }
    if (fields.size() != 6) {
      return ParseError(
          fmt::format("an ACE has 6 fields separated by ';', this one has {}", fields.size()),
          open);
    }
    ParsedAce out;
    Ace& ace = out.ace;
    // Type. Blanks may precede it, none may follow it: Windows rejects "(D ;;GA;;;WD)"
    // (issue 17 class 4, Windows-run).
    {
      auto [b, e] = Trimmed(fields[0]);
      if (e != fields[0].second) return ParseError("blank after the ACE type", e);
      const AceTypeName* found = nullptr;
      for (const auto& t : kAceTypes) {
        const std::size_t n = std::char_traits<char>::length(t.text);
        if (e - b == n && MatchesNoCase(text_, b, t.text)) found = &t;
      }
      if (found == nullptr) {
        return ParseError(fmt::format("unknown ACE type '{}'", text_.substr(b, e - b)), b);
      }
      if (IsCallback(found->type) && !condition) {
        return ParseError(
            fmt::format(
                "ACE type '{}' needs a {} after the trustee", found->text,
                found->type == AceType::kSystemResourceAttribute ? "attribute" : "condition"),
            b);
      }
      if (found->in_dacl != is_dacl) {
        return ParseError(fmt::format("ACE type '{}' cannot appear in a {}", found->text,
                                      is_dacl ? "DACL" : "SACL"),
                          b);
      }
      ace.type = found->type;
    }
    // Flags.
    {
      std::size_t p = fields[1].first;
      const std::size_t e = fields[1].second;
      while (p < e) {
        if (IsBlank(text_[p])) {
          ++p;
          continue;
        }
        bool found = false;
        for (const auto& f : kAceFlags) {
          if (p + 2 <= e && MatchesNoCase(text_, p, f.text)) {
            ace.flags = static_cast<std::uint8_t>(ace.flags | f.value);
            found = true;
            break;
          }
        }
        if (!found) {
          return ParseError(fmt::format("unknown ACE flag '{}'",
                                        text_.substr(p, std::min<std::size_t>(2, e - p))),
                            p);
        }
        p += 2;
      }
    }
    // Rights.
    {
      auto [b, e] = Trimmed(fields[2]);
      out.empty_rights = b == e;
      MKEYS_ASSIGN_OR_RETURN(ace.mask, ParseRightsField(text_, fields[2].first, fields[2].second));
    }
    // Object GUIDs.
    for (int i = 0; i < 2; ++i) {
      const auto field = fields[static_cast<std::size_t>(3 + i)];
      auto [b, e] = Trimmed(field);
      if (b == e) continue;
      if (!ace.IsObjectAce()) {
        return ParseError("only object ACEs (OA, OD, OU, OL) carry GUIDs", b);
      }
      auto guid = Guid::Parse(text_.substr(field.first, field.second - field.first));
      if (!guid) {
        return ParseError("GUID: " + guid.error().message(),
                          field.first + guid.error().position().value_or(0));
      }
      (i == 0 ? ace.object_type : ace.inherited_object_type) = *guid;
    }
    // Trustee.
    {
      std::size_t b = fields[5].first;
      const std::size_t e = fields[5].second;
      while (b < e && IsBlank(text_[b])) ++b;
      if (b == e) return ParseError("an ACE needs a trustee SID", b);
      if (b + 1 < e && (text_[b] == 'S' || text_[b] == 's') && text_[b + 1] == '-') {
        auto parsed = internal::ParseSidPrefix(text_.substr(b, e - b));
        if (!parsed) {
          return ParseError("SID: " + parsed.error().message(),
                            b + parsed.error().position().value_or(0));
        }
        if (b + parsed->second != e) {
          return ParseError("unexpected character after the trustee SID", b + parsed->second);
        }
        ace.sid = parsed->first;
      } else {
        if (b + 2 > e) return ParseError("expected a SID or a SID alias", b);
        auto sid = SidFromAlias(text_.substr(b, 2), options_.domain_sid);
        if (!sid) return UnknownAlias(text_.substr(b, 2), b);
        for (std::size_t p = b + 2; p < e; ++p) {
          if (!IsBlank(text_[p])) return ParseError("unexpected character after the SID alias", p);
        }
        ace.sid = *sid;
      }
    }
    if (condition) ace.application_data = std::move(*condition);
    return out;
  }

  std::pair<std::size_t, std::size_t> Trimmed(std::pair<std::size_t, std::size_t> f) const {
    while (f.first < f.second && IsBlank(text_[f.first])) ++f.first;
    while (f.second > f.first && IsBlank(text_[f.second - 1])) --f.second;
    return f;
  }

  std::string_view text_;
  const SddlOptions& options_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<SecurityDescriptor> ParseSddl(std::string_view text, const SddlOptions& options) {
  Parser parser(text, options);
  return parser.Run();
}

Result<AccessMask> ParseSddlRights(std::string_view text) {
  return ParseRightsField(text, 0, text.size());
}

}  // namespace mkeys::acl
