// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys array manager add ROOT --registry ... --array A`, `manager approve|deny`, and
// `manager add ROOT --complete`: a manager on another machine, added by approval, the registry
// key wrapped to the new manager's X25519 key (mkeys/arrayjoin/manager_approval.hpp).
#include <openssl/rand.h>

#include <cctype>

#include "internal/etcd_managers.hpp"
#include "mkeys/arrayjoin/fault.hpp"
#include "mkeys/arrayjoin/manager_approval.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::arrayjoin {
namespace {

using internal::EtcdRegistry;

// The store of `root`, opened as SYSTEM (as every array container is).
struct Store {
  keystore::MachineRoot machine;
  acl::Token system;
  std::optional<keystore::KeyStore> store;  // refers to `machine`
};

Result<std::unique_ptr<Store>> OpenStore(const std::filesystem::path& root) {
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  MKEYS_ASSIGN_OR_RETURN(auto system, machine.TokenFor(kInstallerIdentity));
  auto out = std::unique_ptr<Store>(new Store{std::move(machine), std::move(system), {}});
  out->store.emplace(out->machine);
  return out;
}

void DeleteContainers(Store& s, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (auto r = s.store->Delete(name, s.system); !r) {
      Logger("arrayjoin")
          ->warn("cannot remove container {} while undoing: {}", name, r.error().ToString());
    }
  }
}

Result<void> CreateSecretContainer(Store& s, const std::string& name, const SecretBytes& bytes) {
  keystore::KeyMaterial material;
  material.symmetric = bytes;
  keystore::CreateOptions options;
  options.material = std::move(material);
  MKEYS_ASSIGN_OR_RETURN(auto created, s.store->Create(name, s.system, options));
  (void)created;
  return Ok();
}

// "sha256:ab12-..." in any case, with or without the prefix and separators -> 64 hex digits.
Result<std::string> NormalizeFingerprint(std::string_view text,
                                         std::string_view option = "--fingerprint",
                                         std::string_view what =
                                             "the request's fingerprint as "
                                             "'mkeys array manager add' "
                                             "printed it") {
  std::string out;
  std::string_view rest = text;
  if (rest.size() >= 7) {
    std::string head(rest.substr(0, 7));
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head == "sha256:") rest.remove_prefix(7);
  }
  for (char c : rest) {
    if (c == '-' || c == ':' || c == ' ') continue;
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isxdigit(static_cast<unsigned char>(l))) {
      return Error(ErrorCode::kInvalidArgument, std::string(option) + " takes " +
                                                    std::string(what) +
                                                    " (sha256: and 64 hex digits)")
          .On(std::string(text));
    }
    out += l;
  }
  if (out.size() != 64) {
    return Error(ErrorCode::kInvalidArgument, std::string(option) +
                                                  " must have 64 hex digits (SHA-256); it has " +
                                                  std::to_string(out.size()))
        .On(std::string(text));
  }
  return out;
}

Result<void> CheckRequestId(std::string_view id) {
  if (id.size() != 16 || id.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "a request id is 16 hex digits ('mkeys array manager list ROOT' lists them)")
        .On(std::string(id));
  }
  return Ok();
}

// An existing manager's etcd registry (not a pending one).
struct Manager {
  EtcdSettings settings;
  std::unique_ptr<EtcdRegistry> reg;
};

Result<Manager> OpenManager(const std::filesystem::path& root) {
  auto settings = LoadEtcdSettings(root);
  if (!settings) {
    if (settings.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound,
                   "not a manager whose registry is in etcd (only arrays created with "
                   "--registry etcd://... can have several managers)")
          .On(root.string());
    }
    return std::move(settings).error();
  }
  if (!settings->pending_request.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "this root is not a manager yet: its own request waits for approval")
        .On(root.string());
  }
  Manager out;
  out.settings = *settings;
  out.reg = std::make_unique<EtcdRegistry>(root, std::move(*settings));
  return out;
}

ManagerRequestInfo InfoOf(const internal::RequestRecord& r) {
  return {r.id, r.host, r.requested_at, RequestFingerprint(r.public_key)};
}

Result<internal::RequestRecord> FindRequest(EtcdRegistry& reg, std::string_view id) {
  MKEYS_TRY(CheckRequestId(id));
  MKEYS_ASSIGN_OR_RETURN(auto request, internal::GetRequest(reg, id));
  if (!request) {
    return Error(ErrorCode::kNotFound,
                 "no pending manager request with this id ('mkeys array manager list ROOT' "
                 "lists them)")
        .On(std::string(id));
  }
  return std::move(*request);
}

// The CA key sealed in etcd, opened with `key`, whose pin must be the array's.
Result<PkeyPtr> OpenCaKey(EtcdRegistry& reg, const SecretBytes& key, const ArrayInfo& info) {
  reg.SetRegistryKey(key);
  auto ca_der = reg.LoadSecret("ca");
  if (!ca_der) {
    return Error(ErrorCode::kCorrupt, "the registry key does not open the array's sealed CA key (" +
                                          ca_der.error().message() + "); refused")
        .On(reg.Location());
  }
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr ca_key, PrivateKeyFromPkcs8(*ca_der));
  MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(ca_key.get()));
  if (!ConstantTimeEquals(pin, info.pin)) {
    return Error(ErrorCode::kCorrupt, "the CA key sealed in etcd does not match the array's pin")
        .On(reg.Location());
  }
  return ca_key;
}

}  // namespace

std::string ManagerWrapContainerName(std::string_view array) {
  return "mkeys-array-" + std::string(array) + "-manager-wrap";
}

std::string RequestFingerprint(const std::array<std::uint8_t, 32>& public_key) {
  const std::string hex = HexEncode(Sha256(std::span<const std::uint8_t>(public_key)));
  std::string out = "sha256:";
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i > 0) out += '-';
    out += hex.substr(i, 4);
  }
  return out;
}

Result<RequestedManager> RequestManager(const std::filesystem::path& root,
                                        const std::vector<std::string>& etcd_endpoints,
                                        const EtcdAccess& etcd_access, std::string_view array,
                                        std::string_view array_fingerprint) {
  MKEYS_TRY(internal::CheckFreeRoot(root));
  MKEYS_TRY(CheckEtcdAccess(etcd_access));
  std::string expected_pin;
  if (!array_fingerprint.empty()) {
    MKEYS_ASSIGN_OR_RETURN(expected_pin,
                           NormalizeFingerprint(array_fingerprint, "--array-fingerprint",
                                                "the array key fingerprint as 'mkeys array "
                                                "status' prints it on a manager"));
  }
  internal::EtcdClient client(etcd_endpoints, etcd_access);
  RequestedManager out;
  MKEYS_ASSIGN_OR_RETURN(out.info, internal::FindArrayInEtcd(client, array));
  if (!expected_pin.empty() && expected_pin != HexEncode(out.info.pin)) {
    return Error(ErrorCode::kAccessDenied,
                 "the array etcd holds as " + out.info.name + " has the key fingerprint " +
                     FormatFingerprint(out.info.pin) +
                     ", not the one given with --array-fingerprint: it is another array, or its "
                     "record in etcd was changed; nothing was written")
        .On(std::string(array));
  }
  out.pin_checked = !expected_pin.empty();

  std::uint8_t id[8];
  if (RAND_bytes(id, sizeof id) != 1) return Error(ErrorCode::kCrypto, "no random bytes");
  EtcdSettings settings;
  settings.endpoints = etcd_endpoints;
  settings.array_id = out.info.array_id;
  settings.array = out.info.name;
  settings.manager_id = HexEncode(id);
  settings.access = etcd_access;
  settings.pending_request = settings.manager_id;
  settings.expected_pin = expected_pin;
  EtcdRegistry reg(root, settings);

  MKEYS_ASSIGN_OR_RETURN(auto store, OpenStore(root));
  MKEYS_ASSIGN_OR_RETURN(X25519Key key, X25519Key::Generate());
  MKEYS_ASSIGN_OR_RETURN(SecretBytes raw, key.PrivateRaw());
  const std::string container = ManagerWrapContainerName(out.info.name);
  MKEYS_TRY(CreateSecretContainer(*store, container, raw));
  out.containers.push_back(container);

  internal::RequestRecord record;
  record.id = settings.manager_id;
  record.host = internal::Host();
  record.requested_at = NowSeconds();
  record.public_key = key.public_key();
  auto put = internal::PutRequest(reg, record, record.requested_at);
  if (!put || !*put) {
    DeleteContainers(*store, out.containers);
    if (!put) return std::move(put).error();
    return Error(ErrorCode::kExists, "a request or a manager with this id exists; run it again")
        .On(internal::RequestKey(reg, record.id));
  }
  if (auto written = internal::WriteSettings(root, settings); !written) {
    (void)internal::WithdrawRequest(reg, record.id);
    DeleteContainers(*store, out.containers);
    return std::move(written).error();
  }
  out.request = InfoOf(record);
  return out;
}

Result<std::vector<ManagerRequestInfo>> ManagerRequests(const std::filesystem::path& root) {
  MKEYS_ASSIGN_OR_RETURN(Manager m, OpenManager(root));
  MKEYS_ASSIGN_OR_RETURN(auto list, internal::ListRequests(*m.reg));
  std::vector<ManagerRequestInfo> out;
  for (const auto& r : list) out.push_back(InfoOf(r));
  return out;
}

Result<ManagerRequestInfo> ApproveManager(const std::filesystem::path& root, std::string_view id,
                                          std::string_view fingerprint) {
  MKEYS_ASSIGN_OR_RETURN(std::string wanted, NormalizeFingerprint(fingerprint));
  MKEYS_ASSIGN_OR_RETURN(Manager m, OpenManager(root));
  auto& reg = m.reg;
  MKEYS_ASSIGN_OR_RETURN(internal::RequestRecord request, FindRequest(*reg, id));
  const std::string actual = RequestFingerprint(request.public_key);
  MKEYS_ASSIGN_OR_RETURN(std::string actual_hex, NormalizeFingerprint(actual));
  if (wanted != actual_hex) {
    return Error(ErrorCode::kAccessDenied,
                 "the fingerprint given is not this request's: compare it again with the one "
                 "'mkeys array manager add' printed on the new manager's machine (a request "
                 "nobody there made must be denied); nothing was approved")
        .On(std::string(id));
  }
  MKEYS_ASSIGN_OR_RETURN(ArrayInfo info, reg->Info());
  MKEYS_ASSIGN_OR_RETURN(SecretBytes key, internal::ReadRegistryKey(root, m.settings.array));
  // The key must be the array's (it opens the sealed CA key); the pin bound into the wrapping
  // is the one that key authenticates.
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr ca_key, OpenCaKey(*reg, key, info));
  MKEYS_ASSIGN_OR_RETURN(Digest pin, SpkiPin(ca_key.get()));
  MKEYS_ASSIGN_OR_RETURN(
      WrappedSecret wrapped,
      WrapSecret(request.public_key, key, internal::ManagerWrapAad(info.array_id, id, pin)));
  MKEYS_ASSIGN_OR_RETURN(bool done,
                         internal::ApproveRequest(*reg, request, wrapped, actual, NowSeconds()));
  if (!done) {
    return Error(ErrorCode::kExists,
                 "the request changed while it was being approved (approved, denied or replaced "
                 "meanwhile); nothing was written")
        .On(std::string(id));
  }
  return InfoOf(request);
}

Result<ManagerRequestInfo> DenyManager(const std::filesystem::path& root, std::string_view id) {
  MKEYS_ASSIGN_OR_RETURN(Manager m, OpenManager(root));
  MKEYS_ASSIGN_OR_RETURN(internal::RequestRecord request, FindRequest(*m.reg, id));
  MKEYS_ASSIGN_OR_RETURN(bool done, internal::DenyRequest(*m.reg, request, NowSeconds()));
  if (!done) {
    return Error(ErrorCode::kExists,
                 "the request changed while it was being denied; nothing was written")
        .On(std::string(id));
  }
  return InfoOf(request);
}

// etcd lists this root's request id as a manager: the registry key and CA containers must be
// here and open the array's sealed CA key; then registry.json is finished. Anything else is an
// error that says what is missing, and nothing is changed.
Result<void> FinishRegistered(const std::filesystem::path& root, EtcdRegistry& reg, Store& store,
                              EtcdSettings& settings, CompletedManager& out) {
  const ArrayInfo& info = out.requested.info;
  const std::string id = settings.pending_request;
  const std::string key_container = RegistryKeyContainerName(info.name);
  const std::string ca_container = CaContainerName(info.name);
  auto missing = [&](const Error& why) {
    return Error(ErrorCode::kCorrupt,
                 "etcd lists this root as manager " + id +
                     " (an earlier --complete registered it and stopped before finishing), but "
                     "this root cannot act as it: " +
                     why.ToString() +
                     ". Remove the manager on another manager and ask again, or restore the "
                     "containers " +
                     key_container + " and " + ca_container)
        .On(root.string());
  };
  auto registry_key = internal::ReadRegistryKey(root, info.name);
  if (!registry_key) return missing(registry_key.error());
  auto ca_key = OpenCaKey(reg, *registry_key, info);
  if (!ca_key) return missing(ca_key.error());
  auto ca_local = store.store->Open(ca_container, store.system);
  if (!ca_local) return missing(ca_local.error());
  settings.pending_request.clear();
  MKEYS_TRY(internal::WriteSettings(root, settings));
  out.added.info = info;
  out.added.manager_id = id;
  out.added.containers = {key_container, ca_container};
  out.finished_interrupted = true;
  return Ok();
}

Result<CompletedManager> CompleteManager(const std::filesystem::path& root) {
  auto loaded = LoadEtcdSettings(root);
  if (!loaded) {
    if (loaded.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound,
                   "this root has made no request to become a manager (start with 'mkeys array "
                   "manager add ROOT --registry etcd://... --array NAME')")
          .On(root.string());
    }
    return std::move(loaded).error();
  }
  EtcdSettings settings = std::move(*loaded);
  if (settings.pending_request.empty()) {
    return Error(ErrorCode::kExists, "this root is a manager already; nothing to complete")
        .On(root.string());
  }
  const std::string id = settings.pending_request;
  EtcdRegistry reg(root, settings);
  MKEYS_ASSIGN_OR_RETURN(auto store, OpenStore(root));
  const std::string wrap_container = ManagerWrapContainerName(settings.array);
  MKEYS_ASSIGN_OR_RETURN(auto opened, store->store->Open(wrap_container, store->system));
  if (!opened.symmetric) {
    return Error(ErrorCode::kCorrupt, "the request key container holds no key").On(wrap_container);
  }
  MKEYS_ASSIGN_OR_RETURN(X25519Key key, X25519Key::FromPrivate(*opened.symmetric));

  CompletedManager out;
  MKEYS_ASSIGN_OR_RETURN(out.requested.info, reg.Info());
  // The array as it was pinned when asking: a forged array (another CA, sealed under a key the
  // forger made) is refused here, whatever wrapped/ID holds.
  if (!settings.expected_pin.empty() &&
      settings.expected_pin != HexEncode(out.requested.info.pin)) {
    return Error(ErrorCode::kAccessDenied,
                 "the array in etcd now has the key fingerprint " +
                     FormatFingerprint(out.requested.info.pin) +
                     ", not sha256:" + settings.expected_pin +
                     " given with --array-fingerprint when asking: its record in etcd was "
                     "changed; nothing was kept (check etcd before trusting it)")
        .On(internal::RequestKey(reg, id));
  }
  out.requested.request = {id, internal::Host(), 0, RequestFingerprint(key.public_key())};
  MKEYS_ASSIGN_OR_RETURN(auto wrapped, internal::GetWrapped(reg, id));
  if (!wrapped) {
    MKEYS_ASSIGN_OR_RETURN(auto request, internal::GetRequest(reg, id));
    if (request) {
      if (request->public_key != key.public_key()) {
        return Error(ErrorCode::kCorrupt,
                     "the request in etcd under this root's id holds another public key (it was "
                     "replaced: deny it on a manager and ask again)")
            .On(internal::RequestKey(reg, id));
      }
      out.waiting = true;
      out.requested.request.requested_at = request->requested_at;
      out.requested.request.host = request->host;
      return out;
    }
    // Registered already: an earlier --complete ended after its etcd transaction (which deletes
    // wrapped/ID) and before registry.json was rewritten. Finish from the containers it made.
    MKEYS_ASSIGN_OR_RETURN(auto registered, reg.client().Get(reg.prefix() + "managers/" + id));
    if (registered) {
      MKEYS_TRY(FinishRegistered(root, reg, *store, settings, out));
      DeleteContainers(*store, {wrap_container});
      return out;
    }
    // Neither a request nor an approval: denied (or removed). The root is free again.
    std::error_code ec;
    std::filesystem::remove(Registry::ConfigPathFor(root), ec);
    DeleteContainers(*store, {wrap_container});
    return Error(ErrorCode::kAccessDenied,
                 "the request " + id +
                     " was denied or removed on a manager; this root is free again (ask again "
                     "with 'mkeys array manager add ROOT --registry ... --array " +
                     settings.array + "')")
        .On(root.string());
  }

  const ArrayInfo& info = out.requested.info;
  auto unwrapped =
      UnwrapSecret(key, wrapped->wrapped, internal::ManagerWrapAad(info.array_id, id, info.pin));
  if (!unwrapped || unwrapped->size() != 32) {
    return Error(ErrorCode::kCorrupt,
                 "the approved registry key in etcd does not open with this root's request key "
                 "(changed, or wrapped for another request or array); nothing was kept")
        .On(internal::WrappedKey(reg, id));
  }
  const SecretBytes registry_key = std::move(*unwrapped);
  MKEYS_ASSIGN_OR_RETURN(PkeyPtr ca_key, OpenCaKey(reg, registry_key, info));

  out.added.info = info;
  out.added.manager_id = id;
  // Containers left by an earlier --complete that stopped before its etcd transaction: this root
  // is no manager yet (its request is pending), so they hold nothing else.
  for (const auto& name : {RegistryKeyContainerName(info.name), CaContainerName(info.name)}) {
    auto removed = store->store->Delete(name, store->system);
    if (removed) {
      Logger("arrayjoin")->info("removed {}, left by an interrupted --complete", name);
    } else if (removed.error().code() != ErrorCode::kNotFound) {
      return std::move(removed).error();
    }
  }
  auto result = [&]() -> Result<void> {
    MKEYS_TRY(CreateSecretContainer(*store, RegistryKeyContainerName(info.name), registry_key));
    out.added.containers.push_back(RegistryKeyContainerName(info.name));
    MKEYS_ASSIGN_OR_RETURN(auto ca_private, keystore::PrivateKey::Adopt(ca_key.release()));
    keystore::KeyMaterial ca_material;
    ca_material.signature = std::move(ca_private);
    keystore::CreateOptions ca_options;
    ca_options.material = std::move(ca_material);
    MKEYS_ASSIGN_OR_RETURN(
        auto created, store->store->Create(CaContainerName(info.name), store->system, ca_options));
    (void)created;
    out.added.containers.push_back(CaContainerName(info.name));
    FaultPoint("complete", "before-register");
    settings.pending_request.clear();
    MKEYS_ASSIGN_OR_RETURN(bool done,
                           internal::RegisterApproved(reg, settings, *wrapped, NowSeconds()));
    if (done) FaultPoint("complete", "after-register");
    if (!done) {
      return Error(ErrorCode::kExists,
                   "the approval changed while this root completed (or a manager with this id "
                   "exists); nothing was kept")
          .On(internal::WrappedKey(reg, id));
    }
    return internal::WriteSettings(root, settings);
  }();
  if (!result) {
    DeleteContainers(*store, out.added.containers);
    out.added.containers.clear();
    return std::move(result).error();
  }
  // The request key has done its work.
  DeleteContainers(*store, {wrap_container});
  return out;
}

}  // namespace mkeys::arrayjoin
