// SPDX-License-Identifier: GPL-3.0-or-later
// applicationHost.config's application pools. The file is XML; only a small, strict subset
// reader is needed (no DTD, no namespaces that matter): elements, attributes with quoted values
// and the five predefined and numeric character references, comments, processing instructions,
// CDATA and text, which is skipped. Everything malformed is an error at its line and column.
#include "mkeys/keystore/iis_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "mkeys/core/text.hpp"

namespace mkeys::keystore {
namespace {

constexpr std::size_t kMaxDepth = 256;

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
  bool self_closing = false;
};

class Reader {
 public:
  explicit Reader(std::string_view xml) : xml_(xml) {}

  Error ErrorAt(std::size_t at, std::string_view what) const {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at && i < xml_.size(); ++i) {
      if (xml_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return Error(ErrorCode::kParse,
                 fmt::format("applicationHost.config: line {}, column {}: {}", line, column, what))
        .At(at);
  }
  std::size_t LineAt(std::size_t at) const {
    return 1 + static_cast<std::size_t>(std::count(xml_.begin(), xml_.begin() + at, '\n'));
  }

  bool AtEnd() const { return pos_ >= xml_.size(); }
  std::size_t pos() const { return pos_; }
  bool StartsWith(std::string_view s) const { return xml_.substr(pos_, s.size()) == s; }

  // Skips to just past `terminator`; an error if the input ends first.
  Result<void> SkipPast(std::string_view terminator, std::string_view what) {
    const std::size_t start = pos_;
    const auto end = xml_.find(terminator, pos_);
    if (end == std::string_view::npos) return ErrorAt(start, fmt::format("unterminated {}", what));
    pos_ = end + terminator.size();
    return Ok();
  }

  // Text up to the next '<' (skipped; a stray '>' is fine in XML text, '&' must be a reference).
  Result<void> SkipText() {
    while (!AtEnd() && xml_[pos_] != '<') {
      if (xml_[pos_] == '&') {
        MKEYS_TRY(Reference());
      } else {
        ++pos_;
      }
    }
    return Ok();
  }

  Result<std::string> Name() {
    const std::size_t start = pos_;
    while (!AtEnd() && NameChar(xml_[pos_])) ++pos_;
    if (pos_ == start || IsDigitOrDash(xml_[start])) return ErrorAt(start, "expected a name");
    return std::string(xml_.substr(start, pos_ - start));
  }

  void SkipSpace() {
    while (!AtEnd() && IsSpace(xml_[pos_])) ++pos_;
  }

  // A start tag after its '<': name, attributes, then '>' or '/>'.
  Result<Element> StartTag() {
    Element element;
    MKEYS_ASSIGN_OR_RETURN(element.name, Name());
    for (;;) {
      const std::size_t before_space = pos_;
      SkipSpace();
      if (AtEnd()) return ErrorAt(pos_, fmt::format("<{}> is not closed", element.name));
      if (xml_[pos_] == '>') {
        ++pos_;
        return element;
      }
      if (StartsWith("/>")) {
        pos_ += 2;
        element.self_closing = true;
        return element;
      }
      if (pos_ == before_space) return ErrorAt(pos_, "expected a space before an attribute");
      const std::size_t attr_at = pos_;
      MKEYS_ASSIGN_OR_RETURN(std::string attr, Name());
      SkipSpace();
      if (AtEnd() || xml_[pos_] != '=') {
        return ErrorAt(pos_, fmt::format("attribute '{}' has no value", attr));
      }
      ++pos_;
      SkipSpace();
      MKEYS_ASSIGN_OR_RETURN(std::string value, QuotedValue());
      if (!element.attributes.emplace(attr, std::move(value)).second) {
        return ErrorAt(attr_at, fmt::format("attribute '{}' appears twice", attr));
      }
    }
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
  static bool IsDigitOrDash(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '.'; }
  static bool NameChar(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '-' || c == '.' || u >= 0x80;
  }

  Result<std::string> QuotedValue() {
    if (AtEnd() || (xml_[pos_] != '"' && xml_[pos_] != '\'')) {
      return ErrorAt(pos_, "an attribute value must be quoted");
    }
    const char quote = xml_[pos_];
    const std::size_t start = pos_++;
    std::string value;
    for (;;) {
      if (AtEnd()) return ErrorAt(start, "unterminated attribute value");
      const char c = xml_[pos_];
      if (c == quote) {
        ++pos_;
        return value;
      }
      if (c == '<') return ErrorAt(pos_, "'<' inside an attribute value");
      if (c == '&') {
        MKEYS_ASSIGN_OR_RETURN(const std::uint32_t cp, Reference());
        text::AppendUtf8(value, cp);
      } else {
        value.push_back(c);
        ++pos_;
      }
    }
  }

  // "&amp;" "&lt;" "&gt;" "&quot;" "&apos;" "&#NN;" "&#xHH;": the code point.
  Result<std::uint32_t> Reference() {
    const std::size_t start = pos_;
    const auto semi = xml_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) {
      return ErrorAt(start, "'&' that starts no character reference");
    }
    const std::string_view ref = xml_.substr(pos_ + 1, semi - pos_ - 1);
    pos_ = semi + 1;
    static const std::map<std::string_view, std::uint32_t> kNamed = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    if (auto it = kNamed.find(ref); it != kNamed.end()) return it->second;
    if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      bool ok = !digits.empty();
      for (char c : digits) {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0 || cp > 0x10FFFF) {
          ok = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      }
      if (ok && cp != 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) return cp;
      return ErrorAt(start, fmt::format("'&{};' is no valid character", ref));
    }
    return ErrorAt(start, fmt::format("unknown entity '&{};'", ref));
  }

  std::string_view xml_;
  std::size_t pos_ = 0;
};

Result<AppPoolIdentityType> IdentityTypeFrom(const Reader& reader, std::size_t at,
                                             std::string_view value) {
  for (auto type : {AppPoolIdentityType::kApplicationPoolIdentity,
                    AppPoolIdentityType::kNetworkService, AppPoolIdentityType::kLocalService,
                    AppPoolIdentityType::kLocalSystem, AppPoolIdentityType::kSpecificUser}) {
    if (text::EqualsIgnoreAsciiCase(value, AppPoolIdentityTypeName(type))) return type;
  }
  return reader.ErrorAt(at, fmt::format("unknown identityType '{}' (IIS knows "
                                        "ApplicationPoolIdentity, NetworkService, LocalService, "
                                        "LocalSystem, SpecificUser)",
                                        value));
}

// Where an element sits, as the path of names from the document element.
bool PathIs(const std::vector<std::string>& stack, std::initializer_list<std::string_view> path) {
  if (stack.size() != path.size()) return false;
  return std::equal(stack.begin(), stack.end(), path.begin());
}

}  // namespace

std::string_view AppPoolIdentityTypeName(AppPoolIdentityType type) {
  switch (type) {
    case AppPoolIdentityType::kApplicationPoolIdentity:
      return "ApplicationPoolIdentity";
    case AppPoolIdentityType::kNetworkService:
      return "NetworkService";
    case AppPoolIdentityType::kLocalService:
      return "LocalService";
    case AppPoolIdentityType::kLocalSystem:
      return "LocalSystem";
    case AppPoolIdentityType::kSpecificUser:
      return "SpecificUser";
  }
  return "?";
}

const AppPool* IisFacts::Find(std::string_view name) const {
  for (const auto& pool : pools) {
    if (text::EqualsIgnoreAsciiCase(pool.name, name)) return &pool;
  }
  return nullptr;
}

Result<IisFacts> ParseApplicationHostConfig(std::string_view xml) {
  Reader reader(xml);
  if (xml.size() > kMaxApplicationHostConfigBytes) {
    return reader.ErrorAt(kMaxApplicationHostConfigBytes, "larger than 16 MiB");
  }
  IisFacts facts;
  facts.source = std::string(kApplicationHostConfigRelative);
  AppPoolIdentityType default_type = AppPoolIdentityType::kApplicationPoolIdentity;
  std::vector<std::string> stack;
  std::vector<std::size_t> open_at;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t current = kNone;       // index of the pool whose <add> is open
  std::vector<bool> pool_has_model;  // a pool's own processModel set identityType
  bool seen_root = false;
  const std::initializer_list<std::string_view> kPools = {"configuration", "system.applicationHost",
                                                          "applicationPools"};

  if (reader.StartsWith("\xEF\xBB\xBF")) MKEYS_TRY(reader.SkipPast("\xEF\xBB\xBF", "BOM"));
  for (;;) {
    MKEYS_TRY(reader.SkipText());
    if (reader.AtEnd()) break;
    const std::size_t at = reader.pos();
    if (reader.StartsWith("<!--")) {
      MKEYS_TRY(reader.SkipPast("-->", "comment"));
    } else if (reader.StartsWith("<?")) {
      MKEYS_TRY(reader.SkipPast("?>", "processing instruction"));
    } else if (reader.StartsWith("<![CDATA[")) {
      if (stack.empty()) return reader.ErrorAt(at, "CDATA outside the document element");
      MKEYS_TRY(reader.SkipPast("]]>", "CDATA section"));
    } else if (reader.StartsWith("<!")) {
      return reader.ErrorAt(at, "document type declarations are not accepted");
    } else if (reader.StartsWith("</")) {
      MKEYS_TRY(reader.SkipPast("</", "end tag"));
      MKEYS_ASSIGN_OR_RETURN(const std::string name, reader.Name());
      reader.SkipSpace();
      if (!reader.StartsWith(">")) return reader.ErrorAt(reader.pos(), "expected '>'");
      MKEYS_TRY(reader.SkipPast(">", "end tag"));
      if (stack.empty() || stack.back() != name) {
        return reader.ErrorAt(at, stack.empty()
                                      ? fmt::format("</{}> closes nothing", name)
                                      : fmt::format("</{}> closes <{}> (line {})", name,
                                                    stack.back(), reader.LineAt(open_at.back())));
      }
      if (PathIs(stack, {"configuration", "system.applicationHost", "applicationPools", "add"})) {
        current = kNone;
      }
      stack.pop_back();
      open_at.pop_back();
    } else {
      MKEYS_TRY(reader.SkipPast("<", "tag"));
      MKEYS_ASSIGN_OR_RETURN(Element element, reader.StartTag());
      if (stack.empty() && seen_root) return reader.ErrorAt(at, "a second document element");
      if (stack.empty() && element.name != "configuration") {
        return reader.ErrorAt(
            at, fmt::format("the document element is <{}>, not <configuration>", element.name));
      }
      if (stack.empty()) seen_root = true;
      if (stack.size() >= kMaxDepth) return reader.ErrorAt(at, "elements nested too deeply");
      stack.push_back(element.name);
      open_at.push_back(at);
      const auto attr = [&](const char* name) -> const std::string* {
        auto it = element.attributes.find(name);
        return it == element.attributes.end() ? nullptr : &it->second;
      };
      std::vector<std::string> parent(stack.begin(), stack.end() - 1);
      if (PathIs(parent, kPools) && element.name == "add") {
        const std::string* name = attr("name");
        if (name == nullptr || name->empty()) return reader.ErrorAt(at, "a pool without a name");
        if (facts.Find(*name) != nullptr) {
          return reader.ErrorAt(at, fmt::format("application pool '{}' is added twice", *name));
        }
        facts.pools.push_back({*name, default_type, "", reader.LineAt(at)});
        pool_has_model.push_back(false);
        current = facts.pools.size() - 1;
      } else if (PathIs(parent, kPools) && element.name == "remove") {
        const std::string* name = attr("name");
        if (name == nullptr) return reader.ErrorAt(at, "<remove> without a name");
        for (std::size_t i = 0; i < facts.pools.size(); ++i) {
          if (text::EqualsIgnoreAsciiCase(facts.pools[i].name, *name)) {
            facts.pools.erase(facts.pools.begin() + static_cast<std::ptrdiff_t>(i));
            pool_has_model.erase(pool_has_model.begin() + static_cast<std::ptrdiff_t>(i));
            break;
          }
        }
      } else if (PathIs(parent, kPools) && element.name == "clear") {
        facts.pools.clear();
        pool_has_model.clear();
      } else if (element.name == "processModel" && parent.size() == 4 &&
                 PathIs(std::vector<std::string>(parent.begin(), parent.end() - 1), kPools)) {
        const std::string* type = attr("identityType");
        std::optional<AppPoolIdentityType> parsed;
        if (type != nullptr) {
          MKEYS_ASSIGN_OR_RETURN(parsed, IdentityTypeFrom(reader, at, *type));
        }
        if (parent.back() == "applicationPoolDefaults" && parsed) {
          default_type = *parsed;
          // Pools added before the defaults without their own processModel follow them too.
          for (std::size_t i = 0; i < facts.pools.size(); ++i) {
            if (!pool_has_model[i]) facts.pools[i].identity_type = default_type;
          }
        } else if (parent.back() == "add" && current != kNone) {
          if (parsed) {
            facts.pools[current].identity_type = *parsed;
            pool_has_model[current] = true;
          }
          if (const std::string* user = attr("userName")) facts.pools[current].user_name = *user;
        }
      }
      if (element.self_closing) {
        if (PathIs(stack, {"configuration", "system.applicationHost", "applicationPools", "add"})) {
          current = kNone;
        }
        stack.pop_back();
        open_at.pop_back();
      }
    }
  }
  if (!stack.empty()) {
    return reader.ErrorAt(open_at.back(), fmt::format("<{}> is never closed", stack.back()));
  }
  if (!seen_root) return reader.ErrorAt(0, "no document element");
  return facts;
}

}  // namespace mkeys::keystore
