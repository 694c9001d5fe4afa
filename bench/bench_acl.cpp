// SPDX-License-Identifier: GPL-3.0-or-later
// B3: the acl library per operation, over the Windows-verified SDDL corpus
// (tests/data/windows-sddl/windows-sddl-bytes.tsv in the repository).
// Each iteration handles one case, cycling through the corpus, so "Time" is ns per operation.
// The key-file cases use the descriptors a MachineKeys file really carries.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/inheritance.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace {

namespace acl = mkeys::acl;

struct Corpus {
  std::vector<std::string> sddl;                   // every case that parses
  std::vector<acl::SecurityDescriptor> sds;        // parsed
  std::vector<std::vector<std::uint8_t>> bytes;    // Windows' bytes for the case
  std::vector<std::vector<std::uint8_t>> ntacl;    // the same as NTACL v1 blobs
  std::vector<acl::SecurityDescriptor> with_dacl;  // cases with a DACL (access check)
  std::string path;
  std::size_t skipped = 0;
};

std::vector<std::uint8_t> FromHex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

const Corpus& LoadCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    const auto dir = std::filesystem::path(MKEYS_SOURCE_DIR) / "tests" / "data";
    c.path = (dir / "windows-sddl" / "windows-sddl-bytes.tsv").lexically_normal().string();
    std::ifstream in(c.path);
    if (!in) {
      std::fprintf(stderr, "bench_acl: cannot read %s (part of the repository)\n", c.path.c_str());
      std::exit(3);
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto tab = line.find('\t');
      if (tab == std::string::npos) continue;
      std::string text = line.substr(0, tab);
      auto sd = acl::ParseSddl(text);
      if (!sd) {
        ++c.skipped;
        continue;
      }
      if (sd->dacl) c.with_dacl.push_back(*sd);
      c.ntacl.push_back(mkeys::keystore::EncodeNtaclV1(*sd));
      c.sds.push_back(std::move(*sd));
      c.bytes.push_back(FromHex(line.substr(tab + 1)));
      c.sddl.push_back(std::move(text));
    }
    std::fprintf(stderr, "bench_acl: %zu corpus cases from %s (%zu not parsed, skipped)\n",
                 c.sddl.size(), c.path.c_str(), c.skipped);
    return c;
  }();
  return corpus;
}

acl::SecurityDescriptor Parse(std::string_view sddl) {
  auto sd = acl::ParseSddl(sddl);
  if (!sd) {
    std::fprintf(stderr, "bench_acl: %s\n", sd.error().ToString().c_str());
    std::exit(3);
  }
  return std::move(*sd);
}

acl::Token TokenOf(std::string_view who) {
  auto t = acl::TokenFor(who);
  if (!t) {
    std::fprintf(stderr, "bench_acl: %s\n", t.error().ToString().c_str());
    std::exit(3);
  }
  return std::move(*t);
}

void BM_SddlParse(benchmark::State& state) {
  const auto& c = LoadCorpus();
  std::size_t i = 0;
  for (auto _ : state) {
    auto sd = acl::ParseSddl(c.sddl[i]);
    benchmark::DoNotOptimize(sd);
    if (++i == c.sddl.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SddlParse);

void BM_SddlFormat(benchmark::State& state) {
  const auto& c = LoadCorpus();
  std::size_t i = 0;
  for (auto _ : state) {
    auto text = acl::FormatSddl(c.sds[i]);
    benchmark::DoNotOptimize(text);
    if (++i == c.sds.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SddlFormat);

void BM_DescriptorEncode(benchmark::State& state) {
  const auto& c = LoadCorpus();
  std::size_t i = 0;
  for (auto _ : state) {
    auto bytes = c.sds[i].Encode();
    benchmark::DoNotOptimize(bytes);
    if (++i == c.sds.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DescriptorEncode);

void BM_DescriptorDecode(benchmark::State& state) {
  const auto& c = LoadCorpus();
  std::size_t i = 0;
  for (auto _ : state) {
    auto sd = acl::SecurityDescriptor::Decode(c.bytes[i]);
    benchmark::DoNotOptimize(sd);
    if (++i == c.bytes.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DescriptorDecode);

void BM_NtaclEncode(benchmark::State& state) {
  const auto& c = LoadCorpus();
  std::size_t i = 0;
  for (auto _ : state) {
    auto blob = mkeys::keystore::EncodeNtaclV1(c.sds[i]);
    benchmark::DoNotOptimize(blob);
    if (++i == c.sds.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NtaclEncode);

void BM_NtaclDecode(benchmark::State& state) {
  const auto& c = LoadCorpus();
  std::size_t i = 0;
  for (auto _ : state) {
    auto sd = mkeys::keystore::DecodeNtacl(c.ntacl[i]);
    benchmark::DoNotOptimize(sd);
    if (++i == c.ntacl.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NtaclDecode);

// The descriptor of a MachineKeys file, as an audit decodes it a million times.
void BM_KeyFileNtaclDecode(benchmark::State& state) {
  const auto blob =
      mkeys::keystore::EncodeNtaclV1(Parse("O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;NS)"));
  for (auto _ : state) {
    auto sd = mkeys::keystore::DecodeNtacl(blob);
    benchmark::DoNotOptimize(sd);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyFileNtaclDecode);

void BM_AccessCheckCorpus(benchmark::State& state) {
  const auto& c = LoadCorpus();
  const acl::Token token = TokenOf("NETWORK SERVICE");
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = acl::CheckAccess(c.with_dacl[i], token, acl::rights::kFileGenericRead);
    benchmark::DoNotOptimize(r);
    if (++i == c.with_dacl.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccessCheckCorpus);

void BM_AccessCheckKeyFile(benchmark::State& state) {
  const auto sd = Parse("O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;NS)");
  const acl::Token token = TokenOf("NETWORK SERVICE");
  for (auto _ : state) {
    auto r = acl::CheckAccess(sd, token, acl::rights::kFileGenericRead);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AccessCheckKeyFile);

// Inheritance: each corpus descriptor as the parent of a new file and of a new directory.
void BM_InheritCorpus(benchmark::State& state) {
  const auto& c = LoadCorpus();
  const acl::Token token = TokenOf("SYSTEM");
  acl::CreateOptions options;
  options.is_directory = state.range(0) != 0;
  std::size_t i = 0;
  for (auto _ : state) {
    auto sd = acl::InheritSecurityDescriptor(&c.sds[i], token, options);
    benchmark::DoNotOptimize(sd);
    if (++i == c.sds.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InheritCorpus)->Arg(0)->Arg(1)->ArgName("dir");

// A key file created in MachineKeys under ProgramData's chain.
void BM_InheritMachineKeysChild(benchmark::State& state) {
  const auto parent = Parse(mkeys::keystore::kProgramDataSddl);
  const acl::Token token = TokenOf("SYSTEM");
  for (auto _ : state) {
    auto sd = acl::InheritSecurityDescriptor(&parent, token);
    benchmark::DoNotOptimize(sd);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InheritMachineKeysChild);

}  // namespace

BENCHMARK_MAIN();
