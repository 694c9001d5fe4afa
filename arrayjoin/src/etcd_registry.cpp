// SPDX-License-Identifier: GPL-3.0-or-later
// The etcd registry: settings, creation, the array, key versions (a rotation is one transaction
// that checks the current version's revision), tokens, events, per-manager state and sealed
// secrets. Joins, confirmations and members are in etcd_registry_join.cpp.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "internal/etcd_registry_impl.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/openssl.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::arrayjoin {
namespace internal {
namespace {

std::string VersionKey(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010u", v);
  return buf;
}

}  // namespace

std::string Host() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

Result<void> WriteSettings(const std::filesystem::path& root, const EtcdSettings& s) {
  std::error_code ec;
  std::filesystem::create_directories(Registry::DirFor(root), ec);
  if (ec) {
    return Error(ErrorCode::kIo, "cannot create the registry directory: " + ec.message())
        .On(Registry::DirFor(root).string());
  }
  ::chmod(Registry::DirFor(root).c_str(), 0700);
  const std::string text = EncodeEtcdSettings(s);
  return files::WriteFileAtomic(
      Registry::ConfigPathFor(root),
      std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), 0600);
}

std::string ManagerJson(const EtcdSettings& s, std::int64_t now) {
  return nlohmann::json({{"id", s.manager_id}, {"host", Host()}, {"added_at", now}}).dump();
}

std::string EtcdPrefix(std::string_view array_id) {
  return "/mkeys/arrays/" + std::string(array_id) + "/";
}

std::string EtcdRegistry::Location() const {
  std::string out = settings_.access.tls ? "etcds://" : "etcd://";
  for (std::size_t i = 0; i < settings_.endpoints.size(); ++i) {
    out += (i ? "," : "") + settings_.endpoints[i];
  }
  return out + " " + prefix_;
}

EtcdOp EtcdRegistry::EventOp(std::string_view kind, std::string_view subject,
                             std::string_view detail, std::int64_t now) const {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::uint8_t rnd[4];
  RAND_bytes(rnd, sizeof rnd);
  char key[48];
  std::snprintf(key, sizeof key, "%020lld-", static_cast<long long>(ns));
  const nlohmann::json doc = {{"at", now},
                              {"kind", kind},
                              {"subject", subject},
                              {"detail", detail},
                              {"manager", settings_.manager_id}};
  return Put(prefix_ + "events/" + key + HexEncode(rnd), doc.dump());
}

Result<ArrayInfo> EtcdRegistry::Info() {
  MKEYS_ASSIGN_OR_RETURN(auto info, client_.Get(prefix_ + "info"));
  if (!info) {
    return Error(ErrorCode::kNotFound, "etcd holds no array " + settings_.array_id +
                                           " (was it created there, or the data lost?)")
        .On(Location());
  }
  MKEYS_ASSIGN_OR_RETURN(ArrayInfo out, ArrayInfoFromJson(info->value, info->key));
  MKEYS_ASSIGN_OR_RETURN(auto current, client_.Get(prefix_ + "current"));
  if (current) {
    MKEYS_ASSIGN_OR_RETURN(out.current_version,
                           CurrentVersionFromText(current->value, current->key));
  }
  return out;
}

Result<bool> EtcdRegistry::AddKeyVersionOps(const KeyVersion& version, std::vector<EtcdOp> ops) {
  MKEYS_ASSIGN_OR_RETURN(auto current, client_.Get(prefix_ + "current"));
  std::uint32_t now_current = 0;
  if (current) {
    MKEYS_ASSIGN_OR_RETURN(now_current, CurrentVersionFromText(current->value, current->key));
  }
  if (version.version != now_current + 1) {
    return Error(ErrorCode::kExists, "key version " + std::to_string(version.version) +
                                         " cannot follow the current version " +
                                         std::to_string(now_current) +
                                         " (another manager rotated at the same time)")
        .On(Location());
  }
  const std::string vkey = prefix_ + "versions/" + VersionKey(version.version);
  const nlohmann::json doc = {{"version", version.version},
                              {"created_at", version.created_at},
                              {"rsa_container", version.rsa_container},
                              {"config_container", version.config_container}};
  ops.push_back(Put(vkey, doc.dump()));
  ops.push_back(Put(prefix_ + "current", std::to_string(version.version)));
  ops.push_back(EventOp("key-version", "v" + std::to_string(version.version),
                        "containers " + version.rsa_container + ", " + version.config_container +
                            " (manager " + settings_.manager_id + ")",
                        version.created_at));
  // Fencing: the rotation applies only if no other manager moved `current` since it was read.
  std::vector<EtcdCompare> compares = {{vkey, "CREATE", 0}};
  compares.push_back(current ? EtcdCompare{prefix_ + "current", "MOD", current->mod_revision}
                             : EtcdCompare{prefix_ + "current", "CREATE", 0});
  // And only while this manager still holds the rotation lock it took (the lock's revision).
  if (lock_revision_ != 0) compares.push_back({RotationLockKey(), "CREATE", lock_revision_});
  MKEYS_ASSIGN_OR_RETURN(bool done, client_.Txn(compares, ops));
  if (done) return true;
  // A reply lost after etcd applied the transaction, and the retry on another endpoint found
  // `current` moved: if the version there is this very one, the rotation did happen.
  MKEYS_ASSIGN_OR_RETURN(auto there, client_.Get(vkey));
  if (there && there->value == doc.dump()) return true;
  if (auto lost = LostRotationLock()) return *lost;
  return false;
}

Result<void> EtcdRegistry::AddKeyVersion(const KeyVersion& version) {
  std::lock_guard lock(mutex_);
  MKEYS_ASSIGN_OR_RETURN(bool done, AddKeyVersionOps(version, {}));
  if (!done) {
    return Error(ErrorCode::kExists, "another manager added a key version at the same time")
        .On(Location());
  }
  return Ok();
}

Result<void> EtcdRegistry::AddKeyVersionWithSecrets(const KeyVersion& version,
                                                    const SecretBytes& rsa_pkcs8,
                                                    const SecretBytes& config_key) {
  std::lock_guard lock(mutex_);
  MKEYS_ASSIGN_OR_RETURN(const SecretBytes* key, RegistryKey());
  const std::string v = "v" + std::to_string(version.version);
  MKEYS_ASSIGN_OR_RETURN(auto rsa, SealSecret(*key, settings_.array_id, v + "/rsa", rsa_pkcs8));
  MKEYS_ASSIGN_OR_RETURN(auto config,
                         SealSecret(*key, settings_.array_id, v + "/config", config_key));
  std::vector<EtcdOp> ops = {Put(prefix_ + "secrets/" + v + "/rsa", rsa),
                             Put(prefix_ + "secrets/" + v + "/config", config)};
  MKEYS_ASSIGN_OR_RETURN(bool done, AddKeyVersionOps(version, std::move(ops)));
  if (!done) {
    return Error(ErrorCode::kExists,
                 "another manager added a key version at the same time; nothing of this "
                 "rotation was written")
        .On(Location());
  }
  return Ok();
}

Result<std::vector<KeyVersion>> EtcdRegistry::KeyVersions() {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "versions/"));
  std::vector<KeyVersion> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(auto version, KeyVersionFromJson(kv.value, kv.key));
    out.push_back(std::move(version));
  }
  return out;
}

Result<void> EtcdRegistry::AddToken(const TokenRecord& token) {
  std::string detail = "expires " + FormatTime(token.expires_at) + ", " +
                       std::to_string(token.uses_total) + " use(s)";
  if (!token.replace_name.empty()) detail += ", may replace member " + token.replace_name;
  MKEYS_ASSIGN_OR_RETURN(
      bool done, client_.Txn({{TokenKey(token.id), "CREATE", 0}},
                             {Put(TokenKey(token.id), TokenToJson(token).dump()),
                              EventOp("token-issued", token.id, detail, token.created_at)}));
  if (!done) return Error(ErrorCode::kExists, "a token with this id exists").On(token.id);
  return Ok();
}

Result<std::optional<EtcdKv>> EtcdRegistry::GetToken(std::string_view id) {
  return client_.Get(TokenKey(id));
}

Result<std::vector<TokenRecord>> EtcdRegistry::Tokens() {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "tokens/"));
  std::sort(list.begin(), list.end(),
            [](const EtcdKv& a, const EtcdKv& b) { return a.create_revision < b.create_revision; });
  std::vector<TokenRecord> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(auto t, TokenFromJson(kv.value, kv.key));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<TokenRecord>> EtcdRegistry::FindToken(std::string_view id) {
  MKEYS_ASSIGN_OR_RETURN(auto kv, GetToken(id));
  if (!kv) return std::optional<TokenRecord>();
  MKEYS_ASSIGN_OR_RETURN(auto t, TokenFromJson(kv->value, kv->key));
  return std::optional<TokenRecord>(std::move(t));
}

Result<void> EtcdRegistry::RevokeToken(std::string_view id, std::int64_t now) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    MKEYS_ASSIGN_OR_RETURN(auto kv, GetToken(id));
    if (!kv) {
      return Error(ErrorCode::kNotFound,
                   "no token with this id ('mkeys array token ROOT --list' lists them)")
          .On(std::string(id));
    }
    MKEYS_ASSIGN_OR_RETURN(auto t, TokenFromJson(kv->value, kv->key));
    if (t.revoked_at) return Ok();
    t.revoked_at = now;
    MKEYS_ASSIGN_OR_RETURN(bool done, client_.Txn({{kv->key, "MOD", kv->mod_revision}},
                                                  {Put(kv->key, TokenToJson(t).dump()),
                                                   EventOp("token-revoked", id, "", now)}));
    if (done) return Ok();
  }
  return Error(ErrorCode::kNetwork, "the token kept changing; try again").On(std::string(id));
}

Result<void> EtcdRegistry::LogEvent(std::string_view kind, std::string_view subject,
                                    std::string_view detail, std::int64_t now) {
  MKEYS_ASSIGN_OR_RETURN(bool done, client_.Txn({}, {EventOp(kind, subject, detail, now)}));
  (void)done;
  return Ok();
}

Result<std::vector<EventRecord>> EtcdRegistry::Events(std::size_t limit) {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "events/", limit, true));
  std::vector<EventRecord> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(auto event, EventFromJson(kv.value, kv.key));
    event.id = kv.create_revision;
    out.push_back(std::move(event));
  }
  return out;
}

Result<void> EtcdRegistry::SaveAddressLimit(const AddressLimit& limit) {
  const nlohmann::json doc = {{"address", limit.address},
                              {"failures", limit.failures},
                              {"last_at", limit.last_at},
                              {"retry_at", limit.retry_at}};
  const std::string key = prefix_ + "limits/" + settings_.manager_id + "/" + limit.address;
  MKEYS_ASSIGN_OR_RETURN(bool done, client_.Txn({}, {Put(key, doc.dump())}));
  (void)done;
  return Ok();
}

Result<void> EtcdRegistry::ClearAddressLimits() {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "limits/" + settings_.manager_id + "/"));
  if (list.empty()) return Ok();
  std::vector<EtcdOp> ops;
  for (const auto& kv : list) ops.push_back(Delete(kv.key));
  MKEYS_ASSIGN_OR_RETURN(bool done, client_.Txn({}, ops));
  (void)done;
  return Ok();
}

Result<std::vector<AddressLimit>> EtcdRegistry::AddressLimits() {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "limits/" + settings_.manager_id + "/"));
  std::vector<AddressLimit> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(auto limit, AddressLimitFromJson(kv.value, kv.key));
    out.push_back(std::move(limit));
  }
  std::sort(out.begin(), out.end(),
            [](const AddressLimit& a, const AddressLimit& b) { return a.last_at > b.last_at; });
  return out;
}

Result<void> EtcdRegistry::SaveServeRecord(const ServeRecord& record) {
  const nlohmann::json doc = {{"endpoints", record.endpoints},
                              {"max_failures", record.max_failures},
                              {"failure_window", record.failure_window},
                              {"started_at", record.started_at},
                              {"pid", record.pid}};
  MKEYS_ASSIGN_OR_RETURN(
      bool done, client_.Txn({}, {Put(prefix_ + "serve/" + settings_.manager_id, doc.dump())}));
  (void)done;
  return Ok();
}

Result<std::optional<ServeRecord>> EtcdRegistry::LoadServeRecord() {
  MKEYS_ASSIGN_OR_RETURN(auto kv, client_.Get(prefix_ + "serve/" + settings_.manager_id));
  if (!kv) return std::optional<ServeRecord>();
  MKEYS_ASSIGN_OR_RETURN(auto record, ServeFromJson(kv->value, kv->key));
  return std::optional<ServeRecord>(std::move(record));
}

Result<std::vector<ManagerRecord>> EtcdRegistry::Managers() {
  MKEYS_ASSIGN_OR_RETURN(auto list, client_.List(prefix_ + "managers/"));
  std::vector<ManagerRecord> out;
  for (const auto& kv : list) {
    MKEYS_ASSIGN_OR_RETURN(ManagerRecord m, ManagerFromJson(kv.value, kv.key));
    MKEYS_ASSIGN_OR_RETURN(auto serve, client_.Get(prefix_ + "serve/" + m.id));
    if (serve) {
      MKEYS_ASSIGN_OR_RETURN(const ServeRecord r, ServeFromJson(serve->value, serve->key));
      m.endpoints = r.endpoints;
      m.started_at = r.started_at;
      m.pid = r.pid;
    }
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::string> EtcdRegistry::Health() {
  std::size_t healthy = 0;
  std::string leader;
  std::string version;
  std::string down;
  for (const auto& endpoint : settings_.endpoints) {
    auto status = client_.CallOne(endpoint, "/v3/maintenance/status", nlohmann::json::object());
    if (!status) {
      down += (down.empty() ? "" : ", ") + endpoint;
      continue;
    }
    ++healthy;
    const auto reply = DecodeStatusReply(*status);
    if (!reply) continue;  // it answers, but not with a status: no version or leader from it
    version = reply->version;
    if (!reply->leader.empty() && reply->leader != "0") leader = reply->leader;
  }
  std::string out = std::to_string(healthy) + " of " + std::to_string(settings_.endpoints.size()) +
                    " endpoints answer";
  if (!version.empty()) out += ", etcd " + version;
  out += leader.empty() ? ", no leader" : ", leader " + leader;
  if (!down.empty()) out += "; not answering: " + down;
  return out;
}

Result<const SecretBytes*> EtcdRegistry::RegistryKey() {
  if (registry_key_) return &*registry_key_;
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root_));
  MKEYS_ASSIGN_OR_RETURN(auto system, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  const std::string name = RegistryKeyContainerName(settings_.array);
  MKEYS_ASSIGN_OR_RETURN(auto opened, store.Open(name, system));
  if (!opened.symmetric || opened.symmetric->size() != 32) {
    return Error(ErrorCode::kCorrupt, "the registry key container holds no 256-bit key").On(name);
  }
  registry_key_ = *opened.symmetric;
  return &*registry_key_;
}

Result<SecretBytes> EtcdRegistry::LoadSecret(std::string_view name) {
  std::lock_guard lock(mutex_);
  MKEYS_ASSIGN_OR_RETURN(auto kv, client_.Get(prefix_ + "secrets/" + std::string(name)));
  if (!kv) {
    return Error(ErrorCode::kNotFound, "etcd holds no secret of this name")
        .On(prefix_ + "secrets/" + std::string(name));
  }
  MKEYS_ASSIGN_OR_RETURN(const SecretBytes* key, RegistryKey());
  return OpenSealedSecret(*key, settings_.array_id, name, kv->value);
}

}  // namespace internal

using internal::EtcdRegistry;

std::string RegistryKeyContainerName(std::string_view array) {
  return "mkeys-array-" + std::string(array) + "-registry";
}

Result<std::vector<std::string>> ParseEtcdUrl(std::string_view url, bool* tls) {
  constexpr std::string_view kScheme = "etcd://";
  constexpr std::string_view kTlsScheme = "etcds://";
  const bool with_tls = url.substr(0, kTlsScheme.size()) == kTlsScheme;
  if (!with_tls && url.substr(0, kScheme.size()) != kScheme) {
    return Error(ErrorCode::kInvalidArgument,
                 "--registry takes etcd://HOST:PORT[,HOST:PORT...] (plain HTTP) or "
                 "etcds://HOST:PORT[,...] (TLS, with --etcd-ca)")
        .At(0)
        .On(std::string(url));
  }
  if (tls != nullptr) *tls = with_tls;
  std::vector<std::string> out;
  std::size_t at = with_tls ? kTlsScheme.size() : kScheme.size();
  while (at <= url.size()) {
    const std::size_t end = std::min(url.find(',', at), url.size());
    const std::string_view part = url.substr(at, end - at);
    const auto colon = part.rfind(':');
    const bool port_ok = colon != std::string_view::npos && colon + 1 < part.size() &&
                         part.find_first_not_of("0123456789", colon + 1) == std::string_view::npos;
    if (part.empty() || colon == 0 || !port_ok) {
      return Error(ErrorCode::kInvalidArgument, "an etcd endpoint is HOST:PORT")
          .At(at)
          .On(std::string(url));
    }
    out.emplace_back(part);
    at = end + 1;
  }
  return out;
}

Result<void> CheckEtcdAccess(const EtcdAccess& a) {
  auto bad = [](std::string what) { return Error(ErrorCode::kInvalidArgument, std::move(what)); };
  if (a.tls && a.ca_file.empty()) {
    return bad("etcds:// needs --etcd-ca FILE (the CA that signed etcd's certificate)");
  }
  if (!a.tls && (!a.ca_file.empty() || !a.cert_file.empty())) {
    return bad("--etcd-ca and --etcd-cert need TLS: write the registry as etcds://HOST:PORT");
  }
  if (a.cert_file.empty() != a.key_file.empty()) {
    return bad("--etcd-cert and --etcd-key go together");
  }
  if (!a.password_file.empty() && a.user.empty()) {
    return bad("--etcd-password-file needs --etcd-user");
  }
  for (const std::string* f : {&a.ca_file, &a.cert_file, &a.key_file, &a.password_file}) {
    std::error_code ec;
    if (!f->empty() && !std::filesystem::is_regular_file(*f, ec)) {
      return Error(ErrorCode::kNotFound, "no such file").On(*f);
    }
  }
  return Ok();
}

Result<EtcdSettings> LoadEtcdSettings(const std::filesystem::path& root) {
  const auto path = Registry::ConfigPathFor(root);
  MKEYS_ASSIGN_OR_RETURN(auto bytes, files::ReadFile(path, 1u << 20));
  return internal::DecodeEtcdSettings(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path.string());
}

Result<std::unique_ptr<Registry>> OpenEtcdRegistry(const std::filesystem::path& root) {
  MKEYS_ASSIGN_OR_RETURN(auto settings, LoadEtcdSettings(root));
  if (!settings.pending_request.empty()) {
    return Error(ErrorCode::kNotFound,
                 "this root's request " + settings.pending_request +
                     " to become a manager waits for approval: run 'mkeys array manager approve "
                     "MANAGER_ROOT " +
                     settings.pending_request +
                     " --fingerprint FP' on an existing manager, then 'mkeys array manager add " +
                     root.string() + " --complete' here")
        .On(Registry::ConfigPathFor(root).string());
  }
  return std::unique_ptr<Registry>(std::make_unique<EtcdRegistry>(root, std::move(settings)));
}

Result<std::unique_ptr<Registry>> CreateEtcdRegistry(const std::filesystem::path& root,
                                                     const EtcdSettings& settings,
                                                     const ArrayInfo& info, const KeyVersion& kv,
                                                     const ArraySecrets& secrets) {
  auto reg = std::make_unique<EtcdRegistry>(root, settings);
  reg->SetRegistryKey(secrets.registry_key);
  const std::string& p = reg->prefix();
  const std::string v = "v" + std::to_string(kv.version);
  MKEYS_ASSIGN_OR_RETURN(auto ca,
                         SealSecret(secrets.registry_key, info.array_id, "ca", secrets.ca_pkcs8));
  MKEYS_ASSIGN_OR_RETURN(
      auto rsa, SealSecret(secrets.registry_key, info.array_id, v + "/rsa", secrets.rsa_pkcs8));
  MKEYS_ASSIGN_OR_RETURN(auto config, SealSecret(secrets.registry_key, info.array_id, v + "/config",
                                                 secrets.config_key));
  const nlohmann::json doc = {{"schema", internal::kEtcdSchemaVersion},
                              {"array_id", info.array_id},
                              {"name", info.name},
                              {"created_at", info.created_at},
                              {"pin", HexEncode(info.pin)},
                              {"ca_cert_pem", info.ca_cert_pem}};
  const nlohmann::json version = {{"version", kv.version},
                                  {"created_at", kv.created_at},
                                  {"rsa_container", kv.rsa_container},
                                  {"config_container", kv.config_container}};
  char vkey[16];
  std::snprintf(vkey, sizeof vkey, "%010u", kv.version);
  std::vector<internal::EtcdOp> ops = {
      internal::Put(p + "info", doc.dump()),
      internal::Put(p + "current", std::to_string(kv.version)),
      internal::Put(p + "versions/" + vkey, version.dump()),
      internal::Put(p + "secrets/ca", ca),
      internal::Put(p + "secrets/" + v + "/rsa", rsa),
      internal::Put(p + "secrets/" + v + "/config", config),
      internal::Put(p + "managers/" + settings.manager_id,
                    internal::ManagerJson(settings, info.created_at)),
      reg->EventOp("created", info.name, "array " + info.array_id + " on etcd", info.created_at)};
  MKEYS_ASSIGN_OR_RETURN(bool done, reg->client().Txn({{p + "info", "CREATE", 0}}, ops));
  if (!done) {
    return Error(ErrorCode::kExists, "etcd already holds this array").On(reg->Location());
  }
  MKEYS_TRY(internal::WriteSettings(root, settings));
  return std::unique_ptr<Registry>(std::move(reg));
}

Result<std::unique_ptr<Registry>> AddEtcdManager(const std::filesystem::path& root,
                                                 const EtcdSettings& settings,
                                                 const SecretBytes& registry_key) {
  auto reg = std::make_unique<EtcdRegistry>(root, settings);
  reg->SetRegistryKey(registry_key);
  // The key must open the array's sealed CA key: a wrong key is refused here, not at a join.
  MKEYS_ASSIGN_OR_RETURN(auto ca, reg->LoadSecret("ca"));
  (void)ca;
  const auto now = NowSeconds();
  const std::string key = reg->prefix() + "managers/" + settings.manager_id;
  MKEYS_ASSIGN_OR_RETURN(
      bool done, reg->client().Txn({{key, "CREATE", 0}},
                                   {internal::Put(key, internal::ManagerJson(settings, now)),
                                    reg->EventOp("manager-added", settings.manager_id,
                                                 "on host " + internal::Host(), now)}));
  if (!done) return Error(ErrorCode::kExists, "a manager with this id exists").On(key);
  MKEYS_TRY(internal::WriteSettings(root, settings));
  return std::unique_ptr<Registry>(std::move(reg));
}

}  // namespace mkeys::arrayjoin
