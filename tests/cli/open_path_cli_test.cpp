// SPDX-License-Identifier: GPL-3.0-or-later
// The one open path through the binary: `store open` and `diagnose` walk the same steps, give the
// same reason, and read every object once (checked with strace when it is installed).
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/process.hpp"

using namespace mkeys;
using test::Mkeys;

namespace {

constexpr const char* kGuid = "c49c7513-8b86-4d0e-90bf-4805804a9318";
constexpr const char* kNs = "NT AUTHORITY\\NETWORK SERVICE";

struct Machine {
  test::TempDir dir;
  std::string root = (dir.path() / "m").string();
  std::filesystem::path keys = dir.path() / "m/ProgramData/Microsoft/Crypto/RSA/MachineKeys";

  Machine() { REQUIRE(Mkeys({"machine", "init", root, "--machine-guid", kGuid}).exit_code == 0); }

  // Creates `name` readable by NETWORK SERVICE; returns its file.
  std::filesystem::path Create(const std::string& name) {
    REQUIRE(
        Mkeys({"store", "create", root, name, "--as", "SYSTEM", "--grant", std::string(kNs) + ":R"})
            .exit_code == 0);
    auto file = Mkeys({"store", "name", name, "--root", root});
    REQUIRE(file.exit_code == 0);
    return keys / file.out.substr(0, file.out.find_first_of("\r\n"));
  }
};

std::vector<std::uint8_t> ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first byte of the exchange private-key blob (container header: name length at 8, hash
// at 28, signature public/private/flag at 12/16/32, exchange public at 20; docs/formats.md).
std::size_t ExchangePrivateBlob(const std::vector<std::uint8_t>& b) {
  auto u32 = [&](std::size_t at) {
    return static_cast<std::size_t>(b[at]) | static_cast<std::size_t>(b[at + 1]) << 8 |
           static_cast<std::size_t>(b[at + 2]) << 16 | static_cast<std::size_t>(b[at + 3]) << 24;
  };
  return 40 + u32(8) + u32(28) + u32(12) + u32(16) + u32(32) + u32(20);
}

void FlipByteInPrivateBlob(const std::filesystem::path& file) {
  auto bytes = ReadAll(file);
  const std::size_t at = ExchangePrivateBlob(bytes) + 100;
  REQUIRE(at < bytes.size());
  bytes[at] ^= 0x01;
  std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  out.seekp(static_cast<std::streamoff>(at));
  out.put(static_cast<char>(bytes[at]));
}

bool HaveStrace() {
  return test::Run({"strace", "-V"}).exit_code == 0;
}

// Per object: how often its descriptor was size-queried and read, and how often it was opened
// and its bytes read. From `strace -f -y` output.
struct Reads {
  int xattr_size = 0;
  int xattr_read = 0;
  int open = 0;
  int read = 0;
};

std::map<std::string, Reads> CountReads(const std::string& trace) {
  std::map<std::string, Reads> out;
  std::istringstream lines(trace);
  std::string line;
  while (std::getline(lines, line)) {
    // `strace -f -o` starts each line with the pid ("1234 openat(...").
    if (line.rfind("[pid", 0) == 0) line = line.substr(line.find(']') + 2);
    line = line.substr(std::min(line.size(), line.find_first_not_of("0123456789 ")));
    const auto paren = line.find('(');
    if (paren == std::string::npos) continue;
    const std::string call = line.substr(0, paren);
    // The object: the path of a first argument that is a descriptor ("3</path>", -y), else
    // the first quoted argument (openat(AT_FDCWD</cwd>, "/path", ...)).
    std::string object;
    const bool fd_first =
        paren + 1 < line.size() && std::isdigit(static_cast<unsigned char>(line[paren + 1])) != 0;
    if (auto lt = line.find('<', paren); fd_first && lt != std::string::npos) {
      object = line.substr(lt + 1, line.find('>', lt) - lt - 1);
    } else if (auto q = line.find('"', paren); q != std::string::npos) {
      object = line.substr(q + 1, line.find('"', q + 1) - q - 1);
    }
    if (object.empty()) continue;
    Reads& r = out[object];
    if (call.find("getxattr") != std::string::npos) {
      (line.find(", NULL, 0)") != std::string::npos ? r.xattr_size : r.xattr_read)++;
    } else if (call == "open" || call == "openat") {
      r.open++;
    } else if (call == "read" || call == "pread64") {
      r.read++;
    }
  }
  return out;
}

std::map<std::string, Reads> TraceMkeys(const test::TempDir& dir, std::vector<std::string> args) {
  const std::string log = (dir.path() / "strace.log").string();
  std::vector<std::string> argv = {"strace", "-f", "-y",        "-e", "trace=%file,%desc",
                                   "-o",     log,  MKEYS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  test::Run(argv);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return CountReads(text.str());
}

// Every store directory and the key file: one descriptor read (and at most one size query);
// the key file opened and read once.
void CheckReadOnce(const std::map<std::string, Reads>& reads, const Machine& m,
                   const std::filesystem::path& key_file) {
  std::vector<std::filesystem::path> dirs;
  for (auto p = m.keys; p != m.dir.path() / "m"; p = p.parent_path()) dirs.push_back(p);
  REQUIRE(dirs.size() == 5);
  for (const auto& d : dirs) {
    INFO(d.string());
    REQUIRE(reads.count(d.string()) == 1);
    const Reads& r = reads.at(d.string());
    CHECK(r.xattr_read == 1);
    CHECK(r.xattr_size <= 1);
  }
  INFO(key_file.string());
  REQUIRE(reads.count(key_file.string()) == 1);
  const Reads& r = reads.at(key_file.string());
  CHECK(r.xattr_read == 1);
  CHECK(r.xattr_size <= 1);
  CHECK(r.open == 1);
  CHECK(r.read == 1);
}

}  // namespace

TEST_CASE("A flipped byte in the private-key blob fails diagnose and store open alike",
          "[cli][open-path]") {
  Machine m;
  const auto file = m.Create("Flipped");
  REQUIRE(Mkeys({"store", "open", m.root, "Flipped", "--as", kNs}).exit_code == 0);
  REQUIRE(Mkeys({"diagnose", m.root, "--as", kNs, "--container", "Flipped"}).exit_code == 0);
  FlipByteInPrivateBlob(file);

  auto open = Mkeys({"store", "open", m.root, "Flipped", "--as", kNs});
  CHECK(open.exit_code == 1);
  auto diag = Mkeys({"--json", "diagnose", m.root, "--as", kNs, "--container", "Flipped"});
  CHECK(diag.exit_code == 1);
  const auto doc = nlohmann::json::parse(diag.out);
  CHECK(doc["would_succeed"] == false);
  CHECK(doc["windows_code"] == "0x80090016");
  const std::string reason = doc["reason"];
  CHECK(reason ==
        "key file corrupt: exchange private key does not decrypt under the machine master key "
        "(wrong machine, renamed file or tampered bytes)");
  // store open says the same, after the Windows code.
  CHECK(open.err.find("NTE_BAD_KEYSET (0x80090016): " + reason) != std::string::npos);
  // The text output names the failing step; the corrupt-container finding (MK010) is part of it.
  auto text = Mkeys({"diagnose", m.root, "--as", kNs, "--container", "Flipped"});
  CHECK(text.exit_code == 1);
  CHECK(text.out.find("FAIL integrity") != std::string::npos);
  CHECK(text.out.find("MK010") != std::string::npos);  // corrupt container
}

TEST_CASE("Denied read: store open and diagnose give the one access sentence", "[cli][open-path]") {
  Machine m;
  REQUIRE(Mkeys({"store", "create", m.root, "Private", "--as", "SYSTEM"}).exit_code == 0);
  auto open = Mkeys({"store", "open", m.root, "Private", "--as", kNs});
  CHECK(open.exit_code == 1);
  auto diag = Mkeys({"--json", "diagnose", m.root, "--as", kNs, "--container", "Private"});
  CHECK(diag.exit_code == 1);
  const std::string reason = nlohmann::json::parse(diag.out)["reason"];
  CHECK(reason ==
        "read denied: no ACE grants NETWORK SERVICE read (lacks READ_DATA, READ_EA, "
        "READ_ATTRIBUTES, READ_CONTROL, SYNCHRONIZE; owner SYSTEM)");
  CHECK(open.err.find(reason) != std::string::npos);
}

TEST_CASE("diagnose and store open read each descriptor and the key file once",
          "[cli][open-path][strace]") {
  if (!HaveStrace()) {
    if (std::getenv("CI") != nullptr) FAIL("strace is not installed (scripts/install-deps.sh)");
    WARN("SKIPPED: strace is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  Machine m;
  const auto good = m.Create("Good");
  const auto flipped = m.Create("Flipped");
  FlipByteInPrivateBlob(flipped);
  REQUIRE(Mkeys({"store", "create", m.root, "Private", "--as", "SYSTEM"}).exit_code == 0);
  const auto name = Mkeys({"store", "name", "Private", "--root", m.root});
  const auto private_file = m.keys / name.out.substr(0, name.out.find_first_of("\r\n"));
  SECTION("diagnose - the open succeeds") {
    CheckReadOnce(TraceMkeys(m.dir, {"diagnose", m.root, "--as", kNs, "--container", "Good"}), m,
                  good);
  }
  SECTION("diagnose - the private key does not decrypt") {
    CheckReadOnce(TraceMkeys(m.dir, {"diagnose", m.root, "--as", kNs, "--container", "Flipped"}), m,
                  flipped);
  }
  SECTION("diagnose - read denied: the evidence and the planned fix come from one read") {
    CheckReadOnce(TraceMkeys(m.dir, {"diagnose", m.root, "--as", kNs, "--container", "Private"}), m,
                  private_file);
  }
  SECTION("store open") {
    CheckReadOnce(TraceMkeys(m.dir, {"store", "open", m.root, "Good", "--as", kNs}), m, good);
  }
}
