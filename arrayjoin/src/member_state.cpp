// SPDX-License-Identifier: GPL-3.0-or-later
// The member's files: its state (member.json) and the journal of a join in progress, and
// settling a join a killed process left behind.
#include "internal/member_internal.hpp"
#include "mkeys/arrayjoin/manager.hpp"
#include "mkeys/core/files.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/log.hpp"

namespace mkeys::arrayjoin {

namespace fs = std::filesystem;

namespace internal {

Result<void> WriteTextAtomic(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  return files::WriteFileAtomic(
      path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), 0600);
}

Result<nlohmann::json> ReadJsonFile(const fs::path& path) {
  MKEYS_ASSIGN_OR_RETURN(auto bytes, files::ReadFile(path, 1u << 20));
  auto doc = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error(ErrorCode::kCorrupt, "not a valid JSON object").On(path.string());
  }
  return doc;
}

Result<void> Journal::Save() const {
  nlohmann::json doc = {{"state", state},
                        {"containers", containers},
                        {"staging", staging},
                        {"pending", pending},
                        {"pending_key", pending_key}};
  return WriteTextAtomic(path, doc.dump(2));
}

std::string FormatMemberState(const MemberState& s) {
  nlohmann::json doc = {{"format", 1},
                        {"array", s.array},
                        {"array_id", s.array_id},
                        {"manager", s.manager},
                        {"managers", s.managers},
                        {"pin", HexEncode(s.pin)},
                        {"member", s.member},
                        {"service_identity", s.service_identity},
                        {"key_version", s.key_version},
                        {"containers", s.containers},
                        {"member_cert", s.member_cert_pem},
                        {"ca_cert", s.ca_cert_pem},
                        {"joined_at", s.joined_at}};
  return doc.dump(2);
}

Result<MemberState> ParseMemberState(const nlohmann::json& doc, const std::string& where) {
  MemberState s;
  try {
    s.array = doc.at("array").get<std::string>();
    s.array_id = doc.at("array_id").get<std::string>();
    s.manager = doc.at("manager").get<std::string>();
    s.managers = doc.value("managers", std::vector<std::string>{});
    if (s.managers.empty()) s.managers.push_back(s.manager);
    auto pin = HexDecode(doc.at("pin").get<std::string>());
    if (!pin || pin->size() != 32) throw std::runtime_error("bad pin");
    std::copy(pin->begin(), pin->end(), s.pin.begin());
    s.member = doc.at("member").get<std::string>();
    s.service_identity = doc.at("service_identity").get<std::string>();
    s.key_version = doc.at("key_version").get<std::uint32_t>();
    s.containers = doc.at("containers").get<std::vector<std::string>>();
    s.member_cert_pem = doc.at("member_cert").get<std::string>();
    s.ca_cert_pem = doc.at("ca_cert").get<std::string>();
    s.joined_at = doc.at("joined_at").get<std::int64_t>();
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, std::string("member state is damaged: ") + e.what())
        .On(where);
  }
  return s;
}

Result<void> WriteMemberState(const fs::path& root, const MemberState& s) {
  return WriteTextAtomic(MemberStatePath(root), FormatMemberState(s));
}

void DropPendingKey(keystore::KeyStore& store, const acl::Token& installer,
                    const std::string& name) {
  std::error_code ec;
  if (name.empty() || !fs::exists(store.PathFor(name), ec)) return;
  if (auto r = store.Delete(name, installer); !r) {
    Logger("arrayjoin")->warn("cannot remove {}: {}", name, r.error().ToString());
  }
}

fs::path PendingKeyNotesDir(const fs::path& root) {
  return Registry::DirFor(root) / "pending-keys";
}

Result<void> NotePendingKey(const fs::path& root, const std::string& name) {
  return WriteTextAtomic(PendingKeyNotesDir(root) / name, "");
}

void DropNotedPendingKey(const fs::path& root, keystore::KeyStore& store,
                         const acl::Token& installer, const std::string& name) {
  if (name.empty()) return;
  DropPendingKey(store, installer, name);
  std::error_code ec;
  if (!fs::exists(store.PathFor(name), ec)) fs::remove(PendingKeyNotesDir(root) / name, ec);
  fs::remove(PendingKeyNotesDir(root), ec);  // only when empty
}

void DropPendingKeysAfterJoin(const fs::path& root, keystore::KeyStore& store,
                              const acl::Token& installer, const std::string& current) {
  DropNotedPendingKey(root, store, installer, current);
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(PendingKeyNotesDir(root), ec), end; !ec && it != end;
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  constexpr std::string_view kPrefix = "mkeys-array-pending-";
  for (const auto& name : names) {
    // Only notes this code writes: anything else in the folder is left alone.
    if (name.rfind(kPrefix, 0) != 0 || name.size() == kPrefix.size() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                               kPrefix.size()) != std::string::npos) {
      continue;
    }
    Logger("arrayjoin")->info("removing {}, the member key of an earlier join attempt", name);
    DropNotedPendingKey(root, store, installer, name);
  }
}

Result<bool> Settle(keystore::MachineRoot& machine, Journal& journal, int timeout_seconds,
                    const std::string& override_manager) {
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  auto doc = nlohmann::json::parse(journal.pending, nullptr, false);
  auto state = ParseMemberState(doc, journal.path.string());
  if (!state) {
    RollBack(store, installer, journal);
    return false;
  }
  auto listed = [&]() -> Result<bool> {
    MKEYS_ASSIGN_OR_RETURN(auto link,
                           ConnectAsMember(machine, *state, timeout_seconds, override_manager));
    MemberRequest req;
    req.op = "status";
    req.have_version = state->key_version;
    MKEYS_ASSIGN_OR_RETURN(auto reply, MemberExchange(*link.client, req, timeout_seconds));
    RememberEndpoints(*state, link.used, reply.endpoints);
    return reply.member;
  }();
  if (!listed) {
    if (listed.error().code() == ErrorCode::kPeerRefused) {
      RollBack(store, installer, journal);
      return false;
    }
    return Error(ErrorCode::kNetwork,
                 "the manager did not acknowledge the join and cannot be asked now (" +
                     listed.error().message() +
                     "); the keys stay pending: run 'mkeys array status " +
                     machine.root().string() +
                     "' when the manager is reachable to settle the outcome")
        .On(state->manager);
  }
  if (!*listed) {
    RollBack(store, installer, journal);
    return false;
  }
  journal.state = "done";
  MKEYS_TRY(journal.Save());
  MKEYS_TRY(WriteMemberState(machine.root(), *state));
  DropPendingKeysAfterJoin(machine.root(), store, installer, journal.pending_key);
  std::error_code ec;
  fs::remove(journal.path, ec);
  return true;
}

}  // namespace internal

std::string_view JoinStepName(JoinStep step) {
  switch (step) {
    case JoinStep::kPreflight:
      return "preflight";
    case JoinStep::kConnect:
      return "connect and verify the manager's key";
    case JoinStep::kProveToken:
      return "prove the token";
    case JoinStep::kReceive:
      return "receive the array keys";
    case JoinStep::kInstall:
      return "install under staging names";
    case JoinStep::kVerify:
      return "verify as the service identity and rename";
    case JoinStep::kConfirm:
      return "confirm to the manager";
  }
  return "step";
}

fs::path MemberStatePath(const fs::path& root) {
  return Registry::DirFor(root) / "member.json";
}
fs::path JoinJournalPath(const fs::path& root) {
  return Registry::DirFor(root) / "join-journal.json";
}

Result<std::optional<MemberState>> ReadMemberState(const fs::path& root) {
  const fs::path path = MemberStatePath(root);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<MemberState>();
  MKEYS_ASSIGN_OR_RETURN(auto doc, internal::ReadJsonFile(path));
  MKEYS_ASSIGN_OR_RETURN(auto s, internal::ParseMemberState(doc, path.string()));
  return std::optional<MemberState>(std::move(s));
}

Result<bool> RecoverInterruptedJoin(const fs::path& root, const std::string& manager) {
  const fs::path path = JoinJournalPath(root);
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  MKEYS_ASSIGN_OR_RETURN(auto doc, internal::ReadJsonFile(path));
  internal::Journal journal;
  journal.path = path;
  try {
    journal.state = doc.at("state").get<std::string>();
    journal.containers = doc.at("containers").get<std::vector<std::string>>();
    journal.staging = doc.at("staging").get<std::vector<std::string>>();
    journal.pending = doc.value("pending", std::string());
    journal.pending_key = doc.value("pending_key", std::string());
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, std::string("join journal is damaged: ") + e.what())
        .On(path.string());
  }
  MKEYS_ASSIGN_OR_RETURN(auto state, ReadMemberState(root));
  MKEYS_ASSIGN_OR_RETURN(auto machine, keystore::MachineRoot::Open(root));
  if (state && journal.state == "done") {
    // The join finished; only the removal of the kept member key and the journal was
    // interrupted.
    MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
    keystore::KeyStore store(machine);
    internal::DropPendingKeysAfterJoin(root, store, installer, journal.pending_key);
    fs::remove(path, ec);
    return false;
  }
  if (journal.state == "confirming" && !journal.pending.empty()) {
    MKEYS_ASSIGN_OR_RETURN(bool joined, internal::Settle(machine, journal, 10, manager));
    Logger("arrayjoin")
        ->warn("settled an interrupted join: {}",
               joined ? "the manager had recorded it, kept" : "rolled back");
    return true;
  }
  MKEYS_ASSIGN_OR_RETURN(auto installer, machine.TokenFor(kInstallerIdentity));
  keystore::KeyStore store(machine);
  internal::RollBack(store, installer, journal);
  Logger("arrayjoin")
      ->warn("rolled back an interrupted join ({} container(s))", journal.containers.size());
  return true;
}

}  // namespace mkeys::arrayjoin
