// SPDX-License-Identifier: GPL-3.0-or-later
// Uses two installed mkeys libraries: prints the MachineKeys file name of a container and the
// canonical SDDL of a descriptor, so the test can compare them with the values Windows gives.
#include <cstdio>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/container_name.hpp"

int main() {
  const auto name =
      mkeys::keystore::ContainerFileName("MyCoolContainer", "c49c7513-8b86-4d0e-90bf-4805804a9318");
  auto sd = mkeys::acl::ParseSddl("O:SYG:SYD:PAI(A;;FA;;;WD)");
  if (!sd) {
    std::fprintf(stderr, "consumer: %s\n", sd.error().ToString().c_str());
    return 1;
  }
  std::printf("%s\n%s\n", name.c_str(), mkeys::acl::FormatSddl(*sd).c_str());
  return 0;
}
