// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/sddl.hpp"

using namespace mkeys::acl;

namespace {

SecurityDescriptor Sd(const char* sddl) {
  auto sd = ParseSddl(sddl);
  INFO(sddl);
  REQUIRE(sd);
  return *sd;
}

Token Ns() {
  return TokenFor("NETWORK SERVICE").value();
}

const RightReason* ReasonFor(const AccessCheckResult& r, AccessMask bit) {
  for (const auto& reason : r.reasons) {
    if (reason.right == bit) return &reason;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("An allow ACE grants its rights and names itself", "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  const auto r = CheckAccess(sd, Ns(), rights::kReadData);
  CHECK(r.allowed);
  CHECK(r.granted == rights::kReadData);
  const auto* reason = ReasonFor(r, rights::kReadData);
  REQUIRE(reason);
  CHECK(reason->kind == ReasonKind::kGrantedByAce);
  CHECK(reason->ace_index == 1u);
  CHECK(reason->ace_sddl == "(A;;FR;;;NS)");
  CHECK_FALSE(CheckAccess(sd, Ns(), rights::kWriteData).allowed);
}

TEST_CASE("Generic rights asked for are mapped with the file mapping", "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:(A;;FR;;;NS)");
  const auto r = CheckAccess(sd, Ns(), rights::kGenericRead);
  CHECK(r.desired == rights::kFileGenericRead);
  CHECK(r.allowed);
  CHECK_FALSE(CheckAccess(sd, Ns(), rights::kGenericWrite).allowed);
}

TEST_CASE("The first ACE that mentions a right decides it: deny before allow denies",
          "[acl][access]") {
  const auto deny_first = Sd("O:SYG:SYD:(D;;FR;;;NS)(A;;FA;;;NS)");
  const auto r = CheckAccess(deny_first, Ns(), rights::kReadData);
  CHECK_FALSE(r.allowed);
  const auto* reason = ReasonFor(r, rights::kReadData);
  REQUIRE(reason);
  CHECK(reason->kind == ReasonKind::kDeniedByAce);
  CHECK(reason->ace_index == 0u);
  CHECK(r.Explain(Ns(), deny_first) ==
        "NETWORK SERVICE lacks READ_DATA (denied by ACE #0 (D;;FR;;;NS))");
  // Bits the deny ACE does not name are still granted by the later allow.
  CHECK(CheckAccess(deny_first, Ns(), rights::kWriteData).allowed);
  // Allow before deny (non-canonical order): the allow already granted the bit.
  const auto allow_first = Sd("O:SYG:SYD:(A;;FA;;;NS)(D;;FR;;;NS)");
  CHECK(CheckAccess(allow_first, Ns(), rights::kReadData).allowed);
}

TEST_CASE("No ACE granting a right: the explanation names the rights and the owner",
          "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:P(A;;FA;;;SY)");
  const auto r = CheckAccess(sd, Ns(), rights::kReadData | rights::kReadEa);
  CHECK_FALSE(r.allowed);
  CHECK(r.Missing() == (rights::kReadData | rights::kReadEa));
  CHECK(r.Explain(Ns(), sd) ==
        "NETWORK SERVICE lacks READ_DATA, READ_EA (no ACE grants them; owner SYSTEM)");
  const auto one = CheckAccess(sd, Ns(), rights::kReadData);
  CHECK(one.Explain(Ns(), sd) ==
        "NETWORK SERVICE lacks READ_DATA (no ACE grants it; owner SYSTEM)");
}

TEST_CASE("The owner gets READ_CONTROL and WRITE_DAC implicitly, unless OWNER RIGHTS is present",
          "[acl][access]") {
  const auto owned = Sd("O:NSG:SYD:(A;;FA;;;SY)");
  auto r = CheckAccess(owned, Ns(), rights::kReadControl | rights::kWriteDac);
  CHECK(r.allowed);
  REQUIRE(ReasonFor(r, rights::kWriteDac));
  CHECK(ReasonFor(r, rights::kWriteDac)->kind == ReasonKind::kGrantedAsOwner);
  CHECK_FALSE(CheckAccess(owned, Ns(), rights::kWriteOwner).allowed);

  const auto owner_rights = Sd("O:NSG:SYD:(A;;FA;;;SY)(A;;RC;;;OW)");
  CHECK(CheckAccess(owner_rights, Ns(), rights::kReadControl).allowed);
  r = CheckAccess(owner_rights, Ns(), rights::kWriteDac);
  CHECK_FALSE(r.allowed);
  CHECK(ReasonFor(r, rights::kWriteDac)->kind == ReasonKind::kNotGranted);
  // OWNER RIGHTS ACEs apply to the owner only.
  const auto other_owner = Sd("O:SYG:SYD:(A;;FA;;;OW)");
  CHECK_FALSE(CheckAccess(other_owner, Ns(), rights::kReadData).allowed);
  // An inherit-only OWNER RIGHTS ACE does not take the implicit rights away.
  const auto io_owner_rights = Sd("O:NSG:SYD:(A;OICIIO;FR;;;OW)");
  CHECK(CheckAccess(io_owner_rights, Ns(), rights::kWriteDac).allowed);
}

TEST_CASE("Deny-only groups match deny ACEs and never allow ACEs", "[acl][access]") {
  const Token filtered = TokenFor("administrator-filtered").value();
  const Token elevated = TokenFor("administrator").value();
  const auto allow_ba = Sd("O:SYG:SYD:(A;;FA;;;BA)");
  CHECK_FALSE(CheckAccess(allow_ba, filtered, rights::kReadData).allowed);
  CHECK(CheckAccess(allow_ba, elevated, rights::kReadData).allowed);
  const auto deny_ba = Sd("O:SYG:SYD:(D;;FW;;;BA)(A;;FA;;;BU)");
  CHECK_FALSE(CheckAccess(deny_ba, filtered, rights::kWriteData).allowed);
  CHECK(CheckAccess(deny_ba, filtered, rights::kReadData).allowed);
  // A filtered administrator is not the owner of what Administrators own.
  const auto owned_by_ba = Sd("O:BAG:SYD:(A;;FA;;;SY)");
  CHECK_FALSE(CheckAccess(owned_by_ba, filtered, rights::kWriteDac).allowed);
  CHECK(CheckAccess(owned_by_ba, elevated, rights::kWriteDac).allowed);
}

TEST_CASE("Enabled privileges grant rights regardless of the DACL - disabled ones do not",
          "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:P(D;;FA;;;BA)(A;;FA;;;SY)");
  Token admin = TokenFor("administrator").value();
  CHECK_FALSE(CheckAccess(sd, admin, rights::kReadData).allowed);  // SeBackup present, disabled

  Token backup = admin;
  backup.EnablePrivilege(privileges::kBackup);
  auto r = CheckAccess(sd, backup, rights::kFileGenericRead | rights::kTraverse);
  CHECK(r.allowed);
  REQUIRE(ReasonFor(r, rights::kReadData));
  CHECK(ReasonFor(r, rights::kReadData)->privilege == "SeBackupPrivilege");
  CHECK_FALSE(CheckAccess(sd, backup, rights::kWriteData).allowed);

  Token restore = admin;
  restore.EnablePrivilege(privileges::kRestore);
  CHECK(CheckAccess(sd, restore,
                    rights::kWriteDac | rights::kWriteOwner | rights::kDelete | rights::kWriteData)
            .allowed);
  CHECK_FALSE(CheckAccess(sd, restore, rights::kReadData).allowed);

  Token take = admin;
  take.EnablePrivilege(privileges::kTakeOwnership);
  r = CheckAccess(sd, take, rights::kWriteOwner);
  CHECK(r.allowed);
  CHECK(ReasonFor(r, rights::kWriteOwner)->kind == ReasonKind::kGrantedByPrivilege);
  CHECK_FALSE(CheckAccess(sd, take, rights::kWriteDac).allowed);
}

TEST_CASE("ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege, whatever the DACL says",
          "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:(A;;0x11f01ff;;;SY)");
  Token system = TokenFor("SYSTEM").value();
  auto r = CheckAccess(sd, system, rights::kAccessSystemSecurity);
  CHECK_FALSE(r.allowed);
  CHECK(ReasonFor(r, rights::kAccessSystemSecurity)->kind == ReasonKind::kMissingPrivilege);
  CHECK(r.Explain(system, sd) ==
        "SYSTEM lacks ACCESS_SYSTEM_SECURITY (SeSecurityPrivilege is not enabled)");
  system.EnablePrivilege(privileges::kSecurity);
  CHECK(CheckAccess(sd, system, rights::kAccessSystemSecurity).allowed);
}

TEST_CASE("MAXIMUM_ALLOWED returns every right granted and none denied", "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:(D;;0x2;;;NS)(A;;FR;;;NS)(A;;0x116;;;NS)");
  const auto r = CheckAccess(sd, Ns(), rights::kMaximumAllowed);
  CHECK(r.maximum_allowed);
  CHECK(r.allowed);
  CHECK(r.granted == (rights::kFileGenericRead | 0x114));
  // MAXIMUM_ALLOWED plus an explicit right: the right must be among those granted.
  CHECK_FALSE(CheckAccess(sd, Ns(), rights::kMaximumAllowed | rights::kWriteData).allowed);
  CHECK(CheckAccess(sd, Ns(), rights::kMaximumAllowed | rights::kReadData).allowed);
  // Nothing granted: MAXIMUM_ALLOWED fails.
  CHECK_FALSE(CheckAccess(Sd("O:SYG:SYD:(A;;FA;;;SY)"), Ns(), rights::kMaximumAllowed).allowed);
}

TEST_CASE("A NULL DACL grants everything - an empty DACL grants nothing but the owner's rights",
          "[acl][access]") {
  const auto null_dacl = Sd("O:SYG:SYD:NO_ACCESS_CONTROL");
  REQUIRE(null_dacl.HasNullDacl());
  auto r = CheckAccess(null_dacl, Ns(), rights::kFileAllAccess);
  CHECK(r.allowed);
  CHECK(ReasonFor(r, rights::kWriteOwner)->kind == ReasonKind::kNullDacl);
  CHECK(CheckAccess(Sd("O:SYG:SY"), Ns(), rights::kFileAllAccess).allowed);  // no DACL at all

  const auto empty = Sd("O:NSG:SYD:");
  r = CheckAccess(empty, Ns(), rights::kReadData | rights::kReadControl);
  CHECK_FALSE(r.allowed);
  CHECK(r.granted == rights::kReadControl);
  CHECK(ReasonFor(r, rights::kReadData)->kind == ReasonKind::kEmptyDacl);
  CHECK(r.Explain(Ns(), empty) ==
        "NETWORK SERVICE lacks READ_DATA (the DACL is empty; owner NETWORK SERVICE)");
}

TEST_CASE("Inherit-only ACEs do not take part in the check", "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:(D;OICIIO;FA;;;NS)(A;OICIIO;FA;;;NS)(A;;FR;;;NS)");
  const auto r = CheckAccess(sd, Ns(), rights::kReadData);
  CHECK(r.allowed);
  CHECK(ReasonFor(r, rights::kReadData)->ace_index == 2u);
  CHECK_FALSE(CheckAccess(sd, Ns(), rights::kWriteData).allowed);
}

TEST_CASE("Object ACEs apply only without an object type - callback allows are not trusted",
          "[acl][access]") {
  SecurityDescriptor sd;
  sd.owner = sids::LocalSystem();
  sd.group = sids::LocalSystem();
  Acl dacl;
  Ace typed = AllowAce(sids::NetworkService(), rights::kReadData);
  typed.type = AceType::kAccessAllowedObject;
  typed.object_type = Guid::Parse("f30e3bbe-9ff0-11d1-b603-0000f80367c1").value();
  Ace untyped = AllowAce(sids::NetworkService(), rights::kWriteData);
  untyped.type = AceType::kAccessAllowedObject;
  Ace callback_allow = AllowAce(sids::NetworkService(), rights::kAppendData);
  callback_allow.type = AceType::kAccessAllowedCallback;
  Ace callback_deny = DenyAce(sids::NetworkService(), rights::kReadEa);
  callback_deny.type = AceType::kAccessDeniedCallback;
  Ace allow_ea = AllowAce(sids::NetworkService(), rights::kReadEa);
  dacl.aces = {typed, untyped, callback_allow, callback_deny, allow_ea};
  sd.SetDacl(dacl);
  const Token ns = Ns();
  CHECK_FALSE(CheckAccess(sd, ns, rights::kReadData).allowed);
  CHECK(CheckAccess(sd, ns, rights::kWriteData).allowed);
  CHECK_FALSE(CheckAccess(sd, ns, rights::kAppendData).allowed);
  const auto r = CheckAccess(sd, ns, rights::kReadEa);
  CHECK_FALSE(r.allowed);
  CHECK(ReasonFor(r, rights::kReadEa)->ace_index == 3u);
}

TEST_CASE("Explain names every ACE that granted the rights", "[acl][access]") {
  const auto sd = Sd("O:NSG:SYD:(A;;FR;;;NS)(A;;FW;;;BU)");
  const auto r = CheckAccess(sd, Ns(), rights::kReadData | rights::kWriteData | rights::kWriteDac);
  CHECK(r.allowed);
  CHECK(r.Explain(Ns(), sd) ==
        "NETWORK SERVICE is granted READ_DATA by ACE #0 (A;;FR;;;NS); NETWORK SERVICE is granted "
        "WRITE_DATA by ACE #1 (A;;FW;;;BU); NETWORK SERVICE is granted WRITE_DAC as the owner");
}

TEST_CASE("Traverse: the first directory without FILE_TRAVERSE blocks, SeChangeNotify bypasses",
          "[acl][access][traverse]") {
  const auto open_dir = Sd("O:SYG:SYD:(A;;0x1200a9;;;WD)");
  const auto closed_dir = Sd("O:SYG:SYD:(A;;FA;;;SY)(A;;FR;;;NS)");
  std::vector<const SecurityDescriptor*> path = {&open_dir, &closed_dir, &open_dir};

  Token ns = Ns();
  auto r = CheckTraverse(path, ns);
  CHECK(r.allowed);
  CHECK(r.bypassed);

  ns.RemovePrivilege(privileges::kChangeNotify);
  r = CheckTraverse(path, ns);
  CHECK_FALSE(r.allowed);
  CHECK_FALSE(r.bypassed);
  REQUIRE(r.blocked_at);
  CHECK(*r.blocked_at == 1u);
  CHECK(r.blocking_check.Missing() == rights::kTraverse);

  std::vector<const SecurityDescriptor*> open_path = {&open_dir, &open_dir};
  CHECK(CheckTraverse(open_path, ns).allowed);
}

TEST_CASE("Explain names derived identities by their account name", "[acl][access]") {
  const auto sd = Sd("O:SYG:SYD:(A;;FA;;;SY)");
  const Token pool = TokenFor("IIS APPPOOL\\DefaultAppPool").value();
  const auto r = CheckAccess(sd, pool, rights::kReadData);
  CHECK(r.Explain(pool, sd) ==
        "IIS APPPOOL\\DefaultAppPool lacks READ_DATA (no ACE grants it; owner SYSTEM)");
}

// Issue 17, class 7 (SDK, AccessCheck; MS-DTYP 2.5.3.2): asking for nothing grants nothing.
TEST_CASE("An empty desired access is denied", "[acl][access][conformance-extra]") {
  auto sd = ParseSddl("O:SYG:SYD:(A;;FA;;;WD)");
  REQUIRE(sd);
  const Token system = TokenFor("SYSTEM").value();
  const auto r = CheckAccess(*sd, system, 0);
  CHECK_FALSE(r.allowed);
  CHECK(r.granted == 0);
  CHECK(CheckAccess(*sd, system, rights::kReadData).allowed);
}

// SDK, AccessCheck: the descriptor must hold owner and group (ERROR_INVALID_SECURITY_DESCR);
// generic rights must be mapped by the caller (ERROR_GENERIC_NOT_MAPPED).
TEST_CASE("The Win32 AccessCheck fails on a descriptor without owner or group",
          "[acl][access][conformance-extra]") {
  const Token system = TokenFor("SYSTEM").value();
  for (const char* text : {"D:(A;;FA;;;WD)", "O:SYD:(A;;FA;;;WD)", "G:SYD:(A;;FA;;;WD)"}) {
    auto sd = ParseSddl(text);
    REQUIRE(sd);
    const auto r = CheckAccessWin32(*sd, system, rights::kReadData);
    CHECK(r.error == win32_error::kInvalidSecurityDescr);
    CHECK_FALSE(r.allowed);
  }
  auto sd = ParseSddl("O:SYG:SYD:(A;;FA;;;WD)");
  REQUIRE(sd);
  CHECK(CheckAccessWin32(*sd, system, rights::kGenericRead, false).error ==
        win32_error::kGenericNotMapped);
  const auto mapped = CheckAccessWin32(*sd, system, rights::kGenericRead);
  CHECK(mapped.error == 0);
  CHECK(mapped.allowed);
  CHECK(mapped.desired == rights::kFileGenericRead);
}
