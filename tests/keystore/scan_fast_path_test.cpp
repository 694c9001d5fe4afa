// SPDX-License-Identifier: GPL-3.0-or-later
// The allocation-free helpers a scan of a large store uses (ContainerHashTo/Matches,
// SplitContainerFileNameView, ContainerFileView::Parse) must agree exactly with the plain
// functions and with an independent MD5 of the lower-cased name.
#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <thread>
#include <vector>

#include "mkeys/core/text.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/container_name.hpp"

using namespace mkeys;
using namespace mkeys::keystore;

namespace {

// docs/formats.md's rule, spelled out with the one-shot API: MD5(lower(name) + NUL), four LE words.
std::string ReferenceHash(std::string_view name) {
  std::string bytes;
  for (char c : name)
    bytes.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  bytes.push_back('\0');
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), d, &len, EVP_md5(), nullptr) == 1);
  REQUIRE(len == 16u);
  std::string out;
  char buf[9];
  for (int w = 0; w < 4; ++w) {
    const unsigned v = d[4 * w] | (d[4 * w + 1] << 8) | (d[4 * w + 2] << 16) |
                       (static_cast<unsigned>(d[4 * w + 3]) << 24);
    std::snprintf(buf, sizeof buf, "%08x", v);
    out += buf;
  }
  return out;
}

std::string NameOfLength(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>("AbCdEfGh-{}._0129"[i % 17]));
  return s;
}

}  // namespace

TEST_CASE("ContainerHash agrees with MD5 of the lower-cased name at every chunk boundary",
          "[keystore][name][fast]") {
  CHECK(ReferenceHash("MyCoolContainer") == "52ab417621a9d74c73e3e0f1bc374e0a");
  for (std::size_t n :
       {0u, 1u, 15u, 54u, 55u, 56u, 63u, 64u, 255u, 256u, 257u, 511u, 512u, 513u, 5000u}) {
    const std::string name = NameOfLength(n);
    INFO("name length " << n);
    CHECK(ContainerHash(name) == ReferenceHash(name));
    char out[32];
    ContainerHashTo(name, out);
    CHECK(std::string(out, 32) == ReferenceHash(name));
  }
  // Every length up to five blocks, every byte value (a fixed pseudo-random sequence).
  std::uint32_t x = 12345;
  for (std::size_t n = 0; n <= 320; ++n) {
    std::string name;
    for (std::size_t i = 0; i < n; ++i) {
      x = x * 1103515245u + 12345u;
      name.push_back(static_cast<char>(x >> 16));
    }
    INFO("pseudo-random name of length " << n);
    CHECK(ContainerHash(name) == ReferenceHash(name));
  }
  // Bytes outside ASCII are hashed as they are (the C locale lower-cases ASCII only).
  const std::string high =
      "Schl\xc3\xbc"
      "ssel\xff";
  CHECK(ContainerHash(high) == ReferenceHash(high));
}

TEST_CASE("ContainerHashMatches compares case-insensitively and rejects other lengths",
          "[keystore][name][fast]") {
  CHECK(ContainerHashMatches("MyCoolContainer", "52ab417621a9d74c73e3e0f1bc374e0a"));
  CHECK(ContainerHashMatches("mycoolcontainer", "52AB417621A9D74C73E3E0F1BC374E0A"));
  CHECK_FALSE(ContainerHashMatches("MyCoolContainer", "52ab417621a9d74c73e3e0f1bc374e0b"));
  CHECK_FALSE(ContainerHashMatches("MyCoolContainer", "52ab417621a9d74c73e3e0f1bc374e0"));
  CHECK_FALSE(ContainerHashMatches("iisConfigurationKey", "52ab417621a9d74c73e3e0f1bc374e0a"));
  CHECK(ContainerHashMatches("iisConfigurationKey", "6de9cb26d2b98c01ec4e9e8b34824aa2"));
}

TEST_CASE("ContainerHash gives the same digests on many threads at once",
          "[keystore][name][fast]") {
  std::vector<std::string> names;
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) {
    names.push_back("Container-" + std::to_string(i) +
                    NameOfLength(static_cast<std::size_t>(i * 3)));
    expected.push_back(ReferenceHash(names.back()));
  }
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (std::size_t i = 0; i < names.size(); ++i) {
          if (ContainerHash(names[i]) != expected[i]) ++wrong[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == std::vector<int>(4, 0));
}

TEST_CASE("SplitContainerFileNameView accepts exactly what SplitContainerFileName accepts",
          "[keystore][name][fast]") {
  const std::string good = "52AB417621a9d74c73e3e0f1bc374e0a_C49C7513-8b86-4d0e-90bf-4805804a9318";
  auto view = SplitContainerFileNameView(good);
  REQUIRE(view);
  CHECK(view->hash == "52AB417621a9d74c73e3e0f1bc374e0a");
  CHECK(view->machine_guid == "C49C7513-8b86-4d0e-90bf-4805804a9318");
  CHECK(text::EqualsIgnoreAsciiCase(view->machine_guid, "c49c7513-8b86-4d0e-90bf-4805804a9318"));
  CHECK_FALSE(
      text::EqualsIgnoreAsciiCase(view->machine_guid, "c49c7513-8b86-4d0e-90bf-4805804a9319"));
  auto parts = SplitContainerFileName(good);
  REQUIRE(parts);
  CHECK(parts->hash == "52ab417621a9d74c73e3e0f1bc374e0a");
  CHECK(parts->machine_guid == "c49c7513-8b86-4d0e-90bf-4805804a9318");
  // Every single-character corruption: both reject or both accept.
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char c : {'g', '-', '_', 'F', '0', '{', '\0'}) {
      std::string bad = good;
      bad[i] = c;
      INFO("position " << i << " character " << static_cast<int>(c));
      CHECK(SplitContainerFileNameView(bad).has_value() == SplitContainerFileName(bad).has_value());
    }
  }
  CHECK_FALSE(SplitContainerFileNameView("desktop.ini"));
  CHECK_FALSE(SplitContainerFileNameView(good + "x"));
  CHECK_FALSE(SplitContainerFileNameView(good.substr(1)));
  CHECK_FALSE(SplitContainerFileNameView(
      "52ab417621a9d74c73e3e0f1bc374e0a_{c49c7513-8b86-4d0e-90bf-4805804a93}"));
}

TEST_CASE("ContainerFileView::Parse fails where ContainerFile::Parse fails, at the same offset",
          "[keystore][container][fast]") {
  const auto bytes = MakeSyntheticCapiContainerFile("iisConfigurationKey", 2048, 1024);
  auto view = ContainerFileView::Parse(bytes);
  REQUIRE(view);
  auto file = ContainerFile::Parse(bytes);
  REQUIRE(file);
  CHECK(view->name == "iisConfigurationKey");
  CHECK(view->name == file->name);
  CHECK(view->format == ContainerFormat::kCapi);
  REQUIRE(view->exchange);
  REQUIRE(view->signature);
  CHECK(view->exchange->info.bits == 2048u);
  CHECK(view->signature->info.bits == 1024u);
  CHECK(std::vector<std::uint8_t>(view->exchange->private_blob.begin(),
                                  view->exchange->private_blob.end()) ==
        file->exchange->private_blob);
  // Views point into the input: nothing was copied.
  CHECK(view->hash.data() >= bytes.data());
  CHECK(view->hash.data() < bytes.data() + bytes.size());
  // Every truncation and a damaged byte at every header/name position.
  auto same = [](std::span<const std::uint8_t> b) {
    auto v = ContainerFileView::Parse(b);
    auto f = ContainerFile::Parse(b);
    REQUIRE(static_cast<bool>(v) == static_cast<bool>(f));
    if (!v) {
      CHECK(v.error().message() == f.error().message());
      CHECK(v.error().position() == f.error().position());
    }
  };
  for (std::size_t n = 0; n < bytes.size(); n += (n < 120 ? 1 : 37))
    same(std::span(bytes).first(n));
  for (std::size_t i = 0; i < 80; ++i) {
    auto damaged = bytes;
    damaged[i] = static_cast<std::uint8_t>(damaged[i] ^ 0x5a);
    INFO("damaged byte " << i);
    same(damaged);
  }
}
