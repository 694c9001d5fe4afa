// SPDX-License-Identifier: GPL-3.0-or-later
// applicationHost.config's application pools: parse or fail cleanly with a position inside the
// input; what parses names each pool once, with a non-empty name.
// fuzz-links: mkeys::keystore
// fuzz-requires: keystore/src/iis_config.cpp
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "mkeys/core/text.hpp"
#include "mkeys/keystore/iis_config.hpp"

using mkeys::fuzz::Check;
namespace ks = mkeys::keystore;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  auto facts = ks::ParseApplicationHostConfig(xml);
  if (!facts) {
    Check(facts.error().position().value_or(0) <= size, "an error position lies past the input");
    Check(facts.error().message().find("line ") != std::string::npos,
          "an error does not say its line");
    return 0;
  }
  for (std::size_t i = 0; i < facts->pools.size(); ++i) {
    Check(!facts->pools[i].name.empty(), "a pool without a name was accepted");
    Check(facts->Find(facts->pools[i].name) == &facts->pools[i], "a pool name appears twice");
    Check(facts->pools[i].line >= 1, "a pool without a line");
  }
  return 0;
}
