// SPDX-License-Identifier: GPL-3.0-or-later
// The machine facts file (mkeys-machine.json at a model machine's root): parse or fail with an
// error, never throw; what parses has a normalised GUID and SIDs that print and parse again.
// The input is tried as it is and spliced into a valid facts file (json_splice.hpp).
// fuzz-links: mkeys::keystore
#include <cstdint>
#include <span>
#include <string_view>

#include "fuzz_check.hpp"
#include "json_splice.hpp"
#include "mkeys/keystore/machine_root.hpp"

using mkeys::fuzz::Check;

namespace {

void Parse(std::string_view text) {
  auto facts = mkeys::keystore::ParseMachineFacts(text);
  if (!facts) return;
  Check(facts->machine_guid.size() == 36, "a parsed machine GUID is not 36 characters");
  for (const auto& assignment : facts->privileges) {
    for (const auto& sid : assignment.holders) {
      auto again = mkeys::acl::Sid::Parse(sid.ToString());
      Check(again.ok() && *again == sid, "a privilege holder SID does not round-trip");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mkeys::fuzz::JsonSplicer splicer(nlohmann::json{
      {"format_version", 1},
      {"machine_guid", "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"},
      {"privileges",
       {{{"privilege", "SeBackupPrivilege"}, {"holders", {"S-1-5-32-544", "S-1-5-32-551"}}}}},
      {"master_key_path", "Windows/System32/mkeys/machine-master.key"},
      {"ntacl_attribute", "user.NTACL"}});
  Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (auto spliced = splicer.Apply(std::span<const std::uint8_t>(data, size))) {
    Parse(*spliced);
  }
  return 0;
}
