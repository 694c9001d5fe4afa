// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What the certificate rules (MK040-MK042) look at: LocalMachine\My from the SOFTWARE hive and
// the key file behind each certificate. Read by the rules' chain hook itself (the scan's facts
// do not cover the certificate store yet): a root without a SOFTWARE hive has no certificates.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::repair::internal {

struct CertKeyFacts {
  keystore::Certificate cert;
  std::string object;  // "LocalMachine\My\<thumbprint>"
  std::optional<keystore::CertKeyLocation> location;
  std::string location_problem;
  bool key_file_exists = false;
  std::filesystem::path key_path;
  std::optional<acl::SecurityDescriptor> key_descriptor;
};

std::vector<CertKeyFacts> ReadCertKeyFacts(const keystore::MachineRoot& root);

}  // namespace mkeys::repair::internal
