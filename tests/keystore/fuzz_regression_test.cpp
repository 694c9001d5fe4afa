// SPDX-License-Identifier: GPL-3.0-or-later
// Inputs the fuzzers (fuzz/) found crashing keystore parsers, kept as hex exactly as the parser
// saw them. Each must now fail with a clean error. docs/fuzzing.md says how to add one.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "mkeys/core/hex.hpp"
#include "mkeys/keystore/machine_root.hpp"

using namespace mkeys;

namespace {

std::string Text(std::string_view hex) {
  auto bytes = HexDecode(hex);
  REQUIRE(bytes);
  return std::string(bytes->begin(), bytes->end());
}

}  // namespace

TEST_CASE("fuzz machine_facts: a facts file whose master_key_path is a number is an error",
          "[keystore][fuzz]") {
  // {"format_version":1,"machine_guid":"6f1c2d3e-...","master_key_path":4}: nlohmann's value()
  // threw type_error out of the parser (fuzz_machine_facts, 905 executions).
  const std::string text = Text(
      "7b22666f726d61745f76657273696f6e223a312c226d616368696e655f67756964223a2236663163326433"
      "652d346235612d346337642d386539662d306131623263336434653566222c226d61737465725f6b65795f"
      "70617468223a347d");
  auto facts = keystore::ParseMachineFacts(text, "/m/mkeys-machine.json");
  REQUIRE_FALSE(facts);
  CHECK(facts.error().code() == ErrorCode::kParse);
  CHECK(facts.error().message().find("master_key_path") != std::string::npos);
  CHECK(facts.error().object() == std::optional<std::string>("/m/mkeys-machine.json"));
}

TEST_CASE("fuzz machine_facts: an ntacl_attribute that is not a string is an error",
          "[keystore][fuzz]") {
  auto facts = keystore::ParseMachineFacts(
      R"({"format_version":1,"machine_guid":"6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",)"
      R"("ntacl_attribute":["user.NTACL"]})");
  REQUIRE_FALSE(facts);
  CHECK(facts.error().message().find("ntacl_attribute") != std::string::npos);
}

TEST_CASE("fuzz machine_facts: the optional members still default when absent",
          "[keystore][fuzz]") {
  auto facts = keystore::ParseMachineFacts(
      R"({"format_version":1,"machine_guid":"6F1C2D3E-4B5A-4C7D-8E9F-0A1B2C3D4E5F"})");
  REQUIRE(facts);
  CHECK(facts->machine_guid == "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f");
  CHECK(facts->master_key_path == keystore::kDefaultMasterKeyPath);
  CHECK(facts->ntacl_attribute == keystore::kDefaultNtaclXattr);
}
