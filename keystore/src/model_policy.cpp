// SPDX-License-Identifier: GPL-3.0-or-later
// A model machine's initial hives: what `machine init` and `machine migrate` write.
#include <cstdint>
#include <string>

#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/machine_identities.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"

namespace mkeys::keystore {
namespace {

// S-1-5-21-a-b-c with three random sub-authorities, as Windows setup generates one.
acl::Sid RandomAccountDomain() {
  const auto bytes = HexDecode(files::RandomHex(12)).value();
  std::vector<std::uint32_t> subs = {21};
  for (std::size_t i = 0; i < 3; ++i) {
    std::uint32_t v = 0;
    for (std::size_t b = 0; b < 4; ++b)
      v |= static_cast<std::uint32_t>(bytes[i * 4 + b]) << (8 * b);
    subs.push_back(v | 0x10000000u);  // never a small number that looks like a well-known RID
  }
  return acl::Sid::Create(5, subs).value();
}

struct BuiltinAlias {
  std::uint32_t rid;
  const char* name;
  const char* comment;
  std::vector<acl::Sid> members;
};

// The builtin aliases a fresh Windows Server has that matter to file access, with the members
// Windows puts in them (Users: INTERACTIVE and Authenticated Users; IIS_IUSRS: IUSR).
std::vector<BuiltinAlias> DefaultAliases() {
  return {
      {544, "Administrators", "Administrators have complete and unrestricted access", {}},
      {545,
       "Users",
       "Users are prevented from making accidental or intentional system-wide changes",
       {acl::sids::Interactive(), acl::sids::AuthenticatedUsers()}},
      {546, "Guests", "Guests have the same access as members of the Users group by default", {}},
      {551, "Backup Operators", "Backup Operators can override security restrictions", {}},
      {568,
       "IIS_IUSRS",
       "Built-in group used by Internet Information Services",
       {acl::Sid::Of(5, {17})}},
  };
}

}  // namespace

Result<void> WriteModelPolicy(const std::filesystem::path& root, const std::string& machine_guid,
                              const std::vector<acl::PrivilegeAssignment>& privileges) {
  ModelHivesOptions options;
  options.account_domain = RandomAccountDomain();
  options.machine_guid = machine_guid;
  MKEYS_TRY(CreateModelHives(root, options));
  const auto sam = root / HiveRelativePath(HiveKind::kSam);
  for (const auto& alias : DefaultAliases()) {
    MKEYS_ASSIGN_OR_RETURN(const acl::Sid sid,
                           AddAlias(sam, true, alias.rid, alias.name, alias.comment));
    for (const auto& member : alias.members) MKEYS_TRY(AddAliasMember(sam, sid, member));
  }
  std::vector<std::pair<acl::Sid, std::string>> grants;
  for (const auto& assignment : privileges) {
    for (const auto& holder : assignment.holders) grants.emplace_back(holder, assignment.privilege);
  }
  MKEYS_TRY(GrantRights(root / HiveRelativePath(HiveKind::kSecurity), grants));
  return Ok();
}

}  // namespace mkeys::keystore
