// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// For the report tests: the demo's hardened member (scripts/demo.sh step 4) built with mkeys
// commands, reading a report back, and the validators (oscap, inspecjs, headless Chromium).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace mkeys::test {

inline constexpr const char* kMemberGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
inline constexpr const char* kNetworkService = "NT AUTHORITY\\NETWORK SERVICE";
inline constexpr const char* kArrayGlob = "mkeys-array-TMG-Array-*";
inline constexpr const char* kArrayContainer = "mkeys-array-TMG-Array-0f6d7c1e-v1";

inline std::string ServiceArg() {
  return std::string(kNetworkService) + "=" + kArrayGlob;
}

// The demo's member: a default model machine whose MachineKeys lost Everyone's rights
// (demo.sh step 4), holding the array key as the join's installer (an administrator) writes
// it, so the service identity's effective access has something to show.
struct HardenedMember {
  TempDir dir;
  std::string root;
  std::filesystem::path keys;

  HardenedMember() {
    root = (dir.path() / "member").string();
    keys = dir.path() / "member/ProgramData/Microsoft/Crypto/RSA/MachineKeys";
    REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kMemberGuid}).exit_code == 0);
    REQUIRE(Mkeys({"store", "create", root, kArrayContainer, "--as", "administrator", "--key",
                   "ec:p256"})
                .exit_code == 0);
    REQUIRE(
        Mkeys({"sd", "set", keys.string(), "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"}).exit_code ==
        0);
  }
};

inline std::string ReadText(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Where test-only tools and artefacts live: next to the mkeys binary in the build directory.
inline std::filesystem::path BuildToolsDir() {
  return std::filesystem::path(MKEYS_BINARY).parent_path() / "test-tools";
}

inline bool HaveCommand(const std::string& name) {
  return Run({"sh", "-c", "command -v " + name}).exit_code == 0;
}

// MITRE's inspecjs (Apache-2.0), installed by npm into the build directory on first use (one
// install at a time across parallel tests). Returns its directory.
inline std::filesystem::path EnsureInspecjs() {
  const auto prefix = BuildToolsDir() / "npm";
  const auto module = prefix / "node_modules" / "inspecjs";
  if (!std::filesystem::exists(module / "package.json")) {
    REQUIRE(HaveCommand("npm"));  // scripts/install-deps.sh installs it
    std::filesystem::create_directories(prefix);
    auto install = Run({"flock", (prefix / ".lock").string(), "npm", "install", "--prefix",
                        prefix.string(), "--no-audit", "--no-fund", "--silent", "inspecjs@2.12.6"});
    INFO(install.err);
    REQUIRE(install.exit_code == 0);
  }
  REQUIRE(std::filesystem::exists(module / "package.json"));
  return module;
}

// Loads an HDF file with inspecjs as Heimdall does; prints "<control id> <status>" per control.
// Exit 0 only when it is read as exec JSON (HDF results).
inline RunResult LoadWithInspecjs(const std::filesystem::path& file) {
  const auto module = EnsureInspecjs();
  const std::string script =
      "const fs = require('fs');\n"
      "const inspecjs = require(process.argv[1]);\n"
      "const text = fs.readFileSync(process.argv[2], 'utf8');\n"
      "const parsed = inspecjs.convertFile(text, true);\n"
      "if (!parsed['1_0_ExecJson']) { console.error('not HDF exec JSON'); process.exit(1); }\n"
      "const ev = inspecjs.contextualizeEvaluation(parsed['1_0_ExecJson']);\n"
      "for (const p of ev.contains) for (const c of p.contains)\n"
      "  console.log(c.data.id + ' ' + c.hdf.status);\n";
  return Run({"node", "-e", script, module.string(), file.string()});
}

// Headless Chromium (as root it needs --no-sandbox). Its --screenshot and --dump-dom drive the
// page through DevTools and hang with scripts disabled in Blink; the report's own
// Content-Security-Policy (default-src 'none') keeps every script off instead, so what Chromium
// renders is what a browser with JavaScript off shows.
inline RunResult Chromium(const TempDir& profile, std::vector<std::string> args) {
  std::vector<std::string> argv = {"chromium",
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--no-first-run",
                                   "--user-data-dir=" + profile.str()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

}  // namespace mkeys::test
