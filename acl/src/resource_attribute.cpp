// SPDX-License-Identifier: GPL-3.0-or-later
// Resource attribute ACEs (RA): the SDDL attribute ("name",TYPE,flags,value,...) of the SDK's
// "ACE Strings" page and MS-DTYP 2.5.1.1, and its binary form CLAIM_SECURITY_ATTRIBUTE_RELATIVE_V1
// (MS-DTYP 2.4.10.1): Name offset, ValueType, Reserved, Flags, ValueCount, value offsets, then the
// name and the values. Types: TI int64 (0x0001), TU uint64 (0x0002), TS string (0x0003), TD SID
// (0x0005, as CLAIM_SECURITY_ATTRIBUTE_OCTET_STRING_RELATIVE), TB boolean (0x0006, 64 bits), TX
// octet string (0x0010). Layout as Windows writes it (Samba's Windows-recorded
// conditional_aces.txt.json: header, name, then the values in order, strings NUL-terminated).
#include "internal/resource_attribute.hpp"

#include <fmt/format.h>

#include "internal/sid_parse.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::acl::internal {
namespace {

struct ClaimType {
  const char* sddl;
  std::uint16_t value;
};
constexpr ClaimType kTypes[] = {{"TI", 0x0001}, {"TU", 0x0002}, {"TS", 0x0003},
                                {"TD", 0x0005}, {"TB", 0x0006}, {"TX", 0x0010}};
constexpr std::size_t kHeaderSize = 16;

Error ClaimError(std::string message, std::size_t at) {
  return std::move(Error(ErrorCode::kParse, std::move(message)).At(at));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- SDDL -> bytes ---------------------------------------------------------------------------

class Compiler {
 public:
  Compiler(std::string_view text, const std::optional<Sid>& domain)
      : text_(text), domain_(domain) {}

  Result<std::pair<std::vector<std::uint8_t>, std::size_t>> Run() {
    if (!Eat('(')) return Fail("a resource attribute starts with '('");
    MKEYS_ASSIGN_OR_RETURN(std::string name, QuotedString());
    if (!Eat(',')) return Fail("expected ',' after the attribute name");
    MKEYS_ASSIGN_OR_RETURN(type_, Type());
    if (!Eat(',')) return Fail("expected ',' after the attribute type");
    MKEYS_ASSIGN_OR_RETURN(const std::uint64_t flags, Unsigned());
    if (flags > 0xFFFFFFFFu) return Fail("attribute flags exceed 32 bits");
    std::vector<std::vector<std::uint8_t>> values;
    while (Eat(',')) {
      MKEYS_ASSIGN_OR_RETURN(std::vector<std::uint8_t> v, Value());
      values.push_back(std::move(v));
    }
    if (!Eat(')')) return Fail("expected ',' or ')' in the resource attribute");
    return std::make_pair(Layout(name, static_cast<std::uint32_t>(flags), values), pos_);
  }

 private:
  Error Fail(std::string message) const { return ClaimError(std::move(message), pos_); }
  void Blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool Eat(char c) {
    Blanks();
    if (pos_ < text_.size() && text_[pos_] == c) return ++pos_, true;
    return false;
  }

  std::vector<std::uint8_t> Layout(const std::string& name, std::uint32_t flags,
                                   const std::vector<std::vector<std::uint8_t>>& values) const {
    std::vector<std::uint8_t> out;
    const std::size_t name_at = kHeaderSize + 4 * values.size();
    le::Put32(out, static_cast<std::uint32_t>(name_at));
    le::Put16(out, type_);
    le::Put16(out, 0);
    le::Put32(out, flags);
    le::Put32(out, static_cast<std::uint32_t>(values.size()));
    std::size_t at = name_at + 2 * (text::Utf8ToUtf16Le(name).size() / 2 + 1);
    for (const auto& v : values) {
      le::Put32(out, static_cast<std::uint32_t>(at));
      at += v.size();
    }
    const auto utf16 = text::Utf8ToUtf16Le(name);
    out.insert(out.end(), utf16.begin(), utf16.end());
    le::Put16(out, 0);
    for (const auto& v : values) out.insert(out.end(), v.begin(), v.end());
    while (out.size() % 4 != 0) out.push_back(0);
    return out;
  }

  Result<std::string> QuotedString() {
    if (!Eat('"')) return Fail("expected a quoted string");
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') ++pos_;
    if (pos_ >= text_.size()) return Fail("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  Result<std::uint16_t> Type() {
    Blanks();
    for (const auto& t : kTypes) {
      if (text_.size() - pos_ >= 2 && text::AsciiUpper(text_[pos_]) == t.sddl[0] &&
          text::AsciiUpper(text_[pos_ + 1]) == t.sddl[1]) {
        pos_ += 2;
        return t.value;
      }
    }
    return Fail("unknown attribute type (TI, TU, TS, TD, TB or TX)");
  }

  // A number: 0x hex, leading-0 octal or decimal, at most 64 bits.
  Result<std::uint64_t> Unsigned() {
    Blanks();
    unsigned radix = 10;
    if (text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X") {
      radix = 16;
      pos_ += 2;
    } else if (pos_ < text_.size() && text_[pos_] == '0') {
      radix = 8;
    }
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    while (pos_ < text_.size()) {
      const int d = HexDigit(text_[pos_]);
      if (d < 0 || static_cast<unsigned>(d) >= radix) break;
      if (v > (UINT64_MAX - static_cast<unsigned>(d)) / radix) return Fail("number out of range");
      v = v * radix + static_cast<unsigned>(d);
      ++pos_;
    }
    if (pos_ == start) return Fail("expected a number");
    return v;
  }

  Result<std::vector<std::uint8_t>> Value() {
    std::vector<std::uint8_t> out;
    Blanks();
    switch (type_) {
      case 0x0001: {  // TI
        bool negative = false;
        if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) {
          negative = text_[pos_++] == '-';
        }
        MKEYS_ASSIGN_OR_RETURN(const std::uint64_t v, Unsigned());
        if (v > (negative ? 0x8000000000000000ull : 0x7FFFFFFFFFFFFFFFull)) {
          return Fail("TI value out of the int64 range");
        }
        le::Put64(out, negative ? 0 - v : v);
        return out;
      }
      case 0x0002:    // TU
      case 0x0006: {  // TB
        MKEYS_ASSIGN_OR_RETURN(const std::uint64_t v, Unsigned());
        if (type_ == 0x0006 && v > 1) return Fail("TB values are 0 or 1");
        le::Put64(out, v);
        return out;
      }
      case 0x0003: {  // TS
        MKEYS_ASSIGN_OR_RETURN(std::string s, QuotedString());
        out = text::Utf8ToUtf16Le(s);
        le::Put16(out, 0);
        return out;
      }
      case 0x0005: {  // TD
        MKEYS_ASSIGN_OR_RETURN(const Sid sid, SidValue());
        le::Put32(out, static_cast<std::uint32_t>(sid.ByteSize()));
        sid.AppendTo(out);
        return out;
      }
      default: {  // TX
        if (pos_ < text_.size() && text_[pos_] == '#') ++pos_;
        std::vector<std::uint8_t> bytes;
        while (pos_ + 1 < text_.size() && HexDigit(text_[pos_]) >= 0 &&
               HexDigit(text_[pos_ + 1]) >= 0) {
          bytes.push_back(
              static_cast<std::uint8_t>(HexDigit(text_[pos_]) * 16 + HexDigit(text_[pos_ + 1])));
          pos_ += 2;
        }
        le::Put32(out, static_cast<std::uint32_t>(bytes.size()));
        out.insert(out.end(), bytes.begin(), bytes.end());
        return out;
      }
    }
  }

  // "SID(BA)", "SID(S-1-...)", or the alias / S- string alone.
  Result<Sid> SidValue() {
    const bool wrapped = text_.size() - pos_ >= 4 && text::AsciiUpper(text_[pos_]) == 'S' &&
                         text::AsciiUpper(text_[pos_ + 1]) == 'I' &&
                         text::AsciiUpper(text_[pos_ + 2]) == 'D' && text_[pos_ + 3] == '(';
    if (wrapped) pos_ += 4;
    Blanks();
    Sid sid;
    if (text_.size() - pos_ >= 2 && (text_[pos_] == 'S' || text_[pos_] == 's') &&
        text_[pos_ + 1] == '-') {
      auto parsed = ParseSidPrefix(text_.substr(pos_));
      if (!parsed) return Fail("SID: " + parsed.error().message());
      sid = parsed->first;
      pos_ += parsed->second;
    } else {
      auto alias =
          text_.size() - pos_ >= 2 ? SidFromAlias(text_.substr(pos_, 2), domain_) : std::nullopt;
      if (!alias) return Fail("expected a SID or SID alias");
      sid = *alias;
      pos_ += 2;
    }
    if (wrapped && !Eat(')')) return Fail("expected ')' after the SID");
    return sid;
  }

  std::string_view text_;
  const std::optional<Sid>& domain_;
  std::size_t pos_ = 0;
  std::uint16_t type_ = 0;
};

// ---- bytes -> SDDL ---------------------------------------------------------------------------

// A NUL-terminated UTF-16 string at `at` (the NUL must be inside `data`).
Result<std::string> Utf16z(std::span<const std::uint8_t> data, std::size_t at) {
  std::size_t end = at;
  while (end + 1 < data.size() && le::Read16(data, end) != 0) end += 2;
  if (end + 1 >= data.size()) return ClaimError("string runs past the end", at);
  auto utf8 = text::Utf16LeToUtf8(data.subspan(at, end - at));
  if (!utf8) return ClaimError("string is not UTF-16", at);
  if (utf8->find('"') != std::string::npos) {
    return ClaimError("a string with '\"' has no SDDL form", at);
  }
  return *utf8;
}

Result<std::string> FormatValue(std::span<const std::uint8_t> data, std::uint16_t type,
                                std::size_t at, const std::optional<Sid>& domain) {
  const bool fixed = type == 0x0001 || type == 0x0002 || type == 0x0006;
  if (at >= data.size() || (fixed && data.size() - at < 8)) {
    return ClaimError("value offset runs past the end", at);
  }
  switch (type) {
    case 0x0001:
      return fmt::format("{}", static_cast<std::int64_t>(le::Read64(data, at)));
    case 0x0002:
    case 0x0006:
      return fmt::format("{}", le::Read64(data, at));
    case 0x0003: {
      MKEYS_ASSIGN_OR_RETURN(std::string s, Utf16z(data, at));
      return "\"" + s + "\"";
    }
    default:
      break;
  }
  if (data.size() - at < 4) return ClaimError("value length runs past the end", at);
  const std::uint32_t n = le::Read32(data, at);
  if (n > data.size() - at - 4) return ClaimError("value runs past the end", at);
  const auto body = data.subspan(at + 4, n);
  if (type == 0x0005) {
    auto sid = Sid::Decode(body);
    if (!sid || sid->ByteSize() != n) return ClaimError("malformed SID value", at);
    const auto alias = AliasForSid(*sid, domain);
    return "SID(" + (alias ? std::string(*alias) : sid->ToString()) + ")";
  }
  std::string hex;
  for (auto b : body) hex += fmt::format("{:02x}", b);
  return hex;
}

}  // namespace

Result<std::pair<std::vector<std::uint8_t>, std::size_t>> CompileResourceAttribute(
    std::string_view text, const std::optional<Sid>& domain_sid) {
  return Compiler(text, domain_sid).Run();
}

Result<std::string> FormatResourceAttribute(std::span<const std::uint8_t> data,
                                            const std::optional<Sid>& domain_sid) {
  if (data.size() < kHeaderSize) return ClaimError("resource attribute shorter than its header", 0);
  const std::uint32_t name_at = le::Read32(data, 0);
  const std::uint16_t type = le::Read16(data, 4);
  const std::uint32_t flags = le::Read32(data, 8);
  const std::uint32_t count = le::Read32(data, 12);
  const char* type_text = nullptr;
  for (const auto& t : kTypes) {
    if (t.value == type) type_text = t.sddl;
  }
  if (type_text == nullptr) return ClaimError(fmt::format("claim type 0x{:x}", type), 4);
  if (count > (data.size() - kHeaderSize) / 4) return ClaimError("too many values", 12);
  MKEYS_ASSIGN_OR_RETURN(const std::string name, Utf16z(data, name_at));
  std::string out = fmt::format("(\"{}\",{},0x{:x}", name, type_text, flags);
  for (std::uint32_t i = 0; i < count; ++i) {
    MKEYS_ASSIGN_OR_RETURN(
        const std::string v,
        FormatValue(data, type, le::Read32(data, kHeaderSize + 4 * i), domain_sid));
    out += "," + v;
  }
  return out + ")";
}

}  // namespace mkeys::acl::internal
