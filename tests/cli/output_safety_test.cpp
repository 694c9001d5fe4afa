// SPDX-License-Identifier: GPL-3.0-or-later
// Hostile file names in MachineKeys (bytes that are not UTF-8, an ESC sequence, HTML markup)
// leave every audit format (text, json, sarif, junit, xccdf, hdf, html) valid and inert: XML
// parses, the name appears escaped, text output (audit, repair, error messages) carries no raw
// control byte, JSON is valid UTF-8 with the raw bytes in hex.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/report_test_support.hpp"

using namespace mkeys;
using test::Mkeys;

namespace {

const std::string kNotUtf8 = "\xff\xfe-not-utf8";
const std::string kEscape = "\x1b[31mred\x1b[0m";
const std::string kMarkup = "<img src=x onerror=alert(1)>";
const std::string kMarkupEscaped = "&lt;img src=x onerror=alert(1)&gt;";

struct HostileMachine {
  test::TempDir dir;
  std::string root;
  HostileMachine() {
    root = (dir.path() / "m").string();
    REQUIRE(Mkeys({"machine", "init", root}).exit_code == 0);
    const auto keys = dir.path() / "m/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
    for (const auto& name : {kNotUtf8, kEscape, kMarkup}) {
      std::ofstream(keys / name, std::ios::binary) << "not a key container";
      REQUIRE(std::filesystem::exists(keys / name));
    }
  }
  std::filesystem::path Report(const std::string& format) const {
    const auto out = dir.path() / ("report." + format);
    auto run = Mkeys({"audit", root, "--format", format, "--output", out.string()});
    INFO(run.err);
    CHECK(run.exit_code == 1);  // the three files are findings
    return out;
  }
};

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Python's strict UTF-8 decoding and json.loads; prints every "object_hex" / "objectBytesHex".
const char* kJsonScript = R"(
import sys, json
doc = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))
found = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ('object_hex', 'objectBytesHex', 'resource_id'): found.add(x)
            walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(doc)
print('\n'.join(sorted(found)))
)";

void CheckJson(const std::filesystem::path& file, const std::string& expected_hex) {
  auto run = test::Run({"python3", "-c", kJsonScript, file.string()});
  INFO(file << ": " << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out == expected_hex);
}

}  // namespace

TEST_CASE("hostile file names keep text output free of control bytes", "[cli][report][safety]") {
  HostileMachine m;
  auto text = Mkeys({"--no-color", "audit", m.root});
  CHECK(text.exit_code == 1);
  CHECK(text.out.find('\x1b') == std::string::npos);
  CHECK(text.out.find("\\x1b[31mred\\x1b[0m") != std::string::npos);
  CHECK(text.out.find("\\xff\\xfe-not-utf8") != std::string::npos);
  CHECK(text.out.find('\xff') == std::string::npos);
}

TEST_CASE("hostile file names keep repair and store list text and errors free of control bytes",
          "[cli][report][safety]") {
  HostileMachine m;
  // The names are findings no descriptor change fixes: repair lists them for a person.
  auto repair = Mkeys({"--no-color", "repair", m.root});
  CHECK(repair.exit_code == 1);
  CHECK(repair.out.find('\x1b') == std::string::npos);
  CHECK(repair.out.find('\xff') == std::string::npos);
  CHECK(repair.out.find("MachineKeys/\\x1b[31mred\\x1b[0m") != std::string::npos);
  auto list = Mkeys({"--no-color", "store", "list", m.root});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find('\x1b') == std::string::npos);
  CHECK(list.out.find('\xff') == std::string::npos);
  CHECK(list.out.find("\\xff\\xfe-not-utf8") != std::string::npos);
  // An error naming such a file (it has no descriptor) escapes it too.
  const auto keys = m.dir.path() / "m/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
  for (const auto& name : {kEscape, kNotUtf8}) {
    auto get = Mkeys({"--no-color", "sd", "get", (keys / name).string()});
    CHECK(get.exit_code == 3);
    CHECK(get.err.find('\x1b') == std::string::npos);
    CHECK(get.err.find('\xff') == std::string::npos);
    CHECK(get.err.find("\\x") != std::string::npos);
  }
}

TEST_CASE("hostile file names keep every XML and HTML format valid and inert",
          "[cli][report][safety]") {
  HostileMachine m;
  const auto junit = m.Report("junit");
  const std::string parse =
      "import sys, xml.etree.ElementTree as ET\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "print('\\n'.join(sorted(set(p.get('value') for p in root.iter('property')))))\n";
  auto parsed = test::Run({"python3", "-c", parse, junit.string()});
  INFO(parsed.err);
  REQUIRE(parsed.exit_code == 0);
  // The raw bytes of the two names that had to be escaped, in hex.
  std::vector<std::string> hexes = {Hex("MachineKeys/" + kNotUtf8), Hex("MachineKeys/" + kEscape)};
  std::sort(hexes.begin(), hexes.end());
  CHECK(parsed.out == hexes[0] + "\n" + hexes[1] + "\n");

  const auto xccdf = m.Report("xccdf");
  REQUIRE(test::HaveCommand("oscap"));
  auto valid = test::Run({"oscap", "xccdf", "validate", xccdf.string()});
  INFO(valid.out << valid.err);
  CHECK(valid.exit_code == 0);

  auto etree = test::Run({"python3", "-c", parse, xccdf.string()});
  INFO(etree.err);
  CHECK(etree.exit_code == 0);

  for (const auto& file : {junit, xccdf, m.Report("html")}) {
    const std::string text = test::ReadText(file);
    INFO(file);
    CHECK(text.find(kMarkupEscaped) != std::string::npos);
    CHECK(text.find("<img") == std::string::npos);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find("\\xff\\xfe-not-utf8") != std::string::npos);
  }
}

TEST_CASE("hostile file names keep JSON formats valid UTF-8 with the raw bytes in hex",
          "[cli][report][safety]") {
  HostileMachine m;
  std::vector<std::string> hexes = {Hex("MachineKeys/" + kNotUtf8), Hex("MachineKeys/" + kEscape)};
  std::sort(hexes.begin(), hexes.end());
  const std::string expected = hexes[0] + "\n" + hexes[1] + "\n";
  CheckJson(m.Report("json"), expected);
  CheckJson(m.Report("sarif"), expected);
  CheckJson(m.Report("hdf"), expected);
  const auto doc = nlohmann::json::parse(test::ReadText(m.Report("json")));
  bool escaped_name = false;
  for (const auto& r : doc["results"]) {
    for (const auto& f : r["findings"]) {
      escaped_name = escaped_name || f["object"] == "MachineKeys/\\xff\\xfe-not-utf8";
    }
  }
  CHECK(escaped_name);
}
