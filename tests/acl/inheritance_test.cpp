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

// MS-DTYP 2.5.3.4.1 CreateSecurityDescriptor: "DACL_AUTO_INHERIT: If set, inheritable ACEs from
// the parent security descriptor DACL are merged with the explicit ACEs in the
// CreatorDescriptor"; the SDK's CreatePrivateObjectSecurityEx page: with SEF_DACL_AUTO_INHERIT the
// new DACL holds the parent's inheritable ACEs and the creator's explicit ones, "If this flag is
// not set, the new DACL does not inherit ACEs". A protected creator DACL never merges.
TEST_CASE("With SEF_DACL_AUTO_INHERIT an explicit DACL comes first and inherited ACEs after it",
          "[acl][inheritance]") {
  const auto parent = Sd("O:SYG:SYD:AI(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)");
  const Token admin = TokenFor("administrator").value();
  const auto explicit_sd = Sd("D:(A;;FR;;;NS)");
  CreateOptions options;
  options.explicit_sd = &explicit_sd;
  options.auto_inherit_flags = auto_inherit::kDacl;
  const auto merged = InheritSecurityDescriptor(&parent, admin, options);
  CHECK(Sddl(merged) ==
        "O:BAG:S-1-5-21-1004336348-1177238915-682003330-513D:AI(A;;FR;;;NS)(A;ID;FA;;;SY)"
        "(A;ID;0x1200a9;;;BU)");

  const auto protected_sd = Sd("O:SYG:SYD:P(A;;FA;;;SY)(A;;FR;;;NS)");
  options.explicit_sd = &protected_sd;
  const auto alone = InheritSecurityDescriptor(&parent, admin, options);
  CHECK(Sddl(alone) == "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FR;;;NS)");
  CHECK(alone.DaclProtected());

  // Without the flag (SeAssignSecurity, CreatePrivateObjectSecurity): the explicit DACL alone.
  options.explicit_sd = &explicit_sd;
  options.auto_inherit_flags = 0;
  CHECK(Sddl(InheritSecurityDescriptor(&parent, admin, options)) ==
        "O:BAG:S-1-5-21-1004336348-1177238915-682003330-513D:(A;;FR;;;NS)");
}

// Issue 17, class 1: Windows-run tests of CreateFile / CreateDirectory with an explicit, empty,
// unprotected DACL `D:` under a parent `D:(A;OICI;FA;;;BU)(A;OICI;FA;;;BA)` give a DACL with 0
// ACEs (so does the kernel's SeAssignSecurity, which takes no AutoInheritFlags), while the same
// create without a descriptor inherits both ACEs. Public Windows-run evidence that a create with
// an explicit DACL takes its ACEs and drops the auto-inherited mark: programs that re-set the DACL
// with SE_DACL_AUTO_INHERIT_REQ after CreateFile to get SE_DACL_AUTO_INHERITED back. Microsoft's
// "DACL for a new object" merge is the SEF_DACL_AUTO_INHERIT case above: the file system's create
// path behaves as if that flag is passed only when the creator gives no DACL.
TEST_CASE("Creating a file with an explicit DACL takes it as given",
          "[acl][inheritance][conformance-extra]") {
  const auto parent = Sd("O:BAG:SYD:(A;OICI;FA;;;BU)(A;OICI;FA;;;BA)");
  const Token system = TokenFor("SYSTEM").value();
  const auto empty = Sd("D:");
  CreateOptions options;
  options.explicit_sd = &empty;
  for (const bool dir : {false, true}) {
    options.is_directory = dir;
    const auto sd = InheritSecurityDescriptor(&parent, system, options);
    REQUIRE(sd.dacl);
    CHECK(sd.dacl->aces.empty());
    CHECK((sd.control & sd_control::kDaclAutoInherited) == 0);
  }
  CHECK(FileSystemAutoInheritFlags(&empty) == auto_inherit::kSacl);
  CHECK(FileSystemAutoInheritFlags(nullptr) == (auto_inherit::kDacl | auto_inherit::kSacl));
  // Without a descriptor, the two inheritable ACEs.
  CHECK(Sddl(InheritSecurityDescriptor(&parent, system)) ==
        "O:SYG:SYD:(A;ID;FA;;;BU)(A;ID;FA;;;BA)");
  // A defaulted DACL counts as none given (MS-DTYP 2.5.3.4.2: a defaulted creator ACL yields to
  // inheritable ACEs).
  auto defaulted = Sd("D:(A;;FR;;;NS)");
  defaulted.control |= sd_control::kDaclDefaulted;
  options.explicit_sd = &defaulted;
  options.is_directory = false;
  CHECK(Sddl(InheritSecurityDescriptor(&parent, system, options)) ==
        "O:SYG:SYD:(A;ID;FA;;;BU)(A;ID;FA;;;BA)");
}

// Issue 17, class 2: Windows keeps an explicit inheritable generic ACE on a new directory as
// one ACE with its rights mapped: (A;OICI;GA;;;BU) -> (A;OICI;FA;;;BU). Only inherited ACEs
// are split into an effective ACE and an inherit-only one (MS-DTYP 2.5.3.4.5).
TEST_CASE("An explicit inheritable generic ACE stays one ACE with mapped rights",
          "[acl][inheritance][conformance-extra]") {
  const Token system = TokenFor("SYSTEM").value();
  const auto given = Sd("D:(A;OICI;GA;;;BU)");
  CreateOptions options;
  options.explicit_sd = &given;
  options.is_directory = true;
  CHECK(Sddl(InheritSecurityDescriptor(nullptr, system, options)) == "O:SYG:SYD:(A;OICI;FA;;;BU)");
  // An inherited one is split (unchanged rule).
  const auto parent = Sd("O:SYG:SYD:(A;OICI;GA;;;BU)");
  CreateOptions directory;
  directory.is_directory = true;
  CHECK(Sddl(InheritSecurityDescriptor(&parent, system, directory)) ==
        "O:SYG:SYD:(A;ID;FA;;;BU)(A;OICIIOID;GA;;;BU)");
}

// Issue 17, class 3: the kernel keeps an explicit CREATOR GROUP / CREATOR OWNER ACE on a new
// object and maps its rights; substitution by the owner / primary group applies to inherited
// ACEs. (MS-DTYP 2.5.3.4's PostProcessACL pseudocode substitutes in explicit ACEs too: the
// Windows-run results decide.)
TEST_CASE("Explicit CREATOR OWNER and CREATOR GROUP ACEs are kept",
          "[acl][inheritance][conformance-extra]") {
  const Token system = TokenFor("SYSTEM").value();
  const auto given = Sd("D:(A;;GA;;;CG)(A;;GR;;;CO)");
  CreateOptions options;
  options.explicit_sd = &given;
  CHECK(Sddl(InheritSecurityDescriptor(nullptr, system, options)) ==
        "O:SYG:SYD:(A;;FA;;;CG)(A;;FR;;;CO)");
  const auto parent = Sd("O:BAG:BAD:(A;OI;GA;;;CG)");
  CHECK(Sddl(InheritSecurityDescriptor(&parent, system)) == "O:SYG:SYD:(A;ID;FA;;;SY)");
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
  // SYSTEM's TokenDefaultDacl D:(A;;GA;;;SY)(A;;GRGXRC;;;BA) (the kernel's system token; see
  // docs/identities.md), mapped: GR|GX|RC = 0x1200a9.
  CHECK(Sddl(InheritSecurityDescriptor(&machine_keys, system)) ==
        "O:SYG:SYD:(A;;FA;;;SY)(A;;0x1200a9;;;BA)");
  CHECK(Sddl(InheritSecurityDescriptor(nullptr, system)) ==
        "O:SYG:SYD:(A;;FA;;;SY)(A;;0x1200a9;;;BA)");
  // The creator's explicit owner wins over the token's.
  const auto owned = Sd("O:BA");
  CreateOptions options;
  options.explicit_sd = &owned;
  CHECK(Sddl(InheritSecurityDescriptor(&machine_keys, ns, options)) ==
        "O:BAG:NSD:(A;;FA;;;NS)(A;;FA;;;SY)");
}
