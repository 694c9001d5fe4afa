// SPDX-License-Identifier: GPL-3.0-or-later
// Token files (--token FILE): parse or fail with a kParse error, never throw; what parses has a
// user SID and group SIDs that print and parse again, privileges Windows knows, and builds a
// token without failing. The input is tried as it is and spliced into a valid token file
// (json_splice.hpp).
// fuzz-links: mkeys::keystore
// fuzz-requires: keystore/src/token_file.cpp
#include <cstdint>
#include <span>
#include <string_view>

#include "fuzz_check.hpp"
#include "json_splice.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/keystore/token_file.hpp"

using mkeys::fuzz::Check;

namespace {

bool RoundTrips(const mkeys::acl::Sid& sid) {
  auto again = mkeys::acl::Sid::Parse(sid.ToString());
  return again.ok() && *again == sid;
}

void Parse(std::string_view text) {
  auto file = mkeys::keystore::ParseTokenFile(text);
  if (!file) {
    Check(file.error().code() == mkeys::ErrorCode::kParse, "a token file error is not kParse");
    return;
  }
  Check(RoundTrips(file->user.sid), "the user SID does not round-trip");
  for (const auto& g : file->groups) {
    Check(RoundTrips(g.sid), "a group SID does not round-trip");
    Check(g.sid != file->user.sid, "a group is the user");
  }
  if (file->privileges) {
    for (const auto& p : *file->privileges) {
      Check(mkeys::acl::CanonicalPrivilegeName(p.name).has_value(), "an unknown privilege parsed");
    }
  }
  const auto token =
      mkeys::keystore::TokenFromFile(*file, nullptr, mkeys::acl::DefaultPrivilegeAssignments());
  Check(token.user() == file->user.sid, "the token's user is not the file's");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mkeys::fuzz::JsonSplicer splicer(nlohmann::json{
      {"user",
       {{"name", "CONTOSO\\svc-web"}, {"sid", "S-1-5-21-3623811015-3361044348-30300820-1105"}}},
      {"groups",
       {"S-1-5-21-3623811015-3361044348-30300820-513",
        {{"name", "BUILTIN\\Users"}, {"sid", "S-1-5-32-545"}},
        {{"sid", "S-1-5-32-544"}, {"deny_only", true}}}},
      {"privileges", {"SeChangeNotifyPrivilege", {{"name", "SeBackup"}, {"enabled", false}}}},
      {"logon", "service"}});
  Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (auto spliced = splicer.Apply(std::span<const std::uint8_t>(data, size))) {
    Parse(*spliced);
  }
  return 0;
}
