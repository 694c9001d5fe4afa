// SPDX-License-Identifier: GPL-3.0-or-later
// Conditional-ACE expressions (MS-DTYP 2.4.4.17), SDDL -> binary: the infix SDDL condition
// compiled to the postfix "artx" program. Accepts what Windows accepts (issue 17 class 6,
// Windows-recorded vectors in Samba's libcli/security/tests/windows/conditional_aces.txt.json):
// "%XXXX" escapes in attribute names, "Member_of(SID(..))" and "Member_of SID(..)" (a bare SID
// operand, no composite), octet strings "#0102", integers up to 0xffffffffffffffff, composite
// "{...}" values.
#include <cctype>

#include <fmt/format.h>

#include "internal/conditional_expression.hpp"
#include "internal/conditional_tokens.hpp"
#include "internal/sid_parse.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::acl::internal {
namespace {

using namespace cond;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Compiler {
 public:
  Compiler(std::string_view text, const std::optional<Sid>& domain)
      : text_(text), domain_(domain) {}

  Result<std::pair<std::vector<std::uint8_t>, std::size_t>> Run() {
    out_.assign(kSignature, kSignature + 4);
    Blanks();
    if (pos_ >= text_.size() || text_[pos_] != '(') return Fail("a condition starts with '('");
    MKEYS_TRY(Or());
    while (out_.size() % 4 != 0) out_.push_back(0);
    return std::make_pair(std::move(out_), pos_);
  }

 private:
  Error Fail(std::string message) const {
    return std::move(Error(ErrorCode::kParse, std::move(message)).At(pos_));
  }
  void Blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool Eat(std::string_view s) {
    Blanks();
    if (text_.substr(pos_, s.size()) == s) {
      pos_ += s.size();
      return true;
    }
    return false;
  }
  // A word operator must not run on into an identifier.
  bool EatWord(std::string_view s) {
    Blanks();
    if (text_.size() - pos_ < s.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (text::AsciiLower(text_[pos_ + i]) != text::AsciiLower(s[i])) {
        return false;
      }
    }
    const std::size_t after = pos_ + s.size();
    if (after < text_.size() &&
        (std::isalnum(static_cast<unsigned char>(text_[after])) || text_[after] == '_')) {
      return false;
    }
    pos_ = after;
    return true;
  }

  Result<void> Or() {
    MKEYS_TRY(And());
    while (Eat("||")) {
      MKEYS_TRY(And());
      out_.push_back(kOr);
    }
    return Ok();
  }
  Result<void> And() {
    MKEYS_TRY(Unary());
    while (Eat("&&")) {
      MKEYS_TRY(Unary());
      out_.push_back(kAnd);
    }
    return Ok();
  }
  Result<void> Unary() {
    Blanks();
    if (pos_ < text_.size() && text_[pos_] == '!' && text_.substr(pos_, 2) != "!=") {
      ++pos_;
      if (++depth_ > 64) return Fail("condition nested too deeply");
      MKEYS_TRY(Unary());
      --depth_;
      out_.push_back(kNot);
      return Ok();
    }
    return Primary();
  }
  Result<void> Primary() {
    if (++depth_ > 64) return Fail("condition nested too deeply");
    Blanks();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      ++pos_;
      MKEYS_TRY(Or());
      if (!Eat(")")) return Fail("expected ')'");
      --depth_;
      return Ok();
    }
    for (const auto& op : kOps) {
      if (!op.unary) continue;
      if (EatWord(op.text)) {
        MKEYS_TRY(Operand());
        out_.push_back(op.token);
        --depth_;
        return Ok();
      }
    }
    MKEYS_TRY(Attribute());
    for (const auto& op : kOps) {
      if (op.unary) continue;
      const bool symbolic = !std::isalpha(static_cast<unsigned char>(op.text[0]));
      if (symbolic ? Eat(op.text) : EatWord(op.text)) {
        MKEYS_TRY(Operand());
        out_.push_back(op.token);
        break;
      }
    }
    --depth_;
    return Ok();
  }

  Result<void> Attribute() {
    Blanks();
    struct Prefix {
      const char* text;
      std::uint8_t token;
    };
    constexpr Prefix kPrefixes[] = {
        {"@User.", kUserAttr}, {"@Device.", kDeviceAttr}, {"@Resource.", kResourceAttr}};
    std::uint8_t token = kLocalAttr;
    for (const auto& p : kPrefixes) {
      const std::string_view s = p.text;
      if (text_.size() - pos_ >= s.size()) {
        bool same = true;
        for (std::size_t i = 0; i < s.size(); ++i) {
          same = same && text::AsciiLower(text_[pos_ + i]) == text::AsciiLower(s[i]);
        }
        if (same) {
          pos_ += s.size();
          token = p.token;
          break;
        }
      }
    }
    MKEYS_ASSIGN_OR_RETURN(std::vector<std::uint8_t> name, AttributeName());
    Emit(token, name);
    return Ok();
  }

  // An attribute name as UTF-16LE: attr-chars, '$', UTF-8 beyond ASCII, and "%XXXX" escapes
  // (one UTF-16 code unit each, MS-DTYP 2.5.1.1).
  Result<std::vector<std::uint8_t>> AttributeName() {
    std::vector<std::uint8_t> name;
    const std::size_t start = pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (c == '%') {
        if (text_.size() - pos_ < 5) return Fail("'%' in a name takes 4 hex digits");
        std::uint32_t unit = 0;
        for (std::size_t i = 1; i <= 4; ++i) {
          const int d = HexDigit(text_[pos_ + i]);
          if (d < 0) return Fail("'%' in a name takes 4 hex digits");
          unit = unit << 4 | static_cast<std::uint32_t>(d);
        }
        le::Put16(name, static_cast<std::uint16_t>(unit));
        pos_ += 5;
      } else if (u >= 0x80) {
        std::size_t end = pos_;
        while (end < text_.size() && static_cast<unsigned char>(text_[end]) >= 0x80) ++end;
        const auto units = text::Utf8ToUtf16Le(text_.substr(pos_, end - pos_));
        name.insert(name.end(), units.begin(), units.end());
        pos_ = end;
      } else if (IsPlainAttrChar(u) || c == '$') {
        le::Put16(name, u);
        ++pos_;
      } else {
        break;
      }
    }
    if (pos_ == start) return Fail("expected an attribute name");
    return name;
  }

  void Emit(std::uint8_t token, const std::vector<std::uint8_t>& body) {
    out_.push_back(token);
    le::Put32(out_, static_cast<std::uint32_t>(body.size()));
    out_.insert(out_.end(), body.begin(), body.end());
  }

  // The right-hand side: a literal, a composite {..} or an attribute.
  Result<void> Operand() {
    Blanks();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      // "Member_of(SID(WD))": an operand in parentheses (Windows-recorded).
      if (++depth_ > 64) return Fail("condition nested too deeply");
      ++pos_;
      MKEYS_TRY(Operand());
      if (!Eat(")")) return Fail("expected ')' after the operand");
      --depth_;
      return Ok();
    }
    if (pos_ < text_.size() && text_[pos_] == '{') {
      ++pos_;
      std::vector<std::uint8_t> saved;
      saved.swap(out_);
      Blanks();
      if (pos_ < text_.size() && text_[pos_] != '}') {
        for (;;) {
          MKEYS_TRY(Literal());
          if (Eat(",")) continue;
          break;
        }
      }
      if (!Eat("}")) return Fail("expected '}' or ','");
      std::vector<std::uint8_t> body;
      body.swap(out_);
      out_.swap(saved);
      Emit(kComposite, body);
      return Ok();
    }
    if (pos_ < text_.size() && text_[pos_] == '@') return Attribute();
    if (pos_ < text_.size() &&
        (std::isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      std::size_t p = pos_ + 3;
      while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
      const bool sid_literal = text_.size() - pos_ >= 3 &&
                               std::toupper(static_cast<unsigned char>(text_[pos_])) == 'S' &&
                               std::toupper(static_cast<unsigned char>(text_[pos_ + 1])) == 'I' &&
                               std::toupper(static_cast<unsigned char>(text_[pos_ + 2])) == 'D' &&
                               p < text_.size() && text_[p] == '(';
      if (!sid_literal) return Attribute();  // a local attribute such as "Title"
    }
    return Literal();
  }

  Result<void> Literal() {
    Blanks();
    if (pos_ >= text_.size()) return Fail("expected a value");
    const char c = text_[pos_];
    if (c == '"') {
      const std::size_t start = ++pos_;
      while (pos_ < text_.size() && text_[pos_] != '"') ++pos_;
      if (pos_ >= text_.size()) return Fail("unterminated string");
      Emit(kString, text::Utf8ToUtf16Le(text_.substr(start, pos_ - start)));
      ++pos_;
      return Ok();
    }
    if (c == '#') {
      std::vector<std::uint8_t> bytes;
      ++pos_;
      while (pos_ + 1 < text_.size() && HexDigit(text_[pos_]) >= 0 &&
             HexDigit(text_[pos_ + 1]) >= 0) {
        bytes.push_back(
            static_cast<std::uint8_t>(HexDigit(text_[pos_]) * 16 + HexDigit(text_[pos_ + 1])));
        pos_ += 2;
      }
      Emit(kOctets, bytes);
      return Ok();
    }
    if (EatWord("SID")) {
      if (!Eat("(")) return Fail("expected '(' after SID");
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
      if (!Eat(")")) return Fail("expected ')' after the SID");
      Emit(kSidTok, sid.ToBytes());
      return Ok();
    }
    if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) return Integer();
    return Fail("expected a value");
  }

  // An integer literal: sign, base (0x hex, leading-0 octal, decimal) and up to 64 bits of
  // magnitude (0xffffffffffffffff is accepted, Windows-recorded); a minus negates it.
  Result<void> Integer() {
    std::uint8_t sign = kSignNone;
    if (text_[pos_] == '-' || text_[pos_] == '+') {
      sign = text_[pos_] == '-' ? kSignMinus : kSignPlus;
      ++pos_;
    }
    std::uint8_t base = kBaseDecimal;
    unsigned radix = 10;
    if (text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X") {
      base = kBaseHex;
      radix = 16;
      pos_ += 2;
    } else if (pos_ + 1 < text_.size() && text_[pos_] == '0' &&
               std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
      base = kBaseOctal;
      radix = 8;
    }
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    while (pos_ < text_.size()) {
      const int d = HexDigit(text_[pos_]);
      if (d < 0 || static_cast<unsigned>(d) >= radix) break;
      if (v > (UINT64_MAX - static_cast<unsigned>(d)) / radix) return Fail("integer out of range");
      v = v * radix + static_cast<unsigned>(d);
      ++pos_;
    }
    if (pos_ == start) return Fail("expected digits");
    out_.push_back(kInt64);
    le::Put64(out_, sign == kSignMinus ? 0 - v : v);
    out_.push_back(sign);
    out_.push_back(base);
    return Ok();
  }

  std::string_view text_;
  const std::optional<Sid>& domain_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::vector<std::uint8_t> out_;
};

}  // namespace

Result<std::pair<std::vector<std::uint8_t>, std::size_t>> CompileConditionalExpression(
    std::string_view text, const std::optional<Sid>& domain_sid) {
  return Compiler(text, domain_sid).Run();
}

}  // namespace mkeys::acl::internal
