// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"

using namespace mkeys::acl;

TEST_CASE("Rights are rendered as icacls lists them", "[acl][icacls]") {
  CHECK(FormatIcaclsRights(rights::kFileAllAccess) == "F");
  CHECK(FormatIcaclsRights(0x1301bf) == "M");
  CHECK(FormatIcaclsRights(0x1200a9) == "RX");
  CHECK(FormatIcaclsRights(rights::kFileGenericRead) == "R");
  CHECK(FormatIcaclsRights(0x100116) == "W");
  CHECK(FormatIcaclsRights(0) == "N");
  // Published icacls listings:
  CHECK(FormatIcaclsRights(0x12019f) == "(R,W)");        // MachineKeys, Everyone
  CHECK(FormatIcaclsRights(0x1201b6) == "(W,Rc,X,RA)");  // FILE_GENERIC_WRITE|EXECUTE
  CHECK(FormatIcaclsRights(0x1f01bf) == "(M,WDAC,WO)");  // SYSVOL, Administrators
  CHECK(FormatIcaclsRights(0x1301ff) == "(M,DC)");       // Public, INTERACTIVE
  CHECK(FormatIcaclsRights(0x1201bf) == "(RX,W)");
  CHECK(FormatIcaclsRights(0x1700a9) == "(RX,D,WDAC)");
  CHECK(FormatIcaclsRights(0x100021) == "(S,RD,X)");
  CHECK(FormatIcaclsRights(0x1000a1) == "(S,RD,X,RA)");
  CHECK(FormatIcaclsRights(0x0d0042) == "(DE,WDAC,WO,WD,DC)");  // no SYNCHRONIZE: not D
  CHECK(FormatIcaclsRights(rights::kGenericRead | rights::kGenericExecute) == "(GR,GE)");
  CHECK(FormatIcaclsRights(rights::kGenericAll) == "F");
  CHECK(FormatIcaclsRights(0x000116) == "(WD,AD,WEA,WA)");
}

TEST_CASE("A DACL is listed one ACE per line with icacls' flags", "[acl][icacls]") {
  auto sd = ParseSddl(
      "O:SYG:SYD:PAI(D;;FW;;;NS)(A;;0x12019f;;;WD)(A;;FA;;;BA)(A;OICIIO;GA;;;CO)"
      "(A;OICIID;FA;;;SY)(A;CIIOID;GXGR;;;BU)(A;OINPID;FR;;;NS)");
  REQUIRE(sd);
  const auto lines = FormatIcacls(*sd->dacl);
  const std::vector<std::string> expected = {
      "NT AUTHORITY\\NETWORK SERVICE:(DENY)(W,Rc)",
      "Everyone:(R,W)",
      "BUILTIN\\Administrators:(F)",
      "CREATOR OWNER:(OI)(CI)(IO)(F)",
      "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
      "BUILTIN\\Users:(I)(CI)(IO)(GR,GE)",
      "NT AUTHORITY\\NETWORK SERVICE:(I)(OI)(NP)(R)",
  };
  CHECK(lines == expected);
}

TEST_CASE("icacls rights are parsed in every form icacls accepts", "[acl][icacls]") {
  CHECK(ParseIcaclsRights("R").value() == rights::kFileGenericRead);
  CHECK(ParseIcaclsRights("rx").value() == 0x1200a9u);
  CHECK(ParseIcaclsRights("F").value() == rights::kFileAllAccess);
  CHECK(ParseIcaclsRights("N").value() == 0u);
  CHECK(ParseIcaclsRights("RD,WDAC,WO").value() ==
        (rights::kReadData | rights::kWriteDac | rights::kWriteOwner));
  CHECK(ParseIcaclsRights("(RD,WD)").value() == (rights::kReadData | rights::kWriteData));
  CHECK(ParseIcaclsRights("(R,W)").value() == 0x12019fu);
  CHECK(ParseIcaclsRights("(W,Rc,X,RA)").value() == 0x1201b6u);
  CHECK(ParseIcaclsRights("0x40000").value() == rights::kWriteDac);
  CHECK(ParseIcaclsRights("GA").value() == rights::kGenericAll);
  for (AccessMask mask : {0x12019fu, 0x1201b6u, 0x1f01bfu, 0x100021u, 0x0d0042u, 0x1301bfu}) {
    CHECK(ParseIcaclsRights(FormatIcaclsRights(mask)).value() == mask);
  }
}

TEST_CASE("Malformed icacls rights are rejected with the offset", "[acl][icacls]") {
  auto r = ParseIcaclsRights("RD,XX");
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 3u);
  CHECK(r.error().message().find("XX") != std::string::npos);
  r = ParseIcaclsRights("(RD,WD");
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 6u);
  r = ParseIcaclsRights("RD,,WD");
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 3u);
  r = ParseIcaclsRights("0x4g");
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 3u);
  CHECK_FALSE(ParseIcaclsRights(""));
  CHECK_FALSE(ParseIcaclsRights("0x123456789"));
}

TEST_CASE("icacls grant specs resolve the identity and read the flags", "[acl][icacls]") {
  auto g = ParseIcaclsGrant("\"NETWORK SERVICE\":(OI)(CI)R");
  REQUIRE(g);
  CHECK(g->sid == sids::NetworkService());
  CHECK(g->flags == (ace_flags::kObjectInherit | ace_flags::kContainerInherit));
  CHECK(g->mask == rights::kFileGenericRead);
  g = ParseIcaclsGrant("NS:R");
  REQUIRE(g);
  CHECK(g->flags == 0);
  g = ParseIcaclsGrant("*S-1-5-20:(RD,WDAC)");
  REQUIRE(g);
  CHECK(g->sid == sids::NetworkService());
  CHECK(g->mask == (rights::kReadData | rights::kWriteDac));
  g = ParseIcaclsGrant("BUILTIN\\Users:(CI)(IO)(GR,GE)");
  REQUIRE(g);
  CHECK(g->flags == (ace_flags::kContainerInherit | ace_flags::kInheritOnly));
  CHECK(g->mask == (rights::kGenericRead | rights::kGenericExecute));

  auto bad = ParseIcaclsGrant("NS");
  REQUIRE_FALSE(bad);
  bad = ParseIcaclsGrant("NoSuchAccount:R");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().position() == 0u);
  bad = ParseIcaclsGrant("NS:(OI)(CI)Q");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().position() == 11u);
}

TEST_CASE("icacls /save files are UTF-16LE with CRLF and no BOM, two lines per object",
          "[acl][icacls][save]") {
  const std::vector<IcaclsSaveEntry> entries = {
      {"MachineKeys", "D:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"},
      {"MachineKeys\\schlüssel", "D:(A;;FA;;;SY)"},
  };
  const auto bytes = FormatIcaclsSave(entries);
  REQUIRE(bytes.size() > 4);
  CHECK(bytes[0] == 'M');
  CHECK(bytes[1] == 0);
  const std::string ascii_crlf = {'s', 0, '\r', 0, '\n', 0};
  const std::string head(bytes.begin() + 20, bytes.begin() + 26);
  CHECK(head == ascii_crlf);  // "MachineKeys" is 11 UTF-16 units; [20,22) is its last 's'
  CHECK(bytes[bytes.size() - 4] == '\r');
  CHECK(bytes[bytes.size() - 2] == '\n');
  auto parsed = ParseIcaclsSave(bytes);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].path == "MachineKeys");
  CHECK((*parsed)[1].path == "MachineKeys\\schlüssel");
  CHECK((*parsed)[1].sddl == "D:(A;;FA;;;SY)");

  std::vector<std::uint8_t> with_bom = {0xFF, 0xFE};
  with_bom.insert(with_bom.end(), bytes.begin(), bytes.end());
  CHECK(ParseIcaclsSave(with_bom).value().size() == 2);
}

TEST_CASE("Malformed icacls /save files are rejected with the byte offset", "[acl][icacls][save]") {
  auto bytes = FormatIcaclsSave({{"a", "D:(A;;FA;;;SY)"}});
  std::vector<std::uint8_t> odd = bytes;
  odd.pop_back();
  auto r = ParseIcaclsSave(odd);
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == odd.size() - 1);

  std::vector<std::uint8_t> lf_only = {'a', 0, '\n', 0, 'D', 0, ':', 0, '\r', 0, '\n', 0};
  r = ParseIcaclsSave(lf_only);
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 2u);

  std::vector<std::uint8_t> no_sddl = {'a', 0, '\r', 0, '\n', 0};
  r = ParseIcaclsSave(no_sddl);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("no SDDL line") != std::string::npos);

  std::vector<std::uint8_t> not_sddl = {'a', 0, '\r', 0, '\n', 0, 'x', 0, '\r', 0, '\n', 0};
  r = ParseIcaclsSave(not_sddl);
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 6u);

  std::vector<std::uint8_t> lone_surrogate = {0x00, 0xD8, 'a', 0};
  r = ParseIcaclsSave(lone_surrogate);
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 0u);
  std::vector<std::uint8_t> truncated_pair = {'a', 0, 0x00, 0xD8};
  r = ParseIcaclsSave(truncated_pair);
  REQUIRE_FALSE(r);
  CHECK(r.error().position() == 2u);
}
