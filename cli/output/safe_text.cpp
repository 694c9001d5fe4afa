// SPDX-License-Identifier: GPL-3.0-or-later
#include "output/safe_text.hpp"

#include <cstdint>

#include <fmt/format.h>

namespace mkeys::cli {
namespace {

// Length of the valid UTF-8 sequence at `i` (1..4), or 0 when the byte there does not start
// one (overlong forms, surrogates and values above U+10FFFF are invalid). `cp` gets the value.
std::size_t Utf8Sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = b(i);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    cp = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    len = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool Unsafe(std::uint32_t cp, bool keep_newlines) {
  if (cp == '\n') return !keep_newlines;
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF;
}

std::string Escape(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    const std::size_t len = Utf8Sequence(text, i, cp);
    if (len == 0 || Unsafe(cp, keep_newlines)) {
      const std::size_t n = len == 0 ? 1 : len;
      for (std::size_t k = 0; k < n; ++k) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i + k]));
      }
      i += n;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

std::string Entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

bool IsPlainText(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t cp = 0;
    const std::size_t len = Utf8Sequence(text, i, cp);
    if (len == 0 || Unsafe(cp, false)) return false;
    i += len;
  }
  return true;
}

std::string EscapeUnsafe(std::string_view text) {
  return Escape(text, false);
}
std::string EscapeUnsafeKeepNewlines(std::string_view text) {
  return Escape(text, true);
}

std::string HexOf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string XmlText(std::string_view text) {
  return Entities(Escape(text, false));
}
std::string XmlTextKeepNewlines(std::string_view text) {
  return Entities(Escape(text, true));
}

}  // namespace mkeys::cli
