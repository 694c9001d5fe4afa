// SPDX-License-Identifier: GPL-3.0-or-later
// The one key-file check: name, parse, name hash and (mkeys files) that the private parts
// decrypt under the machine master key.
#include <catch2/catch.hpp>

#include "mkeys/core/files.hpp"
#include "mkeys/keystore/container_name.hpp"
#include "mkeys/keystore/key_file_check.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "support/process.hpp"

using namespace mkeys;
using namespace mkeys::keystore;

namespace {
constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kOtherGuid = "0d7e0c3a-1111-4222-8333-944455556666";

MachineRoot NewMachine(const test::TempDir& dir) {
  MachineInitOptions options;
  options.machine_guid = kGuid;
  auto machine = MachineRoot::Init(dir.path() / "m", options);
  REQUIRE(machine);
  return std::move(machine).value();
}

// Offset of the first byte of the exchange private blob (header lengths in docs/formats.md order).
std::size_t ExchangePrivateOffset(const std::vector<std::uint8_t>& bytes) {
  auto u32 = [&](std::size_t at) {
    return static_cast<std::size_t>(bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
                                    bytes[at + 3] << 24);
  };
  // name, hash, sig pub, sig priv, sig flag, exch pub, then exch priv.
  return 40 + u32(8) + u32(28) + u32(12) + u32(16) + u32(32) + u32(20);
}
}  // namespace

TEST_CASE("A good mkeys key file passes every check and its keys decrypt", "[keystore][check]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  REQUIRE(store.Create("ArrayKey", *machine.TokenFor("SYSTEM")));
  const auto bytes = *files::ReadFile(store.PathFor("ArrayKey"));
  const std::string file = ContainerFileName("ArrayKey", kGuid);
  UnsealedKeys keys;
  const auto v = KeyFileChecker(machine).Check(file, bytes, &keys);
  CHECK(v.ok());
  CHECK(v.private_keys_checked);
  CHECK(v.name() == "ArrayKey");
  CHECK(v.file->DescribeKeys() == "exchange RSA 2048 (e=65537)");
  CHECK(keys.exchange.has_value());
}

TEST_CASE("A flipped byte in the private-key blob makes the file corrupt", "[keystore][check]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  KeyStore store(machine);
  REQUIRE(store.Create("ArrayKey", *machine.TokenFor("SYSTEM")));
  auto bytes = *files::ReadFile(store.PathFor("ArrayKey"));
  bytes[ExchangePrivateOffset(bytes) + 40] ^= 0x01;
  const auto v = CheckKeyFileContents(machine, ContainerFileName("ArrayKey", kGuid), bytes);
  CHECK_FALSE(v.ok());
  CHECK(v.corrupt);
  CHECK(v.name() == "ArrayKey");  // the rest still parses
  CHECK(v.problem ==
        "exchange private key does not decrypt under the machine master key (wrong machine, "
        "renamed file or tampered bytes)");
}

TEST_CASE("Names: foreign MachineGuid - hash mismatch - not a container name",
          "[keystore][check]") {
  test::TempDir dir;
  auto machine = NewMachine(dir);
  const auto capi = MakeSyntheticCapiContainerFile("Web", 2048);
  KeyFileChecker checker(machine);

  const auto own = checker.Check(ContainerFileName("Web", kGuid), capi);
  CHECK(own.ok());
  CHECK_FALSE(own.private_keys_checked);  // DPAPI blobs: not decryptable off Windows

  const auto foreign = checker.Check(ContainerFileName("Web", kOtherGuid), capi);
  CHECK(foreign.foreign_machine_guid);
  CHECK_FALSE(foreign.name_hash_mismatch);

  const auto renamed = checker.Check(ContainerFileName("Other", kGuid), capi);
  CHECK(renamed.name_hash_mismatch);
  CHECK_FALSE(renamed.corrupt);

  const auto odd = checker.Check("readme.txt", capi);
  CHECK(odd.not_a_container_name);

  const auto empty = checker.Check(ContainerFileName("Web", kGuid), {});
  CHECK(empty.corrupt);
  CHECK(empty.problem == "zero-length file");

  auto cut = capi;
  cut.resize(30);
  const auto short_file = checker.Check(ContainerFileName("Web", kGuid), cut);
  CHECK(short_file.corrupt);
  CHECK(short_file.problem.find("shorter than its 40-byte header") != std::string::npos);
}
