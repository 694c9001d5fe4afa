// SPDX-License-Identifier: GPL-3.0-or-later
// audit --format html: one self-contained page without scripts, rendered by headless Chromium (to
// a PNG, kept in the build directory); the DOM Chromium builds holds the summary counts and every
// finding.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/report_test_support.hpp"

using namespace mkeys;
using test::Mkeys;

namespace {

// From a DOM dump: "count-error count-warning count-note" then one "RULE OBJECT" line per
// finding row, then the section ids.
const char* kDomScript = R"(
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = {}; self.rows = []; self.sections = []
        self.cur_id = None; self.row = None; self.in_name = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'section': self.sections.append(a.get('id'))
        if a.get('id', '').startswith('count-'): self.cur_id = a['id']; self.ids[self.cur_id] = ''
        if tag == 'tr' and a.get('class') == 'finding': self.row = [a.get('data-rule'), '']
        if tag == 'td' and self.row is not None and a.get('class') == 'name': self.in_name = True
        if tag == 'br': self.in_name = False
    def handle_endtag(self, tag):
        if tag == 'span': self.cur_id = None
        if tag == 'td': self.in_name = False
        if tag == 'tr' and self.row is not None: self.rows.append(self.row); self.row = None
    def handle_data(self, data):
        if self.cur_id: self.ids[self.cur_id] += data
        if self.in_name: self.row[1] += data
p = P(); p.feed(open(sys.argv[1], encoding='utf-8').read())
print(p.ids.get('count-error'), p.ids.get('count-warning'), p.ids.get('count-note'))
for r in sorted(p.rows): print(r[0], r[1])
print(' '.join(s for s in p.sections if s))
)";

}  // namespace

TEST_CASE("audit --format html of the demo's hardened member renders in headless Chromium",
          "[cli][report][html]") {
  REQUIRE(test::HaveCommand("chromium"));  // scripts/install-deps.sh installs it
  test::HardenedMember m;
  const auto html = m.dir.path() / "report.html";
  auto run = Mkeys({"audit", m.root, "--service", test::ServiceArg(), "--format", "html",
                    "--output", html.string()});
  CHECK(run.exit_code == 1);
  const std::string page = test::ReadText(html);
  // Self-contained: nothing to fetch, nothing to run.
  for (const char* outside :
       {"<script", "<link", "http://", "https://", "url(", "@import", "<img", "<iframe"}) {
    INFO(outside);
    CHECK(page.find(outside) == std::string::npos);
  }
  // No script may run even where JavaScript is on: the page works the same with it off.
  CHECK(page.find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'") != std::string::npos);

  // The PNG, kept next to the binary for people to look at.
  const auto artefacts = test::BuildToolsDir() / "artefacts";
  std::filesystem::create_directories(artefacts);
  const auto png = artefacts / "audit-html-hardened-member.png";
  std::filesystem::remove(png);
  std::filesystem::copy_file(html, artefacts / "audit-html-hardened-member.html",
                             std::filesystem::copy_options::overwrite_existing);
  test::TempDir profile;
  const std::string url = "file://" + html.string();
  auto shot = test::Chromium(profile, {"--hide-scrollbars", "--window-size=1280,3400",
                                       "--screenshot=" + png.string(), url});
  INFO(shot.err);
  REQUIRE(std::filesystem::exists(png));
  const std::string png_bytes = test::ReadText(png);
  CHECK(png_bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n");
  CHECK(png_bytes.size() > 20000u);  // a rendered page, not a blank one

  // The DOM Chromium built holds the summary counts and every finding.
  auto dom = test::Chromium(profile, {"--dump-dom", url});
  REQUIRE(dom.exit_code == 0);
  const auto dom_file = m.dir.path() / "dom.html";
  std::ofstream(dom_file) << dom.out;
  auto parsed = test::Run({"python3", "-c", kDomScript, dom_file.string()});
  INFO(parsed.err);
  REQUIRE(parsed.exit_code == 0);

  auto json = nlohmann::json::parse(
      Mkeys({"audit", m.root, "--service", test::ServiceArg(), "--format", "json"}).out);
  std::map<std::string, int> per_severity;
  std::vector<std::string> rows;
  for (const auto& r : json["results"]) {
    per_severity[r["severity"].get<std::string>()] += r["count"].get<int>();
    for (const auto& f : r["findings"]) {
      rows.push_back(r["rule"].get<std::string>() + " " + f["object"].get<std::string>());
    }
  }
  REQUIRE_FALSE(rows.empty());
  std::sort(rows.begin(), rows.end());
  std::string expected = std::to_string(per_severity["error"]) + " " +
                         std::to_string(per_severity["warning"]) + " " +
                         std::to_string(per_severity["note"]) + "\n";
  for (const auto& r : rows) expected += r + "\n";
  expected += "summary findings store access fixes\n";
  CHECK(parsed.out == expected);

  // The effective access of the service and the fixes, as commands.
  CHECK(dom.out.find("mkeys repair") != std::string::npos);
  CHECK(dom.out.find("icacls ") != std::string::npos);
  CHECK(dom.out.find(test::kArrayContainer) != std::string::npos);
  CHECK(dom.out.find("S-1-5-20") != std::string::npos);
}
