// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/inheritance.hpp"
#include "mkeys/acl/sddl.hpp"

using namespace mkeys::acl;
using namespace mkeys::acl::ace_flags;

namespace {

SecurityDescriptor Sd(const char* sddl) {
  auto sd = ParseSddl(sddl);
  INFO(sddl);
  REQUIRE(sd);
  return *sd;
}

std::string Sddl(const SecurityDescriptor& sd) {
  return FormatSddl(sd);
}

constexpr std::uint8_t kNone = 0xFF;  // "the child gets no ACE"

struct Row {
  std::uint8_t parent;
  std::uint8_t file;       // flags of the file's inherited ACE, or kNone
  std::uint8_t directory;  // flags of the subdirectory's inherited ACE, or kNone
};

// MS-DTYP 2.5.3.4.5 and "ACE Inheritance Rules" (Microsoft docs), for a plain trustee and
// non-generic rights (so that no ACE is split):
// - a file inherits OI ACEs, as effective ACEs with no inheritance flags (NP, IO irrelevant);
// - a directory inherits CI ACEs as effective ACEs: without NP they keep OI/CI and lose IO,
//   with NP they keep no inheritance flag;
// - a directory inherits OI-only ACEs (without NP) as inherit-only ACEs for its files;
// - OI-only with NP reaches only the files directly inside; ACEs with neither OI nor CI stay.
// Every inherited ACE carries INHERITED_ACE (ID).
constexpr Row kRows[] = {
    {0, kNone, kNone},
    {kObjectInherit, kInherited, kObjectInherit | kInheritOnly | kInherited},
    {kContainerInherit, kNone, kContainerInherit | kInherited},
    {kObjectInherit | kContainerInherit, kInherited,
     kObjectInherit | kContainerInherit | kInherited},
    {kNoPropagateInherit, kNone, kNone},
    {kObjectInherit | kNoPropagateInherit, kInherited, kNone},
    {kContainerInherit | kNoPropagateInherit, kNone, kInherited},
    {kObjectInherit | kContainerInherit | kNoPropagateInherit, kInherited, kInherited},
    {kInheritOnly, kNone, kNone},
    {kObjectInherit | kInheritOnly, kInherited, kObjectInherit | kInheritOnly | kInherited},
    {kContainerInherit | kInheritOnly, kNone, kContainerInherit | kInherited},
    {kObjectInherit | kContainerInherit | kInheritOnly, kInherited,
     kObjectInherit | kContainerInherit | kInherited},
    {kNoPropagateInherit | kInheritOnly, kNone, kNone},
    {kObjectInherit | kNoPropagateInherit | kInheritOnly, kInherited, kNone},
    {kContainerInherit | kNoPropagateInherit | kInheritOnly, kNone, kInherited},
    {kObjectInherit | kContainerInherit | kNoPropagateInherit | kInheritOnly, kInherited,
     kInherited},
};

}  // namespace

TEST_CASE("Every OI/CI/NP/IO combination, inherited by a file and by a directory",
          "[acl][inheritance]") {
  for (const Row& row : kRows) {
    Acl parent;
    parent.aces.push_back(AllowAce(sids::NetworkService(), rights::kFileGenericRead, row.parent));
    for (const bool directory : {false, true}) {
      INFO("parent flags 0x" << std::hex << int(row.parent)
                             << (directory ? " directory" : " file"));
      const Acl child =
          ComputeInheritedAcl(parent, directory, sids::LocalSystem(), sids::LocalSystem());
      const std::uint8_t expected = directory ? row.directory : row.file;
      if (expected == kNone) {
        CHECK(child.aces.empty());
      } else {
        REQUIRE(child.aces.size() == 1);
        CHECK(int(child.aces[0].flags) == int(expected));
        CHECK(child.aces[0].mask == rights::kFileGenericRead);
        CHECK(child.aces[0].sid == sids::NetworkService());
      }
    }
  }
}

TEST_CASE("CREATOR OWNER becomes the new owner - a directory also keeps an inherit-only copy",
          "[acl][inheritance]") {
  const auto parent = Sd("O:SYG:SYD:AI(A;OICIIO;GA;;;CO)(A;OICIIO;GR;;;CG)");
  const Token ns = TokenFor("NETWORK SERVICE").value();
  const auto file = InheritSecurityDescriptor(&parent, ns);
  CHECK(Sddl(file) == "O:NSG:NSD:AI(A;ID;FA;;;NS)(A;ID;FR;;;NS)");
  CreateOptions dir;
  dir.is_directory = true;
  const auto sub = InheritSecurityDescriptor(&parent, ns, dir);
  CHECK(Sddl(sub) ==
        "O:NSG:NSD:AI(A;ID;FA;;;NS)(A;OICIIOID;GA;;;CO)(A;ID;FR;;;NS)(A;OICIIOID;GR;;;CG)");
}

TEST_CASE("Generic rights on an ACE that is effective and inheritable are split in two",
          "[acl][inheritance]") {
  const auto parent = Sd("O:SYG:SYD:(A;OICI;GA;;;SY)(A;CIIO;GA;;;S-1-5-80-1-2-3-4-5)");
  const Token system = TokenFor("SYSTEM").value();
  CreateOptions dir;
  dir.is_directory = true;
  const auto sub = InheritSecurityDescriptor(&parent, system, dir);
  CHECK(Sddl(sub) ==
        "O:SYG:SYD:(A;ID;FA;;;SY)(A;OICIIOID;GA;;;SY)(A;ID;FA;;;S-1-5-80-1-2-3-4-5)"
        "(A;CIIOID;GA;;;S-1-5-80-1-2-3-4-5)");
  const auto file = InheritSecurityDescriptor(&parent, system);
  CHECK(Sddl(file) == "O:SYG:SYD:(A;ID;FA;;;SY)");
  // NP: effective on the child, no copy to pass on.
  const auto np_parent = Sd("O:SYG:SYD:(A;OICINP;GA;;;SY)");
  CHECK(Sddl(InheritSecurityDescriptor(&np_parent, system, dir)) == "O:SYG:SYD:(A;ID;FA;;;SY)");
}

TEST_CASE("An explicit DACL comes first, inherited ACEs after it, unless it is protected",
          "[acl][inheritance]") {
  const auto parent = Sd("O:SYG:SYD:AI(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)");
  const Token admin = TokenFor("administrator").value();
  const auto explicit_sd = Sd("D:(A;;FR;;;NS)");
  CreateOptions options;
  options.explicit_sd = &explicit_sd;
  const auto merged = InheritSecurityDescriptor(&parent, admin, options);
  CHECK(Sddl(merged) ==
        "O:BAG:S-1-5-21-1004336348-1177238915-682003330-513D:AI(A;;FR;;;NS)(A;ID;FA;;;SY)"
        "(A;ID;0x1200a9;;;BU)");

  const auto protected_sd = Sd("O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  options.explicit_sd = &protected_sd;
  const auto alone = InheritSecurityDescriptor(&parent, admin, options);
  CHECK(Sddl(alone) == "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FR;;;NS)");
  CHECK(alone.DaclProtected());
}

TEST_CASE("Auto-inherited is passed on only from an auto-inherited parent", "[acl][inheritance]") {
  const Token system = TokenFor("SYSTEM").value();
  const auto plain = Sd("O:SYG:SYD:(A;OICI;FA;;;SY)");
  CHECK(Sddl(InheritSecurityDescriptor(&plain, system)) == "O:SYG:SYD:(A;ID;FA;;;SY)");
  const auto auto_inherited = Sd("O:SYG:SYD:AI(A;OICI;FA;;;SY)");
  CHECK(Sddl(InheritSecurityDescriptor(&auto_inherited, system)) == "O:SYG:SYD:AI(A;ID;FA;;;SY)");
}

TEST_CASE("Nothing to inherit: the token's default DACL, owner and group", "[acl][inheritance]") {
  // The MachineKeys folder: nothing in it is inheritable.
  const auto machine_keys = Sd("O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)");
  const Token ns = TokenFor("NETWORK SERVICE").value();
  CHECK(Sddl(InheritSecurityDescriptor(&machine_keys, ns)) == "O:NSG:NSD:(A;;FA;;;NS)(A;;FA;;;SY)");
  const Token system = TokenFor("SYSTEM").value();
  CHECK(Sddl(InheritSecurityDescriptor(&machine_keys, system)) == "O:SYG:SYD:(A;;FA;;;SY)");
  CHECK(Sddl(InheritSecurityDescriptor(nullptr, system)) == "O:SYG:SYD:(A;;FA;;;SY)");
  // The creator's explicit owner wins over the token's.
  const auto owned = Sd("O:BA");
  CreateOptions options;
  options.explicit_sd = &owned;
  CHECK(Sddl(InheritSecurityDescriptor(&machine_keys, ns, options)) ==
        "O:BAG:NSD:(A;;FA;;;NS)(A;;FA;;;SY)");
}
