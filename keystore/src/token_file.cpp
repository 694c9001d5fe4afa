// SPDX-License-Identifier: GPL-3.0-or-later
// Token files (--token FILE): a strict parser and the token they describe. docs/identities.md,
// "Token files (--token FILE)".
#include "mkeys/keystore/token_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mkeys/acl/sid_names.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/hive_values.hpp"
#include "mkeys/keystore/machine_identities.hpp"

namespace mkeys::keystore {
namespace {

using nlohmann::json;

Error ParseError(const std::string& path, const std::string& what) {
  return Error(ErrorCode::kParse, fmt::format("token file: {}: {}", path, what));
}

const char* TypeName(const json& value) {
  return value.type_name();
}

// Every key of `object` must be one of `allowed`.
Result<void> OnlyKeys(const json& object, const std::string& path,
                      std::initializer_list<std::string_view> allowed) {
  for (const auto& item : object.items()) {
    const bool known = std::any_of(allowed.begin(), allowed.end(),
                                   [&](std::string_view k) { return k == item.key(); });
    if (!known) {
      std::string list;
      for (std::string_view k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
      return ParseError(path, fmt::format("unknown key \"{}\" (allowed: {})", item.key(), list));
    }
  }
  return Ok();
}

Result<std::string> StringAt(const json& value, const std::string& path) {
  if (!value.is_string()) {
    return ParseError(path, fmt::format("expected a string, found {}", TypeName(value)));
  }
  return value.get<std::string>();
}

bool LooksLikeSid(std::string_view text) {
  return text.size() >= 2 && (text[0] == 'S' || text[0] == 's') && text[1] == '-';
}

Result<acl::Sid> ParseSidAt(const std::string& text, const std::string& path) {
  auto sid = acl::Sid::Parse(text);
  if (!sid) {
    return ParseError(path, fmt::format("'{}' is not a SID: {}", text, sid.error().message()));
  }
  return *sid;
}

// A user or group: "S-1-5-...", a name the machine or Windows knows, or
// {"name": ..., "sid": ..., "deny_only": bool} ("deny_only" for groups only).
Result<TokenFilePrincipal> PrincipalAt(const json& value, const std::string& path,
                                       const MachinePolicy* policy, bool group) {
  TokenFilePrincipal out;
  std::optional<std::string> name;
  std::optional<std::string> sid_text;
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (LooksLikeSid(text)) {
      sid_text = text;
    } else {
      name = text;
    }
  } else if (value.is_object()) {
    if (group) {
      MKEYS_TRY(OnlyKeys(value, path, {"name", "sid", "deny_only"}));
    } else {
      MKEYS_TRY(OnlyKeys(value, path, {"name", "sid"}));
    }
    if (value.contains("name")) {
      MKEYS_ASSIGN_OR_RETURN(std::string n, StringAt(value["name"], path + ".name"));
      if (n.empty()) return ParseError(path + ".name", "is empty");
      name = std::move(n);
    }
    if (value.contains("sid")) {
      MKEYS_ASSIGN_OR_RETURN(std::string s, StringAt(value["sid"], path + ".sid"));
      sid_text = std::move(s);
    }
    if (value.contains("deny_only")) {
      if (!value["deny_only"].is_boolean()) {
        return ParseError(path + ".deny_only", fmt::format("expected true or false, found {}",
                                                           TypeName(value["deny_only"])));
      }
      out.deny_only = value["deny_only"].get<bool>();
    }
    if (!name && !sid_text) return ParseError(path, "give \"sid\", \"name\" or both");
  } else {
    return ParseError(path,
                      fmt::format("expected a SID, a name or {{\"name\": ..., \"sid\": ...}}, "
                                  "found {}",
                                  TypeName(value)));
  }
  std::optional<acl::Sid> given;
  if (sid_text) {
    const std::string at = value.is_object() ? path + ".sid" : path;
    MKEYS_ASSIGN_OR_RETURN(acl::Sid parsed, ParseSidAt(*sid_text, at));
    given = parsed;
  }
  if (name) {
    auto known = ResolvePrincipal(policy, *name);
    if (known && given && *known != *given) {
      return ParseError(path, fmt::format("'{}' is {} on this machine, not {}", *name,
                                          known->ToString(), given->ToString()));
    }
    if (!known && !given) {
      return ParseError(path, fmt::format("'{}' is no account of this machine and no well-known "
                                          "name: give its SID ({{\"name\": \"{}\", \"sid\": "
                                          "\"S-1-5-21-...\"}})",
                                          *name, *name));
    }
    if (!given) given = *known;
    out.name = *name;
  }
  out.sid = *given;
  return out;
}

Result<std::string> PrivilegeNameAt(const std::string& text, const std::string& path) {
  if (auto canonical = acl::CanonicalPrivilegeName(text)) return *canonical;
  auto value = hive::PrivilegeValue(text);
  if (!value) return ParseError(path, value.error().message());
  return std::string(*hive::PrivilegeName(*value));
}

Result<std::vector<acl::TokenPrivilege>> PrivilegesAt(const json& list) {
  if (!list.is_array()) {
    return ParseError("$.privileges", fmt::format("expected an array, found {}", TypeName(list)));
  }
  std::vector<acl::TokenPrivilege> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = fmt::format("$.privileges[{}]", i);
    const json& p = list[i];
    std::string name;
    std::optional<bool> enabled;
    if (p.is_string()) {
      MKEYS_ASSIGN_OR_RETURN(name, PrivilegeNameAt(p.get<std::string>(), path));
    } else if (p.is_object()) {
      MKEYS_TRY(OnlyKeys(p, path, {"name", "enabled"}));
      if (!p.contains("name")) return ParseError(path, "\"name\" is required");
      MKEYS_ASSIGN_OR_RETURN(const std::string text, StringAt(p["name"], path + ".name"));
      MKEYS_ASSIGN_OR_RETURN(name, PrivilegeNameAt(text, path + ".name"));
      if (p.contains("enabled")) {
        if (!p["enabled"].is_boolean()) {
          return ParseError(path + ".enabled", fmt::format("expected true or false, found {}",
                                                           TypeName(p["enabled"])));
        }
        enabled = p["enabled"].get<bool>();
      }
    } else {
      return ParseError(path, fmt::format("expected a privilege name or {{\"name\": ..., "
                                          "\"enabled\": bool}}, found {}",
                                          TypeName(p)));
    }
    const bool twice = std::any_of(out.begin(), out.end(),
                                   [&](const acl::TokenPrivilege& x) { return x.name == name; });
    if (twice) return ParseError(path, fmt::format("{} is listed twice", name));
    // A string is a privilege the token holds enabled (as --privilege does).
    out.push_back({name, enabled.value_or(true)});
  }
  return out;
}

Result<TokenFileLogon> LogonAt(const json& value) {
  MKEYS_ASSIGN_OR_RETURN(const std::string text, StringAt(value, "$.logon"));
  for (auto logon : {TokenFileLogon::kNone, TokenFileLogon::kService, TokenFileLogon::kInteractive,
                     TokenFileLogon::kNetwork, TokenFileLogon::kBatch}) {
    if (TokenFileLogonName(logon) == text) return logon;
  }
  return ParseError("$.logon", fmt::format("unknown logon '{}' (allowed: none, service, "
                                           "interactive, network, batch)",
                                           text));
}

// nlohmann keeps the last of two equal keys; a strict file has none. Its callback sees every key
// as it is parsed: one set of keys per open object.
struct DuplicateKeys {
  std::vector<std::set<std::string>> open;
  std::optional<std::string> found;

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() &&
            !open.back().insert(parsed.get<std::string>()).second && !found) {
          found = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  }
};

struct Registry {
  std::mutex mutex;
  std::vector<TokenFile> files;
};

Registry& Registered() {
  static Registry registry;
  return registry;
}

}  // namespace

std::string_view TokenFileLogonName(TokenFileLogon logon) {
  switch (logon) {
    case TokenFileLogon::kNone:
      return "none";
    case TokenFileLogon::kService:
      return "service";
    case TokenFileLogon::kInteractive:
      return "interactive";
    case TokenFileLogon::kNetwork:
      return "network";
    case TokenFileLogon::kBatch:
      return "batch";
  }
  return "none";
}

std::string TokenFile::DisplayName(const MachinePolicy* policy) const {
  if (!user.name.empty()) return user.name;
  return MachineDisplayName(policy, user.sid);
}

std::vector<std::string> TokenFile::Keys() const {
  std::vector<std::string> keys;
  if (!user.name.empty()) keys.push_back(user.name);
  keys.push_back(user.sid.ToString());
  return keys;
}

Result<TokenFile> ParseTokenFile(std::string_view json_text, const MachinePolicy* policy) {
  DuplicateKeys duplicates;
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end(), std::ref(duplicates));
  } catch (const json::parse_error& e) {
    return Error(ErrorCode::kParse, std::string("token file: invalid JSON: ") + e.what())
        .At(e.byte > 0 ? e.byte - 1 : 0);
  } catch (const json::exception& e) {
    // out_of_range.406: a number beyond double's range ("1e999").
    return Error(ErrorCode::kParse, std::string("token file: invalid JSON: ") + e.what());
  }
  if (duplicates.found) {
    return Error(
        ErrorCode::kParse,
        fmt::format("token file: key \"{}\" appears twice in one object", *duplicates.found));
  }
  if (!doc.is_object()) {
    return ParseError("$", fmt::format("expected an object {{\"user\": ..., \"groups\": [...], "
                                       "\"privileges\": [...]}}, found {}",
                                       TypeName(doc)));
  }
  MKEYS_TRY(OnlyKeys(doc, "$", {"user", "groups", "privileges", "logon"}));
  if (!doc.contains("user")) return ParseError("$", "\"user\" (a SID or {name, sid}) is required");
  TokenFile file;
  MKEYS_ASSIGN_OR_RETURN(file.user, PrincipalAt(doc["user"], "$.user", policy, false));
  if (doc.contains("groups")) {
    const json& list = doc["groups"];
    if (!list.is_array()) {
      return ParseError("$.groups", fmt::format("expected an array, found {}", TypeName(list)));
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string path = fmt::format("$.groups[{}]", i);
      MKEYS_ASSIGN_OR_RETURN(TokenFilePrincipal group, PrincipalAt(list[i], path, policy, true));
      if (group.sid == file.user.sid) {
        return ParseError(path, fmt::format("{} is the token's user", group.sid.ToString()));
      }
      const bool twice =
          std::any_of(file.groups.begin(), file.groups.end(),
                      [&](const TokenFilePrincipal& g) { return g.sid == group.sid; });
      if (twice) return ParseError(path, fmt::format("{} is listed twice", group.sid.ToString()));
      file.groups.push_back(std::move(group));
    }
  }
  if (doc.contains("privileges")) {
    MKEYS_ASSIGN_OR_RETURN(file.privileges, PrivilegesAt(doc["privileges"]));
  }
  if (doc.contains("logon")) {
    MKEYS_ASSIGN_OR_RETURN(file.logon, LogonAt(doc["logon"]));
  }
  return file;
}

Result<TokenFile> ReadTokenFile(const std::filesystem::path& file, const MachinePolicy* policy) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return Error(ErrorCode::kNotFound, "token file: no such file").On(file.string());
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return Error(ErrorCode::kIo, "token file: cannot read").On(file.string());
  auto parsed = ParseTokenFile(text.str(), policy);
  if (!parsed) return std::move(parsed).error().On(file.string());
  return parsed;
}

acl::Token TokenFromFile(const TokenFile& file, const MachinePolicy* policy,
                         const std::vector<acl::PrivilegeAssignment>& assignments) {
  std::vector<acl::TokenGroup> groups;
  auto add = [&](const acl::Sid& sid, bool deny_only) {
    if (sid == file.user.sid) return;
    const bool known = std::any_of(groups.begin(), groups.end(),
                                   [&](const acl::TokenGroup& g) { return g.sid == sid; });
    if (!known) groups.push_back({sid, deny_only});
  };
  for (const auto& g : file.groups) add(g.sid, g.deny_only);
  // The groups LSA adds for the logon type (whoami /groups of such a logon).
  if (file.logon != TokenFileLogon::kNone) {
    add(acl::sids::Everyone(), false);
    add(acl::sids::AuthenticatedUsers(), false);
    add(acl::sids::ThisOrganization(), false);
  }
  switch (file.logon) {
    case TokenFileLogon::kService:
      add(acl::sids::Service(), false);
      add(acl::sids::ConsoleLogon(), false);
      add(acl::sids::Local(), false);
      break;
    case TokenFileLogon::kInteractive:
      add(acl::sids::Interactive(), false);
      add(acl::sids::ConsoleLogon(), false);
      add(acl::sids::Local(), false);
      break;
    case TokenFileLogon::kNetwork:
      add(acl::sids::Network(), false);
      break;
    case TokenFileLogon::kBatch:
      add(acl::Sid::Of(5, {3}), false);
      add(acl::sids::Local(), false);
      break;
    case TokenFileLogon::kNone:
      break;
  }
  // The machine's aliases (SAM) that list the user or an enabled group: what the machine's LSA
  // adds at logon. Aliases do not nest, so one pass suffices.
  if (policy != nullptr) {
    std::vector<acl::Sid> members = {file.user.sid};
    for (const auto& g : groups) {
      if (!g.deny_only) members.push_back(g.sid);
    }
    for (const auto& member : members) {
      for (const LocalAlias* alias : policy->AliasesOf(member)) add(alias->sid, false);
    }
  }
  acl::Token token(file.user.sid, groups, {}, file.DisplayName(policy));
  std::vector<acl::TokenPrivilege> privileges;
  if (file.privileges) {
    privileges = *file.privileges;
  } else {
    for (const auto& assignment : assignments) {
      const bool holds =
          std::any_of(assignment.holders.begin(), assignment.holders.end(),
                      [&](const acl::Sid& holder) { return token.MatchesForAllow(holder); });
      const bool twice =
          std::any_of(privileges.begin(), privileges.end(),
                      [&](const acl::TokenPrivilege& p) { return p.name == assignment.privilege; });
      if (holds && !twice) {
        privileges.push_back(
            {assignment.privilege, acl::PrivilegeEnabledByDefault(assignment.privilege)});
      }
    }
  }
  return acl::Token(file.user.sid, std::move(groups), std::move(privileges),
                    file.DisplayName(policy));
}

void RegisterTokenFile(TokenFile file) {
  auto& registry = Registered();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.files.push_back(std::move(file));
}

std::optional<TokenFile> FindRegisteredTokenFile(std::string_view identity) {
  auto& registry = Registered();
  std::lock_guard<std::mutex> lock(registry.mutex);
  for (auto it = registry.files.rbegin(); it != registry.files.rend(); ++it) {
    for (const auto& key : it->Keys()) {
      if (text::EqualsIgnoreAsciiCase(key, identity)) return *it;
    }
  }
  return std::nullopt;
}

void ClearRegisteredTokenFiles() {
  auto& registry = Registered();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.files.clear();
}

}  // namespace mkeys::keystore
