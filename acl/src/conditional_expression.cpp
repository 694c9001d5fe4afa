// SPDX-License-Identifier: GPL-3.0-or-later
// Conditional-ACE expressions (MS-DTYP 2.4.4.17): the binary form is a postfix program after
// the signature "artx"; the SDDL form is infix with every operation in parentheses, as Windows
// writes it: (@User.Title == "PM"), ((a) && (b)), (Member_of {SID(BA), SID(BU)}), (!(x)).
#include "internal/conditional_expression.hpp"

#include <cctype>

#include <fmt/format.h>

#include "internal/sid_parse.hpp"
#include "mkeys/acl/sid_names.hpp"

namespace mkeys::acl::internal {
namespace {

enum Tok : std::uint8_t {
  kPad = 0x00,
  kInt8 = 0x01,
  kInt16 = 0x02,
  kInt32 = 0x03,
  kInt64 = 0x04,
  kString = 0x10,
  kOctets = 0x18,
  kComposite = 0x50,
  kSidTok = 0x51,
  kAnd = 0xa0,
  kOr = 0xa1,
  kNot = 0xa2,
  kLocalAttr = 0xf8,
  kUserAttr = 0xf9,
  kResourceAttr = 0xfa,
  kDeviceAttr = 0xfb,
};

struct OpName {
  std::uint8_t token;
  const char* text;
  bool unary;
};
// Relational and membership operators. Longer names first so that parsing finds
// "Not_Member_of_Any" before "Not_Member_of".
constexpr OpName kOps[] = {
    {0x93, "Not_Device_Member_of_Any", true},
    {0x92, "Not_Member_of_Any", true},
    {0x91, "Not_Device_Member_of", true},
    {0x90, "Not_Member_of", true},
    {0x8c, "Device_Member_of_Any", true},
    {0x8b, "Member_of_Any", true},
    {0x8a, "Device_Member_of", true},
    {0x89, "Member_of", true},
    {0x8d, "Not_Exists", true},
    {0x87, "Exists", true},
    {0x8f, "Not_Any_of", false},
    {0x8e, "Not_Contains", false},
    {0x88, "Any_of", false},
    {0x86, "Contains", false},
    {0x80, "==", false},
    {0x81, "!=", false},
    {0x83, "<=", false},
    {0x85, ">=", false},
    {0x82, "<", false},
    {0x84, ">", false},
};

const OpName* FindOp(std::uint8_t token) {
  for (const auto& op : kOps) {
    if (op.token == token) return &op;
  }
  return nullptr;
}

constexpr std::uint8_t kSignature[4] = {'a', 'r', 't', 'x'};

void PutU32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::vector<std::uint8_t> Utf16(std::string_view utf8) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    std::uint32_t cp = c;
    std::size_t n = 1;
    if (c >= 0xF0 && i + 3 < utf8.size()) {
      cp = (c & 0x07u) << 18 | (utf8[i + 1] & 0x3Fu) << 12 | (utf8[i + 2] & 0x3Fu) << 6 |
           (utf8[i + 3] & 0x3Fu);
      n = 4;
    } else if (c >= 0xE0 && i + 2 < utf8.size()) {
      cp = (c & 0x0Fu) << 12 | (utf8[i + 1] & 0x3Fu) << 6 | (utf8[i + 2] & 0x3Fu);
      n = 3;
    } else if (c >= 0xC0 && i + 1 < utf8.size()) {
      cp = (c & 0x1Fu) << 6 | (utf8[i + 1] & 0x3Fu);
      n = 2;
    }
    i += n;
    auto unit = [&](std::uint32_t u) {
      out.push_back(static_cast<std::uint8_t>(u));
      out.push_back(static_cast<std::uint8_t>(u >> 8));
    };
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xD800 | (cp >> 10));
      unit(0xDC00 | (cp & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return out;
}

std::string Utf8(std::span<const std::uint8_t> utf16) {
  std::string out;
  for (std::size_t i = 0; i + 1 < utf16.size(); i += 2) {
    std::uint32_t cp = static_cast<std::uint32_t>(utf16[i] | utf16[i + 1] << 8);
    if (cp >= 0xD800 && cp < 0xDC00 && i + 3 < utf16.size()) {
      const std::uint32_t lo = static_cast<std::uint32_t>(utf16[i + 2] | utf16[i + 3] << 8);
      if (lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        i += 2;
      }
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// ---- binary -> SDDL ------------------------------------------------------------------------

class Formatter {
 public:
  Formatter(std::span<const std::uint8_t> data, const std::optional<Sid>& domain)
      : data_(data), domain_(domain) {}

  Result<std::string> Run() {
    if (data_.size() < 4 || !std::equal(kSignature, kSignature + 4, data_.begin())) {
      return Error(ErrorCode::kParse, "conditional ACE data does not start with \"artx\"").At(0);
    }
    std::size_t pos = 4;
    std::vector<std::string> stack;
    MKEYS_TRY(Program(pos, data_.size(), stack, false));
    if (stack.size() != 1) {
      return Error(ErrorCode::kParse, fmt::format("conditional expression leaves {} values on "
                                                  "the stack, not 1",
                                                  stack.size()))
          .At(pos);
    }
    std::string out = stack.back();
    if (out.empty() || out.front() != '(') out = "(" + out + ")";
    return out;
  }

 private:
  Result<std::uint32_t> Length(std::size_t& pos, std::size_t end) {
    if (end - pos < 4) return Error(ErrorCode::kParse, "truncated length").At(pos);
    const std::uint32_t n =
        static_cast<std::uint32_t>(data_[pos] | data_[pos + 1] << 8 | data_[pos + 2] << 16) |
        static_cast<std::uint32_t>(data_[pos + 3]) << 24;
    pos += 4;
    if (n > end - pos) return Error(ErrorCode::kParse, "length runs past the end").At(pos - 4);
    return n;
  }

  // Reads tokens in [pos, end). In a composite only literals are allowed and they are joined.
  Result<void> Program(std::size_t& pos, std::size_t end, std::vector<std::string>& stack,
                       bool composite, int depth = 0) {
    if (depth > 16) return Error(ErrorCode::kParse, "composites nested too deeply").At(pos);
    while (pos < end) {
      const std::size_t at = pos;
      const std::uint8_t t = data_[pos++];
      if (t == kPad && !composite) {
        // Padding: only zeros may follow.
        for (; pos < end; ++pos) {
          if (data_[pos] != 0) return Error(ErrorCode::kParse, "bytes after padding").At(pos);
        }
        break;
      }
      if (t >= kInt8 && t <= kInt64) {
        if (end - pos < 10) return Error(ErrorCode::kParse, "truncated integer").At(at);
        std::uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = v << 8 | data_[pos + static_cast<std::size_t>(i)];
        const std::uint8_t sign = data_[pos + 8];
        const std::uint8_t base = data_[pos + 9];
        pos += 10;
        stack.push_back(FormatInt(static_cast<std::int64_t>(v), sign, base));
        continue;
      }
      if (t == kString || t == kLocalAttr || t == kUserAttr || t == kResourceAttr ||
          t == kDeviceAttr || t == kOctets || t == kSidTok || t == kComposite) {
        MKEYS_ASSIGN_OR_RETURN(const std::uint32_t n, Length(pos, end));
        const auto body = data_.subspan(pos, n);
        switch (t) {
          case kString:
            stack.push_back("\"" + Utf8(body) + "\"");
            break;
          case kLocalAttr:
            stack.push_back(Utf8(body));
            break;
          case kUserAttr:
            stack.push_back("@User." + Utf8(body));
            break;
          case kResourceAttr:
            stack.push_back("@Resource." + Utf8(body));
            break;
          case kDeviceAttr:
            stack.push_back("@Device." + Utf8(body));
            break;
          case kOctets: {
            std::string s = "#";
            for (auto b : body) s += fmt::format("{:02x}", b);
            stack.push_back(s);
            break;
          }
          case kSidTok: {
            auto sid = Sid::Decode(body);
            if (!sid || sid->ByteSize() != n) {
              return Error(ErrorCode::kParse, "malformed SID literal").At(pos);
            }
            const auto alias = AliasForSid(*sid, domain_);
            stack.push_back("SID(" + (alias ? std::string(*alias) : sid->ToString()) + ")");
            break;
          }
          default: {  // composite
            std::vector<std::string> items;
            std::size_t inner = pos;
            MKEYS_TRY(Program(inner, pos + n, items, true, depth + 1));
            std::string s = "{";
            for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
            stack.push_back(s + "}");
            break;
          }
        }
        pos += n;
        continue;
      }
      if (composite) {
        return Error(ErrorCode::kParse, fmt::format("token 0x{:02x} inside a composite", t)).At(at);
      }
      if (t == kAnd || t == kOr) {
        if (stack.size() < 2) return Error(ErrorCode::kParse, "operator lacks operands").At(at);
        std::string b = std::move(stack.back());
        stack.pop_back();
        std::string a = std::move(stack.back());
        stack.pop_back();
        stack.push_back("(" + a + (t == kAnd ? " && " : " || ") + b + ")");
        continue;
      }
      if (t == kNot) {
        if (stack.empty()) return Error(ErrorCode::kParse, "operator lacks operands").At(at);
        stack.back() = "(!" + stack.back() + ")";
        continue;
      }
      const OpName* op = FindOp(t);
      if (op == nullptr) {
        return Error(ErrorCode::kParse, fmt::format("unknown conditional token 0x{:02x}", t))
            .At(at);
      }
      if (op->unary) {
        if (stack.empty()) return Error(ErrorCode::kParse, "operator lacks operands").At(at);
        stack.back() = std::string("(") + op->text + " " + stack.back() + ")";
      } else {
        if (stack.size() < 2) return Error(ErrorCode::kParse, "operator lacks operands").At(at);
        std::string b = std::move(stack.back());
        stack.pop_back();
        std::string a = std::move(stack.back());
        stack.pop_back();
        stack.push_back("(" + a + " " + op->text + " " + b + ")");
      }
    }
    return Ok();
  }

  static std::string FormatInt(std::int64_t v, std::uint8_t sign, std::uint8_t base) {
    const bool negative = v < 0;
    const std::uint64_t mag =
        negative ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    std::string digits = base == 0x01   ? (mag == 0 ? "0" : fmt::format("0{:o}", mag))
                         : base == 0x03 ? fmt::format("0x{:x}", mag)
                                        : fmt::format("{}", mag);
    if (negative) return "-" + digits;
    if (sign == 0x01) return "+" + digits;
    return digits;
  }

  std::span<const std::uint8_t> data_;
  const std::optional<Sid>& domain_;
};

// ---- SDDL -> binary ------------------------------------------------------------------------

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
      if (std::tolower(static_cast<unsigned char>(text_[pos_ + i])) !=
          std::tolower(static_cast<unsigned char>(s[i]))) {
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
          same = same && std::tolower(static_cast<unsigned char>(text_[pos_ + i])) ==
                             std::tolower(static_cast<unsigned char>(s[i]));
        }
        if (same) {
          pos_ += s.size();
          token = p.token;
          break;
        }
      }
    }
    const std::size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
            text_[pos_] == ':' || text_[pos_] == '.' || text_[pos_] == '/' || text_[pos_] == '$' ||
            static_cast<unsigned char>(text_[pos_]) >= 0x80)) {
      ++pos_;
    }
    if (pos_ == start) return Fail("expected an attribute name");
    Emit(token, Utf16(text_.substr(start, pos_ - start)));
    return Ok();
  }

  void Emit(std::uint8_t token, const std::vector<std::uint8_t>& body) {
    out_.push_back(token);
    PutU32(out_, static_cast<std::uint32_t>(body.size()));
    out_.insert(out_.end(), body.begin(), body.end());
  }

  // The right-hand side: a literal, a composite {..} or an attribute.
  Result<void> Operand() {
    Blanks();
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
      Emit(kString, Utf16(text_.substr(start, pos_ - start)));
      ++pos_;
      return Ok();
    }
    if (c == '#') {
      std::vector<std::uint8_t> bytes;
      ++pos_;
      while (pos_ + 1 < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[pos_])) &&
             std::isxdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
        bytes.push_back(
            static_cast<std::uint8_t>(std::stoi(std::string(text_.substr(pos_, 2)), nullptr, 16)));
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
    if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) {
      std::uint8_t sign = 0x03;
      if (c == '-' || c == '+') {
        sign = c == '-' ? 0x02 : 0x01;
        ++pos_;
      }
      std::uint8_t base = 0x02;
      unsigned radix = 10;
      if (text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X") {
        base = 0x03;
        radix = 16;
        pos_ += 2;
      } else if (pos_ + 1 < text_.size() && text_[pos_] == '0' &&
                 std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
        base = 0x01;
        radix = 8;
      }
      const std::size_t start = pos_;
      std::uint64_t v = 0;
      while (pos_ < text_.size()) {
        const char d = static_cast<char>(std::tolower(static_cast<unsigned char>(text_[pos_])));
        unsigned dv = 99;
        if (d >= '0' && d <= '9') dv = static_cast<unsigned>(d - '0');
        if (d >= 'a' && d <= 'f') dv = static_cast<unsigned>(d - 'a' + 10);
        if (dv >= radix) break;
        if (v > (0x7FFFFFFFFFFFFFFFull - dv) / radix) return Fail("integer out of range");
        v = v * radix + dv;
        ++pos_;
      }
      if (pos_ == start) return Fail("expected digits");
      const std::int64_t value =
          sign == 0x02 ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
      out_.push_back(kInt64);
      for (int i = 0; i < 8; ++i)
        out_.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i)));
      out_.push_back(sign);
      out_.push_back(base);
      return Ok();
    }
    return Fail("expected a value");
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

Result<std::string> FormatConditionalExpression(std::span<const std::uint8_t> data,
                                                const std::optional<Sid>& domain_sid) {
  return Formatter(data, domain_sid).Run();
}

}  // namespace mkeys::acl::internal
