// SPDX-License-Identifier: GPL-3.0-or-later
// Samba's own NDR code (python3-samba) is the peer for the user.NTACL attribute mkeys writes
// on model machines, in both directions.
#include <catch2/catch.hpp>

#include "mkeys/keystore/container_name.hpp"
#include "support/process.hpp"

using namespace mkeys;
namespace fs = std::filesystem;

namespace {
constexpr const char* kPython = "/usr/bin/python3";

// Prints the descriptor as owner, group, control and one line per ACE with a hex mask (Samba's
// SDDL parser and printer differ from Windows' in aliases; the structure is what must match).
constexpr const char* kReadScript = R"PY(
import os, sys
from samba.dcerpc import xattr, security
from samba.ndr import ndr_pack, ndr_unpack
blob = os.getxattr(sys.argv[1], 'user.NTACL')
ntacl = ndr_unpack(xattr.NTACL, blob)
assert ntacl.version == 1, ntacl.version
sd = ntacl.info
print('repacked-identical', ndr_pack(ntacl) == blob)
print('owner', str(sd.owner_sid))
print('group', str(sd.group_sid))
print('type', hex(sd.type))
for ace in sd.dacl.aces:
    print('ace', ace.type, ace.flags, hex(ace.access_mask), str(ace.trustee))
)PY";

constexpr const char* kWriteScript = R"PY(
import os, sys
from samba.dcerpc import xattr, security
from samba.ndr import ndr_pack
sd = security.descriptor.from_sddl(sys.argv[2], security.dom_sid('S-1-5-21-1-2-3'))
n = xattr.NTACL(); n.version = 1; n.info = sd
os.setxattr(sys.argv[1], 'user.NTACL', ndr_pack(n))
)PY";

bool HaveSamba(std::string& why) {
  auto r = test::Run({kPython, "-c", "import samba.dcerpc.xattr"});
  if (r.exit_code != 0) why = "python3-samba is not installed: " + r.err;
  return r.exit_code == 0;
}
}  // namespace

TEST_CASE("Samba reads the user.NTACL mkeys writes as the same descriptor",
          "[integration][keystore][samba]") {
  std::string why;
  if (!HaveSamba(why)) {
    WARN("SKIPPED: " + why);
    return;
  }
  test::TempDir dir;
  const std::string root = (dir.path() / "m").string();
  REQUIRE(test::Mkeys(
              {"machine", "init", root, "--machine-guid", "c49c7513-8b86-4d0e-90bf-4805804a9318"})
              .exit_code == 0);
  auto created = test::Mkeys({"store", "create", root, "ArrayKey", "--as", "SYSTEM", "--grant",
                              "NT AUTHORITY\\NETWORK SERVICE:R"});
  REQUIRE(created.exit_code == 0);
  const fs::path file =
      fs::path(root) / "ProgramData/Microsoft/Crypto/RSA/MachineKeys" /
      keystore::ContainerFileName("ArrayKey", "c49c7513-8b86-4d0e-90bf-4805804a9318");
  auto peer = test::Run({kPython, "-c", kReadScript, file.string()});
  INFO(peer.err);
  REQUIRE(peer.exit_code == 0);
  CHECK(peer.out ==
        "repacked-identical True\n"
        "owner S-1-5-18\n"
        "group S-1-5-18\n"
        "type 0x9004\n"
        "ace 0 0 0x1f01ff S-1-5-18\n"
        "ace 0 0 0x1f01ff S-1-5-32-544\n"
        "ace 0 0 0x120089 S-1-5-20\n");

  // The MachineKeys directory: Windows' default, as Samba sees it.
  auto dirpeer =
      test::Run({kPython, "-c", kReadScript,
                 (fs::path(root) / "ProgramData/Microsoft/Crypto/RSA/MachineKeys").string()});
  REQUIRE(dirpeer.exit_code == 0);
  CHECK(dirpeer.out ==
        "repacked-identical True\n"
        "owner S-1-5-18\n"
        "group S-1-5-18\n"
        "type 0x9404\n"
        "ace 0 0 0x12019f S-1-1-0\n"
        "ace 0 0 0x1f01ff S-1-5-32-544\n");
}

TEST_CASE("mkeys reads a user.NTACL that Samba wrote", "[integration][keystore][samba]") {
  std::string why;
  if (!HaveSamba(why)) {
    WARN("SKIPPED: " + why);
    return;
  }
  test::TempDir dir;
  const std::string root = (dir.path() / "m").string();
  REQUIRE(test::Mkeys({"machine", "init", root}).exit_code == 0);
  const fs::path target = fs::path(root) / "ProgramData/Microsoft/Crypto/RSA";
  auto w = test::Run({kPython, "-c", kWriteScript, target.string(),
                      "O:BAG:SYD:PAI(D;;0x1f01ff;;;BG)(A;OICI;0x1200a9;;;BU)(A;;0x1f01ff;;;SY)"});
  INFO(w.err);
  REQUIRE(w.exit_code == 0);
  auto get = test::Mkeys({"sd", "get", target.string()});
  CHECK(get.exit_code == 0);
  CHECK(get.out == "O:BAG:SYD:PAI(D;;FA;;;BG)(A;OICI;0x1200a9;;;BU)(A;;FA;;;SY)\n");
  // A malformed attribute is a clear error naming the file, exit 3.
  auto bad =
      test::Run({kPython, "-c",
                 "import os,sys; os.setxattr(sys.argv[1], 'user.NTACL', b'\\x01\\x00\\x01\\x00')",
                 target.string()});
  REQUIRE(bad.exit_code == 0);
  auto broken = test::Mkeys({"sd", "get", target.string()});
  CHECK(broken.exit_code == 3);
  CHECK(broken.err.find("RSA") != std::string::npos);
  CHECK(broken.err.find("offset") != std::string::npos);
}
