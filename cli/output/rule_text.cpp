// SPDX-License-Identifier: GPL-3.0-or-later
#include "output/rule_text.hpp"

#include "mkeys/core/text.hpp"

namespace mkeys::cli {

std::string XccdfId(std::string_view kind, std::string_view name) {
  return "xccdf_" + std::string(kXccdfNamespace) + "_" + std::string(kind) + "_" +
         std::string(name);
}

std::string XccdfRuleId(std::string_view code) {
  return XccdfId("rule", code);
}

std::string RuleCodeFromXccdfId(std::string_view id) {
  const std::string prefix = XccdfId("rule", "");
  if (id.size() > prefix.size() &&
      text::EqualsIgnoreAsciiCase(id.substr(0, prefix.size()), prefix)) {
    return std::string(id.substr(prefix.size()));
  }
  return std::string(id);
}

}  // namespace mkeys::cli
