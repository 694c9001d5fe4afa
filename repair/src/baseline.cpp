// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/repair/baseline.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mkeys::repair {
namespace {

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

Error Bad(const std::string& where, const std::string& what) {
  return Error(ErrorCode::kParse, fmt::format("baseline: {}: {}", where, what));
}

Result<std::string> StringMember(const nlohmann::json& obj, const char* key,
                                 const std::string& where, bool required) {
  const auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return Bad(where, fmt::format("member \"{}\" is missing", key));
    return std::string();
  }
  if (!it->is_string()) return Bad(where + "." + key, "must be a string");
  return it->get<std::string>();
}

}  // namespace

Result<ServiceDeclaration> ParseServiceDeclaration(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("--service '{}': expected IDENTITY=GLOB, e.g. "
                             "'NT AUTHORITY\\NETWORK SERVICE=TMG*'",
                             text));
  }
  return ServiceDeclaration{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with one backtrack point: linear in practice, never recursive.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || Lower(pattern[p]) == Lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Baseline::Accepts(RuleId rule, std::string_view object) const {
  for (const auto& a : accepted) {
    if (a.rule == rule && GlobMatch(a.object_glob, object)) return true;
  }
  return false;
}

Result<Baseline> ParseBaseline(std::string_view json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    return Error(ErrorCode::kParse, fmt::format("baseline is not valid JSON: {}", e.what()))
        .At(e.byte == 0 ? 0 : e.byte - 1);
  } catch (const nlohmann::json::exception& e) {
    // out_of_range.406: a number beyond double's range ("1e999"); the message quotes it.
    return Error(ErrorCode::kParse, fmt::format("baseline is not valid JSON: {}", e.what()));
  }
  if (!doc.is_object()) return Bad("document", "must be a JSON object");
  Baseline baseline;
  for (const auto& [key, value] : doc.items()) {
    if (key == "version") {
      if (!value.is_number_integer() || value.get<std::int64_t>() != 1) {
        return Bad("version", "must be 1");
      }
    } else if (key == "services") {
      if (!value.is_array()) return Bad("services", "must be an array");
      for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string where = fmt::format("services[{}]", i);
        if (!value[i].is_object()) return Bad(where, "must be an object");
        MKEYS_ASSIGN_OR_RETURN(std::string identity,
                               StringMember(value[i], "identity", where, true));
        MKEYS_ASSIGN_OR_RETURN(std::string glob, StringMember(value[i], "containers", where, true));
        if (identity.empty() || glob.empty())
          return Bad(where, "identity and containers must not be empty");
        baseline.services.push_back({std::move(identity), std::move(glob)});
      }
    } else if (key == "accept") {
      if (!value.is_array()) return Bad("accept", "must be an array");
      for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string where = fmt::format("accept[{}]", i);
        if (!value[i].is_object()) return Bad(where, "must be an object");
        MKEYS_ASSIGN_OR_RETURN(std::string rule_text, StringMember(value[i], "rule", where, true));
        auto rule = ParseRuleId(rule_text);
        if (!rule) return Bad(where + ".rule", rule.error().message());
        MKEYS_ASSIGN_OR_RETURN(std::string object, StringMember(value[i], "object", where, false));
        MKEYS_ASSIGN_OR_RETURN(std::string reason, StringMember(value[i], "reason", where, false));
        baseline.accepted.push_back({*rule, object.empty() ? "*" : object, std::move(reason)});
      }
    } else if (key == "thresholds") {
      if (!value.is_object()) return Bad("thresholds", "must be an object");
      for (const auto& [tkey, tvalue] : value.items()) {
        if (tkey != "max_containers") return Bad("thresholds." + tkey, "unknown threshold");
        if (!tvalue.is_number_unsigned()) {
          return Bad("thresholds.max_containers", "must be a non-negative integer");
        }
        baseline.thresholds.max_containers = tvalue.get<std::uint64_t>();
      }
    } else if (key == "expected_owners") {
      if (!value.is_array()) return Bad("expected_owners", "must be an array");
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string())
          return Bad(fmt::format("expected_owners[{}]", i), "must be a string");
        baseline.expected_owners.push_back(value[i].get<std::string>());
      }
    } else if (key == "description" || key == "$comment") {
      // Free text for people.
    } else {
      return Bad(key,
                 "unknown member (expected version, services, accept, thresholds, "
                 "expected_owners, description)");
    }
  }
  return baseline;
}

Result<Baseline> LoadBaseline(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot open baseline file").On(file.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = ParseBaseline(text.str());
  if (!parsed) return Error(parsed.error()).On(file.string());
  return parsed;
}

}  // namespace mkeys::repair
