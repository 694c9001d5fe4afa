// SPDX-License-Identifier: GPL-3.0-or-later
// docs/exit-codes.md's table, run: every row's command with --json exits with the code the table
// gives and prints one JSON document whose top level has the keys the table lists; and every
// command mkeys --help lists (down to `array manager add`) has a row.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace fs = std::filesystem;
using mkeys::test::Mkeys;

namespace {

struct Row {
  std::string command;  // as in the table, with ROOT, KEY, ... placeholders
  int exit_code = -1;
  bool array = false;
  std::vector<std::string> keys;
};

// The text between the first pair of backticks in `cell`.
std::string Code(const std::string& cell) {
  const auto a = cell.find('`');
  const auto b = cell.find('`', a + 1);
  return a == std::string::npos || b == std::string::npos ? "" : cell.substr(a + 1, b - a - 1);
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool in_code = false;
  for (std::size_t i = 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '`') in_code = !in_code;
    if (c == '|' && !in_code) {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
  }
  return cells;
}

std::vector<Row> TableRows() {
  std::ifstream in(fs::path(MKEYS_SOURCE_DIR) / "docs/exit-codes.md");
  REQUIRE(in);
  std::vector<Row> rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("| command | exit |", 0) == 0) in_table = true;
    if (!in_table || line.rfind("| `", 0) != 0) continue;
    const auto cells = Cells(line);
    REQUIRE(cells.size() >= 3);
    Row row;
    row.command = Code(cells[0]);
    row.exit_code = std::stoi(cells[1]);
    std::string shape = Code(cells[2]);
    row.array = !shape.empty() && shape.front() == '[';
    for (char& c : shape) {
      if (c == '[' || c == ']' || c == '{' || c == '}' || c == ',') c = ' ';
    }
    std::istringstream words(shape);
    for (std::string key; words >> key;) row.keys.push_back(key);
    rows.push_back(std::move(row));
  }
  return rows;
}

// argv of a row: split on spaces, placeholders replaced; "<<< TEXT" becomes stdin.
std::vector<std::string> Argv(const std::string& command,
                              const std::map<std::string, std::string>& vars, std::string& input) {
  std::string text = command;
  if (const auto at = text.find(" <<< "); at != std::string::npos) {
    input = text.substr(at + 5) + "\n";
    text = text.substr(0, at);
  }
  std::vector<std::string> argv = {"--json"};
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    if (const auto it = vars.find(w); it != vars.end()) w = it->second;
    argv.push_back(w);
  }
  return argv;
}

// The leaf commands below `path` ("" for mkeys itself), as its --help lists them under
// "Subcommands:": "machine init", "array manager add", "audit", ...
std::vector<std::string> LeafCommands(const std::string& path) {
  std::vector<std::string> argv;
  std::istringstream words(path);
  for (std::string w; words >> w;) argv.push_back(w);
  argv.push_back("--help");
  const auto help = Mkeys(argv);
  REQUIRE(help.exit_code == 0);
  std::vector<std::string> leaves;
  std::istringstream lines(help.out);
  bool in_list = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_list = true;
      continue;
    }
    if (!in_list) continue;
    if (line.empty()) break;
    if (line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') continue;
    const std::string name = line.substr(2, line.find(' ', 2) - 2);
    for (auto& leaf : LeafCommands(path.empty() ? name : path + " " + name)) {
      leaves.push_back(std::move(leaf));
    }
  }
  if (!in_list) leaves.push_back(path);
  return leaves;
}

}  // namespace

TEST_CASE("docs/exit-codes.md has a row for every command mkeys --help lists",
          "[cli][exit-codes]") {
  const auto rows = TableRows();
  const auto leaves = LeafCommands("");
  REQUIRE(leaves.size() >= 40u);  // machine init ... array sync: the table keeps up with them
  std::vector<std::string> missing;
  for (const auto& leaf : leaves) {
    const bool listed = std::any_of(rows.begin(), rows.end(), [&](const Row& row) {
      return row.command == leaf || row.command.rfind(leaf + " ", 0) == 0;
    });
    if (!listed) missing.push_back(leaf);
  }
  std::string names;
  for (const auto& m : missing) names += "\n  " + m;
  INFO("commands in mkeys --help without a row in docs/exit-codes.md:" << names);
  CHECK(missing.empty());
}

TEST_CASE("every command in docs/exit-codes.md exits and answers in JSON as the table says",
          "[cli][exit-codes]") {
  mkeys::test::TempDir tmp;
  const auto root = tmp.path() / "m";
  REQUIRE(Mkeys({"machine", "init", root.string()}).exit_code == 0);
  REQUIRE(Mkeys({"store", "create", root.string(), "web key", "--as", "administrator", "--key",
                 "ec:p256"})
              .exit_code == 0);
  // A second root for the array rows: `array create MGR` makes it the array's manager.
  const auto manager = tmp.path() / "mgr";
  REQUIRE(Mkeys({"machine", "init", manager.string()}).exit_code == 0);
  const std::map<std::string, std::string> vars = {
      {"ROOT", root.string()},
      {"MGR", manager.string()},
      {"NEWROOT", (tmp.path() / "new").string()},
      {"KEY4", "fourth key"},
      {"PEM", (tmp.path() / "key.pem").string()},
      {"SAVE", (tmp.path() / "save.txt").string()},
      {"J", (tmp.path() / "journal").string()},
      {"KEY", "web key"},
      {"KEY2", "second key"},
      {"KEY3", "third key"},
      {"KEYS", (root / "ProgramData/Microsoft/Crypto/RSA/MachineKeys").string()},
      {"NOWHERE", (tmp.path() / "nowhere").string()}};
  const auto rows = TableRows();
  REQUIRE(rows.size() >= 20u);
  for (const auto& row : rows) {
    INFO("mkeys --json " << row.command);
    std::string input;
    auto argv = Argv(row.command, vars, input);
    auto r = Mkeys(argv, input);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == row.exit_code);
    nlohmann::json doc;
    REQUIRE_NOTHROW(doc = nlohmann::json::parse(r.out));
    CHECK(doc.is_array() == row.array);
    // An empty list (array members on an array without members) has no item to check.
    if (doc.is_array() && doc.empty()) continue;
    const nlohmann::json& top = doc.is_array() ? doc.front() : doc;
    for (const auto& key : row.keys) {
      INFO("key " << key);
      CHECK(top.contains(key));
    }
  }
}
