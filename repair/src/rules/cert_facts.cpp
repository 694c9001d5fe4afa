// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/cert_facts.hpp"

namespace mkeys::repair::internal {

std::vector<CertKeyFacts> ReadCertKeyFacts(const keystore::MachineRoot& root) {
  std::vector<CertKeyFacts> out;
  auto certs = keystore::ReadMachineCertificates(root);
  if (!certs) return out;
  for (auto& cert : *certs) {
    CertKeyFacts f;
    f.object = "LocalMachine\\My\\" + cert.thumbprint;
    f.cert = std::move(cert);
    auto loc = keystore::LocateCertificateKey(root, f.cert);
    if (!loc) {
      f.location_problem = loc.error().ToString();
    } else {
      f.location = std::move(*loc);
      if (f.location->on_disk) {
        const auto& t = *f.location->target;
        f.key_path = t.directories.back() / t.file_name;
        if (root.is_image()) {
          auto exists = root.volume().Exists(f.key_path);  // a disk image: its own volume
          f.key_file_exists = exists && *exists;
        } else {
          std::error_code ec;
          f.key_file_exists = std::filesystem::is_regular_file(f.key_path, ec);
        }
        if (f.key_file_exists) {
          if (auto sd = root.security().Read(f.key_path)) f.key_descriptor = std::move(*sd);
        }
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace mkeys::repair::internal
