// SPDX-License-Identifier: GPL-3.0-or-later
// Inputs the fuzzers (fuzz/) found crashing repair parsers, kept as hex exactly as the parser
// saw them. Each must now fail with a clean error. docs/fuzzing.md says how to add one.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "mkeys/core/hex.hpp"
#include "mkeys/repair/baseline.hpp"

using namespace mkeys;

namespace {

std::string Text(std::string_view hex) {
  auto bytes = HexDecode(hex);
  REQUIRE(bytes);
  return std::string(bytes->begin(), bytes->end());
}

}  // namespace

TEST_CASE("fuzz baseline: a number beyond double's range is a parse error, not an exception",
          "[repair][fuzz]") {
  // "9e999" (minimised from a 149-byte input of fuzz_baseline): nlohmann throws out_of_range.406,
  // which ParseBaseline did not catch, so the program aborted.
  auto baseline = repair::ParseBaseline(Text("3965393939"));
  REQUIRE_FALSE(baseline);
  CHECK(baseline.error().code() == ErrorCode::kParse);
  CHECK(baseline.error().message().find("9e999") != std::string::npos);
}

TEST_CASE("fuzz baseline: an overflowing number inside a valid document is an error too",
          "[repair][fuzz]") {
  auto baseline =
      repair::ParseBaseline(R"({"version": 1, "thresholds": {"max_containers": 1e400}})");
  REQUIRE_FALSE(baseline);
  CHECK(baseline.error().code() == ErrorCode::kParse);
  // A plain syntax error still says where.
  auto syntax = repair::ParseBaseline(R"({"version": 1,})");
  REQUIRE_FALSE(syntax);
  CHECK(syntax.error().position().has_value());
}
