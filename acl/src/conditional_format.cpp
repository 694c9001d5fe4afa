// SPDX-License-Identifier: GPL-3.0-or-later
// Conditional-ACE expressions (MS-DTYP 2.4.4.17), binary -> SDDL: the binary form is a postfix
// program after the signature "artx"; the SDDL form is infix with every operation in
// parentheses, as Windows writes it: (@User.Title == "PM"), ((a) && (b)),
// (Member_of {SID(BA), SID(BU)}), (!(x)). What is written here parses back to the same bytes
// (conditional_compile.cpp): attribute-name characters outside attr-char are escaped as
// "%XXXX", hex and octal integers keep all 64 bits.
#include <fmt/format.h>

#include "internal/conditional_expression.hpp"
#include "internal/conditional_tokens.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/core/text.hpp"

namespace mkeys::acl::internal {
namespace {

using namespace cond;

Error FormatError(std::string message, std::size_t at) {
  return std::move(Error(ErrorCode::kParse, std::move(message)).At(at));
}

// An attribute name: UTF-16 code units, the plain ones as ASCII, the rest as %XXXX.
std::string AttributeName(std::span<const std::uint8_t> utf16) {
  std::string out;
  for (std::size_t i = 0; i + 1 < utf16.size(); i += 2) {
    const std::uint16_t unit = le::Read16(utf16, i);
    if (IsPlainAttrChar(unit)) {
      out += static_cast<char>(unit);
    } else {
      out += fmt::format("%{:04x}", unit);
    }
  }
  return out;
}

// An integer literal as it was written: "-" / "+" from the sign byte, then the magnitude in its
// base. Without a sign the 64 bits are shown unsigned (0xffffffffffffffff), as they were read.
std::string FormatInt(std::uint64_t bits, std::uint8_t sign, std::uint8_t base) {
  std::string prefix;
  std::uint64_t magnitude = bits;
  if (sign == kSignMinus) {
    prefix = "-";
    magnitude = 0 - bits;
  } else if (sign == kSignPlus) {
    prefix = "+";
  }
  if (base == kBaseOctal) return prefix + (magnitude == 0 ? "0" : fmt::format("0{:o}", magnitude));
  if (base == kBaseHex) return prefix + fmt::format("0x{:x}", magnitude);
  return prefix + fmt::format("{}", magnitude);
}

class Formatter {
 public:
  Formatter(std::span<const std::uint8_t> data, const std::optional<Sid>& domain)
      : data_(data), domain_(domain) {}

  Result<std::string> Run() {
    if (data_.size() < 4 || !std::equal(kSignature, kSignature + 4, data_.begin())) {
      return FormatError("conditional ACE data does not start with \"artx\"", 0);
    }
    std::size_t pos = 4;
    std::vector<std::string> stack;
    MKEYS_TRY(Program(pos, data_.size(), stack, false, 0));
    if (stack.size() != 1) {
      return FormatError(
          fmt::format("conditional expression leaves {} values on the stack, not 1", stack.size()),
          pos);
    }
    std::string out = stack.back();
    if (out.empty() || out.front() != '(') out = "(" + out + ")";
    return out;
  }

 private:
  Result<std::uint32_t> Length(std::size_t& pos, std::size_t end) {
    if (end - pos < 4) return FormatError("truncated length", pos);
    const std::uint32_t n = le::Read32(data_, pos);
    pos += 4;
    if (n > end - pos) return FormatError("length runs past the end", pos - 4);
    return n;
  }

  Result<std::string> Literal(std::uint8_t t, std::span<const std::uint8_t> body, std::size_t at,
                              int depth) {
    switch (t) {
      case kString: {
        auto utf8 = text::Utf16LeToUtf8(body);
        if (!utf8 || body.size() % 2 != 0) return FormatError("string is not UTF-16", at);
        return "\"" + *utf8 + "\"";
      }
      case kLocalAttr:
        return AttributeName(body);
      case kUserAttr:
        return "@User." + AttributeName(body);
      case kResourceAttr:
        return "@Resource." + AttributeName(body);
      case kDeviceAttr:
        return "@Device." + AttributeName(body);
      case kOctets: {
        std::string s = "#";
        for (auto b : body) s += fmt::format("{:02x}", b);
        return s;
      }
      case kSidTok: {
        auto sid = Sid::Decode(body);
        if (!sid || sid->ByteSize() != body.size()) return FormatError("malformed SID literal", at);
        const auto alias = AliasForSid(*sid, domain_);
        return "SID(" + (alias ? std::string(*alias) : sid->ToString()) + ")";
      }
      default: {  // composite
        std::vector<std::string> items;
        std::size_t inner = at;
        MKEYS_TRY(Program(inner, at + body.size(), items, true, depth + 1));
        std::string s = "{";
        for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
        return s + "}";
      }
    }
  }

  Result<void> Operator(std::uint8_t t, std::size_t at, std::vector<std::string>& stack) {
    const OpName* op = FindOp(t);
    const bool unary = t == kNot || (op != nullptr && op->unary);
    if (t != kAnd && t != kOr && t != kNot && op == nullptr) {
      return FormatError(fmt::format("unknown conditional token 0x{:02x}", t), at);
    }
    if (stack.size() < (unary ? 1u : 2u)) return FormatError("operator lacks operands", at);
    if (t == kNot) {
      stack.back() = "(!" + stack.back() + ")";
      return Ok();
    }
    if (unary) {
      stack.back() = std::string("(") + op->text + " " + stack.back() + ")";
      return Ok();
    }
    std::string b = std::move(stack.back());
    stack.pop_back();
    std::string a = std::move(stack.back());
    stack.pop_back();
    const char* name = t == kAnd ? "&&" : t == kOr ? "||" : op->text;
    stack.push_back("(" + a + " " + name + " " + b + ")");
    return Ok();
  }

  // Reads tokens in [pos, end). In a composite only literals are allowed and they are joined.
  Result<void> Program(std::size_t& pos, std::size_t end, std::vector<std::string>& stack,
                       bool composite, int depth) {
    if (depth > 16) return FormatError("composites nested too deeply", pos);
    while (pos < end) {
      const std::size_t at = pos;
      const std::uint8_t t = data_[pos++];
      if (t == kPad && !composite) {
        for (; pos < end; ++pos) {  // padding: only zeros may follow
          if (data_[pos] != 0) return FormatError("bytes after padding", pos);
        }
        break;
      }
      if (t >= kInt8 && t <= kInt64) {
        if (end - pos < 10) return FormatError("truncated integer", at);
        stack.push_back(FormatInt(le::Read64(data_, pos), data_[pos + 8], data_[pos + 9]));
        pos += 10;
        continue;
      }
      if (t == kString || t == kLocalAttr || t == kUserAttr || t == kResourceAttr ||
          t == kDeviceAttr || t == kOctets || t == kSidTok || t == kComposite) {
        MKEYS_ASSIGN_OR_RETURN(const std::uint32_t n, Length(pos, end));
        MKEYS_ASSIGN_OR_RETURN(std::string s, Literal(t, data_.subspan(pos, n), pos, depth));
        stack.push_back(std::move(s));
        pos += n;
        continue;
      }
      if (composite) return FormatError(fmt::format("token 0x{:02x} inside a composite", t), at);
      MKEYS_TRY(Operator(t, at, stack));
    }
    return Ok();
  }

  std::span<const std::uint8_t> data_;
  const std::optional<Sid>& domain_;
};

}  // namespace

Result<std::string> FormatConditionalExpression(std::span<const std::uint8_t> data,
                                                const std::optional<Sid>& domain_sid) {
  return Formatter(data, domain_sid).Run();
}

}  // namespace mkeys::acl::internal
