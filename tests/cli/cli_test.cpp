// SPDX-License-Identifier: GPL-3.0-or-later
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

using mkeys::test::Mkeys;

TEST_CASE("mkeys --version prints the version", "[cli]") {
  auto r = Mkeys({"--version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("mkeys ", 0) == 0);
}

TEST_CASE("mkeys --json --version prints one JSON document", "[cli][json]") {
  auto r = Mkeys({"--json", "--version"});
  CHECK(r.exit_code == 0);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["name"] == "mkeys");
  CHECK(doc["version"].is_string());
}

TEST_CASE("An unknown command is a usage error, exit 2", "[cli]") {
  auto r = Mkeys({"nosuchcommand"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("nosuchcommand") != std::string::npos);
  CHECK(r.err.find("--help") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("mkeys --help lists the exit codes", "[cli]") {
  auto r = Mkeys({"--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("Exit codes") != std::string::npos);
  CHECK(r.out.find("4  peer or network error") != std::string::npos);
}

TEST_CASE("mkeys with no command prints usage and exits 2", "[cli]") {
  auto r = Mkeys({});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("Usage") != std::string::npos);
}
