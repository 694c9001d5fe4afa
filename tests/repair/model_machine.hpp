// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A model machine for repair tests: MachineRoot::Init, containers created with KeyStore, and
// helpers to damage descriptors on purpose.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mkeys/acl/sddl.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_policy_writer.hpp"
#include "support/process.hpp"

namespace mkeys::test {

inline constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
inline constexpr const char* kOtherGuid = "0d7e0c3a-1111-4222-8333-944455556666";

class ModelMachine {
 public:
  ModelMachine() {
    keystore::MachineInitOptions options;
    options.machine_guid = kGuid;
    auto machine = keystore::MachineRoot::Init(dir_.path() / "m", options);
    REQUIRE(machine);
    root_ = std::make_unique<keystore::MachineRoot>(std::move(*machine));
  }
  keystore::MachineRoot& root() { return *root_; }
  std::filesystem::path keys() const { return root_->machine_keys_dir(); }

  // Creates container `name` as `identity` (EC keys: fast) and returns its file name.
  std::string Create(const std::string& name, const std::string& identity = "SYSTEM") {
    keystore::KeyStore store(*root_);
    auto token = root_->TokenFor(identity);
    REQUIRE(token);
    keystore::CreateOptions options;
    options.key = {keystore::KeyAlgorithm::kEcP256, 256};
    auto created = store.Create(name, *token, options);
    REQUIRE(created);
    return created->file_name;
  }
  void Set(const std::filesystem::path& path, const std::string& sddl) {
    auto sd = acl::ParseSddl(sddl);
    REQUIRE(sd);
    REQUIRE(root_->writable_security().Write(path, *sd));
  }
  void SetFile(const std::string& file, const std::string& sddl) { Set(keys() / file, sddl); }
  void SetFolder(const std::string& sddl) { Set(keys(), sddl); }
  std::string Sddl(const std::filesystem::path& path) {
    auto sd = root_->security().Read(path);
    REQUIRE(sd);
    return acl::FormatSddl(*sd);
  }
  // Rewrites the machine's SeChangeNotifyPrivilege holders (its SECURITY hive) and reopens it.
  void SetChangeNotifyHolders(const std::vector<std::string>& sids) {
    const auto hive = root_->root() / keystore::HiveRelativePath(keystore::HiveKind::kSecurity);
    for (const auto& p : root_->privileges()) {
      if (p.privilege != "SeChangeNotifyPrivilege") continue;
      for (const auto& holder : p.holders) {
        REQUIRE(keystore::RevokeRight(hive, holder, "SeChangeNotifyPrivilege"));
      }
    }
    for (const auto& sid : sids) {
      REQUIRE(keystore::GrantRight(hive, *acl::Sid::Parse(sid), "SeChangeNotifyPrivilege"));
    }
    auto reopened = keystore::MachineRoot::Open(root_->root());
    REQUIRE(reopened);
    root_ = std::make_unique<keystore::MachineRoot>(std::move(*reopened));
  }
  // Every descriptor under the store's directories, raw.
  std::map<std::string, std::vector<std::uint8_t>> Snapshot() {
    std::map<std::string, std::vector<std::uint8_t>> out;
    for (const auto& d : root_->store_directories()) {
      out[d.string()] = *root_->security().ReadRaw(d);
    }
    for (const auto& e : std::filesystem::directory_iterator(keys())) {
      auto raw = root_->security().ReadRaw(e.path());
      out[e.path().string()] = raw ? *raw : std::vector<std::uint8_t>{};
    }
    return out;
  }

 private:
  TempDir dir_;
  std::unique_ptr<keystore::MachineRoot> root_;
};

}  // namespace mkeys::test
