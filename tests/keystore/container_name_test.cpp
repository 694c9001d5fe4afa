// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include "mkeys/keystore/container_name.hpp"

using namespace mkeys::keystore;

TEST_CASE("Container hashes match the names Windows uses", "[keystore][name]") {
  // docs/formats.md: the well-known IIS/RDP container files.
  CHECK(ContainerHash("MyCoolContainer") == "52ab417621a9d74c73e3e0f1bc374e0a");
  CHECK(ContainerHash("iisConfigurationKey") == "6de9cb26d2b98c01ec4e9e8b34824aa2");
  // The name is lower-cased before hashing.
  CHECK(ContainerHash("MYCOOLCONTAINER") == ContainerHash("mycoolcontainer"));
  CHECK(ContainerFileName("MyCoolContainer", "c49c7513-8b86-4d0e-90bf-4805804a9318") ==
        "52ab417621a9d74c73e3e0f1bc374e0a_c49c7513-8b86-4d0e-90bf-4805804a9318");
}

TEST_CASE("MachineGuids are normalised and malformed ones rejected with the offset",
          "[keystore][name]") {
  CHECK(*NormalizeMachineGuid("{C49C7513-8B86-4D0E-90BF-4805804A9318}") ==
        "c49c7513-8b86-4d0e-90bf-4805804a9318");
  auto bad = NormalizeMachineGuid("c49c7513-8b86-4d0e-90bf-4805804a93x8");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().position() == 34u);
  CHECK_FALSE(NormalizeMachineGuid("c49c7513"));
}

TEST_CASE("Key file names split into hash and MachineGuid", "[keystore][name]") {
  auto parts = SplitContainerFileName(
      "52ab417621a9d74c73e3e0f1bc374e0a_c49c7513-8b86-4d0e-90bf-4805804a9318");
  REQUIRE(parts);
  CHECK(parts->hash == "52ab417621a9d74c73e3e0f1bc374e0a");
  CHECK(parts->machine_guid == "c49c7513-8b86-4d0e-90bf-4805804a9318");
  CHECK_FALSE(SplitContainerFileName("desktop.ini"));
  CHECK_FALSE(SplitContainerFileName(
      "52ab417621a9d74c73e3e0f1bc374e0a-c49c7513-8b86-4d0e-90bf-4805804a9318"));
}
