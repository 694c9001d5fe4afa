// SPDX-License-Identifier: GPL-3.0-or-later
// Putting the array keys into the member's store: the preflight, staged installation verified
// as the service identity, and rollback.
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "internal/member_internal.hpp"
#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/ace.hpp"
#include "mkeys/arrayjoin/crypto.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/cert_store.hpp"
#include "mkeys/keystore/machine_policy.hpp"
#include "mkeys/repair/diagnose.hpp"

namespace mkeys::arrayjoin::internal {
namespace {

namespace fs = std::filesystem;

// The member certificate's key-provider info: the member key is a CAPI container (signature).
constexpr std::string_view kCapiProvider = "Microsoft Enhanced RSA and AES Cryptographic Provider";
constexpr std::uint32_t kProvRsaAes = 24;
constexpr std::uint32_t kAtSignature = 2;

// The containers every array installs: what the repair command must cover.
constexpr std::string_view kArrayContainerGlob = "mkeys-array-*";

// One argument as a POSIX shell reads it back unchanged.
std::string ShellQuote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789_./:=@%+,-") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& arg : argv) {
    if (!cmd.empty()) cmd += ' ';
    cmd += ShellQuote(arg);
  }
  return cmd;
}

std::string DiagnoseCommand(const keystore::MachineRoot& machine, std::string_view identity) {
  return CommandLine({"mkeys", "diagnose", machine.root().string(), "--as", std::string(identity),
                      "--container", "mkeys-array-NAME-rsa-v1"});
}

Error PreflightRefusal(const keystore::MachineRoot& machine, std::string_view identity,
                       const repair::Diagnosis& d) {
  std::string text = "preflight: " + std::string(identity) +
                     " would not be able to open the array keys: " + d.reason;
  if (!d.windows_error.empty()) text += " [" + d.windows_error + "]";
  if (!d.repair_command.empty()) {
    text += ". Fix: " + CommandLine(d.repair_command);
  } else {
    text += ". No descriptor change fixes it";
  }
  for (const auto& fix : d.manual_fixes) text += ". " + fix;
  text += ". Then join again (diagnose one container: " + DiagnoseCommand(machine, identity) + ")";
  return Error(ErrorCode::kAccessDenied, text)
      .WithWindowsCode(d.windows_code != 0 ? d.windows_code : keystore::kNteBadKeyset);
}

// A probe container, staged exactly as the join will stage the array keys, then discarded.
Result<void> ProbeStaging(keystore::MachineRoot& machine, const acl::Token& installer,
                          const acl::Token& service, std::string_view identity) {
  const std::string hint = "see " + DiagnoseCommand(machine, identity);
  std::uint8_t rnd[8];
  RAND_bytes(rnd, sizeof rnd);
  const std::string probe = "mkeys-array-preflight-" + HexEncode(rnd);
  keystore::KeyStore store(machine);
  keystore::CreateOptions options;
  options.material = keystore::KeyMaterial{};
  options.material->symmetric = SecretBytes::Random(32);
  options.grants.push_back(acl::AllowAce(service.user(), acl::rights::kFileGenericRead));
  auto staged = store.CreateStaged(probe, installer, options);
  if (!staged) {
    return Error(ErrorCode::kAccessDenied,
                 "preflight: containers cannot be created in MachineKeys as " +
                     std::string(kInstallerIdentity) + ": " + staged.error().message() + "; " +
                     hint)
        .WithWindowsCode(staged.error().windows_code().value_or(keystore::kNteBadKeyset));
  }
  auto check = store.CheckStaged(*staged, service);
  const auto sd = staged->descriptor();
  store.Discard(std::move(*staged));
  if (!check) return std::move(check).error();
  if (!check->allowed) {
    return Error(ErrorCode::kAccessDenied, "preflight: " + std::string(identity) +
                                               " could not read a container the join installs: " +
                                               check->Explain(service, sd) + "; " + hint)
        .WithWindowsCode(keystore::kNteBadKeyset);
  }
  return Ok();
}

Result<keystore::KeyMaterial> MaterialFor(const OfferItem& item, const SecretBytes& plain) {
  keystore::KeyMaterial material;
  if (item.kind == kItemRsa) {
    MKEYS_ASSIGN_OR_RETURN(auto key, keystore::PrivateKey::FromPkcs8(plain));
    material.exchange = std::move(key);
  } else {
    if (plain.size() != 32) {
      return Error(ErrorCode::kCorrupt, "the config key is not 256 bits").On(item.container);
    }
    material.symmetric = plain;
  }
  return material;
}

Result<keystore::StagedContainer> StageOne(keystore::KeyStore& store, const acl::Token& installer,
                                           const std::string& name, keystore::CreateOptions options,
                                           Journal& journal) {
  MKEYS_ASSIGN_OR_RETURN(auto s, store.CreateStaged(name, installer, options));
  journal.staging.push_back(s.staging_path().string());
  MKEYS_TRY(journal.Save());
  return s;
}

Result<void> CheckStagedReadable(keystore::KeyStore& store, const acl::Token& service,
                                 std::string_view identity,
                                 const std::vector<keystore::StagedContainer>& staged,
                                 std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    MKEYS_ASSIGN_OR_RETURN(auto check, store.CheckStaged(staged[i], service));
    if (!check.allowed) {
      return Error(ErrorCode::kAccessDenied, std::string(identity) +
                                                 " could not read the staged container: " +
                                                 check.Explain(service, staged[i].descriptor()))
          .On(staged[i].name())
          .WithWindowsCode(keystore::kNteBadKeyset);
    }
  }
  return Ok();
}

}  // namespace

void RollBack(keystore::KeyStore& store, const acl::Token& installer, const Journal& journal) {
  for (const auto& name : journal.containers) {
    std::error_code ec;
    if (fs::exists(store.PathFor(name), ec)) {
      if (auto r = store.Delete(name, installer); !r) {
        Logger("arrayjoin")->warn("rollback: cannot remove {}: {}", name, r.error().ToString());
        fs::remove(store.PathFor(name), ec);
      }
    }
  }
  for (const auto& staged : journal.staging) {
    std::error_code ec;
    fs::remove(staged, ec);
  }
  // The certificates whose keys went (the member certificate): the journal lies in
  // ROOT/mkeys-array/.
  const fs::path root = journal.path.parent_path().parent_path();
  for (const auto& name : journal.containers) {
    if (auto r = keystore::RemoveMachineCertificatesOfKey(root, name); !r) {
      Logger("arrayjoin")
          ->warn("rollback: cannot remove the certificate of {}: {}", name, r.error().ToString());
    }
  }
  std::error_code ec;
  fs::remove(journal.path, ec);
}

Result<std::string> InstallMemberCertificate(keystore::MachineRoot& machine,
                                             const acl::Token& service,
                                             std::string_view service_identity,
                                             std::string_view member_cert_pem,
                                             std::string_view member_key_name) {
  if (machine.kind() != keystore::RootKind::kModel) return std::string();
  MKEYS_ASSIGN_OR_RETURN(auto x509, CertFromPem(member_cert_pem));
  unsigned char* der = nullptr;
  const int len = i2d_X509(x509.get(), &der);
  if (len <= 0) return Error(ErrorCode::kParse, "the member certificate does not encode");
  const std::vector<std::uint8_t> bytes(der, der + len);
  OPENSSL_free(der);
  // A re-join brings a new certificate for the same key: the old one goes.
  MKEYS_TRY(keystore::RemoveMachineCertificatesOfKey(machine.root(), member_key_name));
  keystore::KeyProvInfo info;
  info.container = std::string(member_key_name);
  info.provider = std::string(kCapiProvider);
  info.provider_type = kProvRsaAes;
  info.key_spec = kAtSignature;
  const auto hive =
      keystore::FindHiveFile(machine.root(), keystore::HiveKind::kSoftware)
          .value_or(machine.root() / keystore::HiveRelativePath(keystore::HiveKind::kSoftware));
  MKEYS_ASSIGN_OR_RETURN(
      auto thumbprint, keystore::AddMachineCertificate(hive, machine.machine_guid(), bytes, info));
  // The key behind it must open as the service (a member key from before this grant gets it).
  MKEYS_ASSIGN_OR_RETURN(auto cert, keystore::FindCertificate(machine, thumbprint, ""));
  MKEYS_ASSIGN_OR_RETURN(auto loc, keystore::LocateCertificateKey(machine, cert));
  if (!loc.on_disk) return Error(ErrorCode::kCorrupt, loc.reason).On(thumbprint);
  const fs::path key = loc.target->directories.back() / loc.target->file_name;
  MKEYS_ASSIGN_OR_RETURN(auto sd, machine.security().Read(key));
  if (!acl::CheckAccess(sd, service, keystore::kOpenAccess).allowed && sd.dacl) {
    auto& aces = sd.dacl->aces;  // after the explicit ACEs, before any inherited one
    auto at = aces.begin();
    while (at != aces.end() && !at->IsInherited()) ++at;
    aces.insert(at, acl::AllowAce(service.user(), acl::rights::kFileGenericRead));
    MKEYS_TRY(machine.writable_security().Write(key, sd));
  }
  repair::DiagnoseRequest request;
  request.identity = std::string(service_identity);
  request.target = *loc.target;
  MKEYS_ASSIGN_OR_RETURN(auto diagnosis, repair::Diagnose(machine, request));
  if (!diagnosis.would_succeed) {
    return Error(ErrorCode::kAccessDenied,
                 std::string(service_identity) +
                     " could not read the key of the member certificate: " + diagnosis.reason)
        .On(thumbprint)
        .WithWindowsCode(keystore::kNteBadKeyset);
  }
  return thumbprint;
}

Result<void> PreflightOn(keystore::MachineRoot& machine, const acl::Token& installer,
                         const acl::Token& service, std::string_view service_identity,
                         const std::function<void(const repair::Diagnosis&)>& on_diagnosis) {
  // The diagnosis (repair): traverse and ADD_FILE for the installer, traverse and read of a
  // container with the join's descriptor for the service. Read-only. Its fix covers every
  // array container, not a probe.
  repair::PreflightOptions preflight;
  preflight.installer_identity = std::string(kInstallerIdentity);
  preflight.container_descriptor = keystore::CspContainerDescriptor(
      installer, {acl::AllowAce(service.user(), acl::rights::kFileGenericRead)});
  preflight.container_name = std::string(kArrayContainerGlob);
  MKEYS_ASSIGN_OR_RETURN(auto diagnosis, repair::PreflightForService(machine, service, preflight));
  if (!diagnosis.would_succeed) {
    if (on_diagnosis) on_diagnosis(diagnosis);
    return PreflightRefusal(machine, service_identity, diagnosis);
  }
  return ProbeStaging(machine, installer, service, service_identity);
}

Result<std::vector<std::string>> InstallVerified(
    keystore::MachineRoot& machine, const acl::Token& installer, const acl::Token& service,
    std::string_view service_identity, const ItemSecrets& items,
    std::optional<keystore::KeyMaterial> member_key, std::string_view member_key_name,
    Journal& journal, const std::function<void(JoinStep, std::string)>& progress) {
  keystore::KeyStore store(machine);
  std::vector<keystore::StagedContainer> staged;
  std::vector<std::string> names;
  for (const auto& [item, plain] : items) names.push_back(item.container);
  if (member_key) names.emplace_back(member_key_name);
  journal.containers = names;
  MKEYS_TRY(journal.Save());
  FaultPoint("member", "before-install");
  for (const auto& [item, plain] : items) {
    keystore::CreateOptions options;
    MKEYS_ASSIGN_OR_RETURN(options.material, MaterialFor(item, plain));
    options.grants.push_back(acl::AllowAce(service.user(), acl::rights::kFileGenericRead));
    MKEYS_ASSIGN_OR_RETURN(auto s,
                           StageOne(store, installer, item.container, std::move(options), journal));
    staged.push_back(std::move(s));
  }
  if (member_key) {
    keystore::CreateOptions options;
    options.material = std::move(*member_key);
    // The key of the member's array certificate: the service reads it, as TMG's array did.
    options.grants.push_back(acl::AllowAce(service.user(), acl::rights::kFileGenericRead));
    MKEYS_ASSIGN_OR_RETURN(auto s, StageOne(store, installer, std::string(member_key_name),
                                            std::move(options), journal));
    staged.push_back(std::move(s));
  }
  progress(JoinStep::kInstall, std::to_string(staged.size()) +
                                   " container(s) staged, read granted to " +
                                   std::string(service_identity));
  FaultPoint("member", "after-install");
  MKEYS_TRY(CheckStagedReadable(store, service, service_identity, staged, items.size()));
  FaultPoint("member", "before-rename");
  for (auto& s : staged) {
    MKEYS_ASSIGN_OR_RETURN(auto summary, store.Commit(std::move(s)));
    (void)summary;
  }
  staged.clear();
  journal.state = "committed";
  MKEYS_TRY(journal.Save());
  FaultPoint("member", "after-rename");
  for (const auto& [item, plain] : items) {
    // The real proof: CryptAcquireContext as the service identity succeeds.
    MKEYS_ASSIGN_OR_RETURN(auto opened, store.Open(item.container, service));
    (void)opened;
  }
  progress(JoinStep::kVerify, "each container opens as " + std::string(service_identity));
  return names;
}

}  // namespace mkeys::arrayjoin::internal
