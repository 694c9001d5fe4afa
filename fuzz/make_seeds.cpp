// SPDX-License-Identifier: GPL-3.0-or-later
// Writes the committed seed corpora, fuzz/corpus/<target>/<name>, from mkeys' own encoders:
// every seed is a valid input (checked here by parsing it back) so that the fuzzers start from
// the real formats. Not part of CI; rerun it when a format changes:
//
//   cmake --build build/fuzz --target make_fuzz_seeds && build/fuzz/fuzz/make_fuzz_seeds
//   fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/acl/token.hpp"
#include "mkeys/arrayjoin/join_token.hpp"
#include "mkeys/arrayjoin/protocol.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/default_descriptors.hpp"
#include "mkeys/keystore/keys.hpp"
#include "mkeys/keystore/machine_root.hpp"
#include "mkeys/keystore/security_store.hpp"
#include "mkeys/repair/baseline.hpp"
#include "mkeys/repair/journal.hpp"

namespace {

namespace fs = std::filesystem;
namespace acl = mkeys::acl;
namespace ks = mkeys::keystore;
namespace aj = mkeys::arrayjoin;
namespace rp = mkeys::repair;

fs::path g_out;
int g_failures = 0;

void Require(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "make_fuzz_seeds: %s\n", what.c_str());
    ++g_failures;
  }
}

void Write(std::string_view target, std::string_view name, std::span<const std::uint8_t> bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  Require(static_cast<bool>(out), "cannot write " + (dir / name).string());
}

void Write(std::string_view target, std::string_view name, std::string_view text) {
  Write(target, name,
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                      text.size()));
}

constexpr std::string_view kKeyFileSddl = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;GR;;;NS)";
constexpr std::string_view kAuditedSddl =
    "O:BAG:SYD:PAI(A;;FA;;;SY)(D;;WD;;;WD)(A;OICI;0x12019f;;;S-1-5-80-956008885-3418522649-"
    "1831038044-1853292631-2271478464)S:AI(AU;SAFA;FA;;;WD)";

std::vector<acl::SecurityDescriptor> Descriptors() {
  std::vector<acl::SecurityDescriptor> out;
  for (std::string_view sddl : {ks::kProgramDataSddl, ks::kInheritedFromProgramDataSddl,
                                ks::kMachineKeysSddl, kKeyFileSddl, kAuditedSddl}) {
    auto sd = acl::ParseSddl(sddl);
    Require(sd.ok(), "SDDL does not parse: " + std::string(sddl));
    if (sd) out.push_back(*sd);
  }
  return out;
}

void AclSeeds(const std::vector<acl::SecurityDescriptor>& sds) {
  int i = 0;
  for (const auto& sd : sds) {
    Write("sddl", "sd-" + std::to_string(i), acl::FormatSddl(sd));
    Write("security_descriptor", "sd-" + std::to_string(i), sd.Encode());
    ++i;
  }
  i = 0;
  for (std::string_view text : {"S-1-5-20", "S-1-5-21-3623811015-3361044348-30300820-1013",
                                "S-1-0x123456789ABC-7", "BA", "NT AUTHORITY\\NETWORK SERVICE"}) {
    Write("sid", "text-" + std::to_string(i++), text);
  }
  auto sid = acl::Sid::Parse("S-1-5-21-3623811015-3361044348-30300820-1013");
  Require(sid.ok(), "SID does not parse");
  if (sid) Write("sid", "bytes-0", sid->ToBytes());

  std::vector<acl::IcaclsSaveEntry> entries;
  for (const auto& d : ks::kDefaultDirectories) {
    auto sd = acl::ParseSddl(d.sddl);
    if (!sd) continue;
    std::string path(d.relative_path);
    for (char& c : path) c = c == '/' ? '\\' : c;
    std::string sddl = acl::FormatSddl(*sd);
    sddl = sddl.substr(sddl.find("D:"));
    entries.push_back({path, sddl});
  }
  const auto save = acl::FormatIcaclsSave(entries);
  Require(acl::ParseIcaclsSave(save).ok(), "our icacls save file does not parse");
  Write("icacls_save", "defaults", save);
  Write("icacls_save", "grant", "*S-1-5-20:(OI)(CI)(RX,W)");
}

void KeystoreSeeds(const std::vector<acl::SecurityDescriptor>& sds) {
  int i = 0;
  for (const auto& sd : sds) {
    const auto blob = ks::EncodeNtaclV1(sd);
    Require(ks::DecodeNtacl(blob).ok(), "our NTACL blob does not decode");
    Write("ntacl", "ntacl-v1-" + std::to_string(i), blob);
    Write("ntacl", "raw-" + std::to_string(i), sd.Encode());
    ++i;
  }

  // CAPI containers: a real RSA-2048 exchange key (the smallest mkeys generates), a synthetic
  // one with both slots, and mkeys' own format with a sealed EC key.
  auto rsa = ks::PrivateKey::Generate({ks::KeyAlgorithm::kRsa, 2048});
  Require(rsa.ok(), "cannot generate an RSA key");
  if (rsa) {
    auto capi = ks::MakeCapiContainerFile("IIS WASKey", nullptr, &*rsa);
    Require(capi.ok() && ks::ContainerFile::Parse(*capi).ok(), "our CAPI container does not parse");
    if (capi) Write("container_file", "capi-rsa2048", *capi);
  }
  const auto synthetic = ks::MakeSyntheticCapiContainerFile("TMG-Seed-Container", 1024, 512);
  Require(ks::ContainerFile::Parse(synthetic).ok(), "synthetic container does not parse");
  Write("container_file", "capi-synthetic", synthetic);

  auto ec = ks::PrivateKey::Generate({ks::KeyAlgorithm::kEcP256, 256});
  Require(ec.ok(), "cannot generate an EC key");
  if (ec) {
    const mkeys::SecretBytes master(std::vector<std::uint8_t>(32, 0x5a));
    const std::string unique = "0123456789abcdef0123456789abcdef_seed";
    auto pkcs8 = ec->ToPkcs8();
    Require(pkcs8.ok(), "cannot export the EC key");
    if (pkcs8) {
      auto sealed = ks::SealPrivatePart(master, unique, ks::SealedKind::kPkcs8, *pkcs8);
      Require(sealed.ok(), "cannot seal");
      if (sealed) {
        ks::ContainerFile file;
        file.format = ks::ContainerFormat::kMkeys;
        file.version = ks::kMkeysContainerVersion;
        file.name = unique;
        file.signature =
            ks::KeyPairRecord{ec->PublicBlob(ks::KeySlot::kSignature), *sealed, {}, {}};
        const auto bytes = file.Serialize();
        Require(ks::ContainerFile::Parse(bytes).ok(), "our mkeys container does not parse");
        Write("container_file", "mkeys-ec", bytes);
      }
    }
  }

  // Facts files as `machine init` writes them, with and without the optional members.
  nlohmann::json privileges = nlohmann::json::array();
  for (const auto& p : acl::DefaultPrivilegeAssignments()) {
    nlohmann::json holders = nlohmann::json::array();
    for (const auto& sid : p.holders) holders.push_back(sid.ToString());
    privileges.push_back({{"privilege", p.privilege}, {"holders", holders}});
  }
  const nlohmann::json full = {{"format_version", ks::kMachineFactsFormatVersion},
                               {"machine_guid", "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"},
                               {"privileges", privileges},
                               {"master_key_path", ks::kDefaultMasterKeyPath},
                               {"ntacl_attribute", ks::kDefaultNtaclXattr}};
  const nlohmann::json minimal = {{"format_version", ks::kMachineFactsFormatVersion},
                                  {"machine_guid", "{6F1C2D3E-4B5A-4C7D-8E9F-0A1B2C3D4E5F}"}};
  i = 0;
  for (const auto& doc : {full, minimal}) {
    const std::string text = doc.dump(2) + "\n";
    Require(ks::ParseMachineFacts(text).ok(), "our facts file does not parse: " + text);
    Write("machine_facts", "facts-" + std::to_string(i++), text);
  }
}

void RepairSeeds(const std::vector<acl::SecurityDescriptor>& sds) {
  const nlohmann::json baseline = {
      {"services",
       {{{"identity", "NT AUTHORITY\\NETWORK SERVICE"}, {"containers", "TMG*"}},
        {{"identity", "IIS APPPOOL\\DefaultAppPool"}, {"containers", "iis?config*"}}}},
      {"accept",
       {{{"rule", "MK006"}, {"object", "MachineKeys/6de9cb26*"}, {"reason", "vendor agent"}}}},
      {"version", 1},
      {"thresholds", {{"max_containers", 20000}}},
      {"expected_owners", {"S-1-5-21-1-2-3-500", "BUILTIN\\Administrators"}}};
  const std::string text = baseline.dump(2) + "\n";
  auto parsed = rp::ParseBaseline(text);
  Require(parsed.ok(),
          "our baseline does not parse: " + (parsed ? std::string() : parsed.error().message()));
  Write("baseline", "baseline-0", text);
  Write("baseline", "service-decl", "NT AUTHORITY\\NETWORK SERVICE=TMG*");

  rp::Journal journal;
  journal.header.root = "/srv/machines/web01";
  journal.header.machine_guid = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";
  journal.header.attribute = std::string(ks::kDefaultNtaclXattr);
  journal.header.ntfs = false;
  journal.header.planned = 2;
  journal.header.created = "2025-01-02T03:04:05Z";
  journal.entries.push_back({"ProgramData/Microsoft/Crypto/RSA/MachineKeys/a_b",
                             ks::EncodeNtaclV1(sds.at(3)), ks::EncodeNtaclV1(sds.at(4))});
  journal.entries.push_back({"ProgramData/Microsoft/Crypto/RSA/MachineKeys",
                             ks::EncodeNtaclV1(sds.at(0)), ks::EncodeNtaclV1(sds.at(2))});
  const auto unsealed = rp::EncodeJournal(journal);
  Require(rp::DecodeJournal(unsealed).ok(), "our journal does not decode");
  Write("journal", "planned", unsealed);
  journal.sealed = true;
  journal.completed = true;
  const auto done = rp::EncodeJournal(journal);
  Require(rp::DecodeJournal(done).ok(), "our completed journal does not decode");
  Write("journal", "completed", done);
  // Cut inside the last record: a journal whose writer was killed.
  Write("journal", "torn", std::span<const std::uint8_t>(done).first(done.size() - 5));
  // A disk image's journal: the image's identity and the partition repaired.
  journal.header.root = "/srv/images/win2022.img";
  journal.header.root_identity = "2049:131075";
  journal.header.partition = rp::JournalPartition{2, 34603008, 32505856};
  const auto image = rp::EncodeJournal(journal);
  Require(rp::DecodeJournal(image).ok(), "our image journal does not decode");
  Write("journal", "image_partition", image);
}

std::vector<std::uint8_t> Bytes(const aj::Frame& frame) {
  auto bytes = aj::EncodeFrame(frame);
  Require(bytes.ok() && aj::DecodeFrame(*bytes).ok(), "our frame does not decode");
  return bytes ? *bytes : std::vector<std::uint8_t>{};
}

std::vector<std::uint8_t> Concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void ArrayjoinSeeds() {
  std::array<std::uint8_t, 32> wrap_key{};
  for (std::size_t i = 0; i < wrap_key.size(); ++i) wrap_key[i] = static_cast<std::uint8_t>(i);
  const aj::Digest pin = aj::Sha256(std::string_view("manager public key"));
  const aj::JoinToken token = aj::JoinToken::Generate(pin);

  aj::JoinHello hello;
  hello.token_id = token.id();
  hello.token_secret = token.secret();
  hello.proof = aj::Sha256(std::string_view("proof"));
  hello.member = "web01.example.org";
  hello.wrap_key = wrap_key;
  hello.member_key_der.assign(91, 0x30);
  const auto hello_bytes = Bytes(aj::EncodeHello(hello));
  const auto confirm_bytes = Bytes(aj::EncodeConfirm({aj::Sha256(std::string_view("check"))}));
  const auto error_bytes =
      Bytes(aj::EncodeError({"proof-mismatch", "the proof does not match", "check the token"}));
  aj::MemberRequest request{"sync", 3, wrap_key};
  const auto request_bytes = Bytes(aj::EncodeMemberRequest(request));
  Write("frame_server", "hello-confirm", Concat({hello_bytes, confirm_bytes}));
  Write("frame_server", "hello", hello_bytes);
  Write("frame_server", "error", error_bytes);
  Write("frame_server", "member-request", request_bytes);

  aj::OfferItem item;
  item.container = "TMG-array-key";
  item.kind = std::string(aj::kItemConfig);
  item.version = 3;
  item.wrapped.ephemeral_public = wrap_key;
  item.wrapped.ciphertext.assign(48, 0xab);
  aj::JoinOffer offer{"tmg-array",
                      "0123456789abcdef",
                      3,
                      "web01.example.org",
                      {item},
                      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                      "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"};
  const auto offer_bytes = Bytes(aj::EncodeOffer(offer));
  const auto done_bytes = Bytes(aj::EncodeDone({"web01.example.org", 1735787045}));
  aj::MemberReply reply{true, 4, {item}};
  Write("frame_client", "offer-done", Concat({offer_bytes, done_bytes}));
  Write("frame_client", "error", error_bytes);
  Write("frame_client", "member-reply", Bytes(aj::EncodeMemberReply(reply)));
  const auto revealed = token.Reveal();
  const auto chars = revealed.RevealSecret();
  Require(aj::JoinToken::Parse(
              std::string_view(reinterpret_cast<const char*>(chars.data()), chars.size()))
              .ok(),
          "our join token does not parse");
  Write("frame_client", "token", chars);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR (fuzz/corpus)\n");
    return 2;
  }
  g_out = argv[1];
  const auto sds = Descriptors();
  if (sds.size() != 5) return 1;
  AclSeeds(sds);
  KeystoreSeeds(sds);
  RepairSeeds(sds);
  ArrayjoinSeeds();
  return g_failures == 0 ? 0 : 1;
}
