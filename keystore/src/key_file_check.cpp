// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/key_file_check.hpp"

#include <fmt/format.h>

#include <mutex>

#include "mkeys/core/text.hpp"
#include "mkeys/keystore/container_name.hpp"

namespace mkeys::keystore {

struct KeyFileChecker::Shared {
  const MachineRoot* root = nullptr;
  std::once_flag once;
  std::optional<SecretBytes> master;
  std::string master_problem;

  // The machine master key, read on first use; nullptr (and `master_problem`) when unavailable.
  const SecretBytes* Master() {
    std::call_once(once, [this] {
      auto key = root->ReadMasterKey();
      if (key) {
        master = std::move(key).value();
      } else {
        master_problem = key.error().ToString();
      }
    });
    return master ? &*master : nullptr;
  }
};

namespace {

void MarkCorrupt(KeyFileVerdict& v, std::string problem) {
  v.corrupt = true;
  v.problem = std::move(problem);
}

// The name half of the verdict: no allocation.
void CheckName(std::string_view file_name, std::string_view machine_guid, KeyFileVerdict& v,
               std::string_view& hash) {
  const auto parts = SplitContainerFileNameView(file_name);
  if (!parts) {
    v.not_a_container_name = true;
    return;
  }
  hash = parts->hash;
  if (!text::EqualsIgnoreAsciiCase(parts->machine_guid, machine_guid)) {
    v.foreign_machine_guid = true;
  }
}

// Decrypts one slot's sealed private part; an error text naming the slot when it does not.
Result<void> UnsealSlot(const SecretBytes& master, std::string_view file_name,
                        const std::optional<KeyPairView>& slot, std::string_view slot_name,
                        bool allow_symmetric, UnsealedKeys* keys) {
  if (!slot || slot->private_blob.empty()) return Ok();
  auto part = UnsealPrivatePart(master, file_name, slot->private_blob);
  if (!part) {
    // "exchange private key does not decrypt under the machine master key (...)".
    const std::string& why = part.error().message();
    return Error(ErrorCode::kCorrupt, why.starts_with("private key ")
                                          ? fmt::format("{} {}", slot_name, why)
                                          : fmt::format("{} private key: {}", slot_name, why));
  }
  if (part->kind == SealedKind::kSymmetric) {
    if (!allow_symmetric) {
      return Error(ErrorCode::kCorrupt, "a symmetric key in the signature slot");
    }
    if (keys != nullptr) keys->symmetric = std::move(part->plaintext);
    return Ok();
  }
  if (keys == nullptr) return Ok();
  auto key = PrivateKey::FromPkcs8(part->plaintext);
  if (!key) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{} private key does not load: {}", slot_name, key.error().message()));
  }
  (allow_symmetric ? keys->exchange : keys->signature) = std::move(key).value();
  return Ok();
}

}  // namespace

KeyFileChecker::KeyFileChecker(const MachineRoot& root) : shared_(std::make_shared<Shared>()) {
  shared_->root = &root;
}

KeyFileVerdict KeyFileChecker::Check(std::string_view file_name,
                                     std::span<const std::uint8_t> contents,
                                     UnsealedKeys* keys) const {
  KeyFileVerdict v;
  std::string_view hash;
  CheckName(file_name, shared_->root->machine_guid(), v, hash);
  if (contents.empty()) {
    MarkCorrupt(v, "zero-length file");
    return v;
  }
  if (LooksLikeCngKeyFile(contents)) {
    auto cng = ParseCngKeyFile(contents);
    if (!cng) {
      MarkCorrupt(v, cng.error().ToString());
      return v;
    }
    v.cng = std::move(cng).value();
    if (!hash.empty() && !text::EqualsIgnoreAsciiCase(CngKeyHash(v.cng->name), hash)) {
      v.name_hash_mismatch = true;
    }
    return v;
  }
  auto parsed = ContainerFileView::Parse(contents);
  if (!parsed) {
    MarkCorrupt(v, parsed.error().ToString());
    return v;
  }
  v.file = *parsed;
  if (!hash.empty() && !ContainerHashMatches(v.file->name, hash)) v.name_hash_mismatch = true;
  if (v.file->format != ContainerFormat::kMkeys) return v;
  const SecretBytes* master = shared_->Master();
  if (master == nullptr) {
    v.private_keys_unchecked = shared_->master_problem;
    return v;
  }
  for (const bool exchange : {true, false}) {
    auto done = UnsealSlot(*master, file_name, exchange ? v.file->exchange : v.file->signature,
                           exchange ? "exchange" : "signature", exchange, keys);
    if (!done) {
      MarkCorrupt(v, done.error().message());
      return v;
    }
  }
  v.private_keys_checked = true;
  return v;
}

KeyFileVerdict CheckKeyFileContents(const MachineRoot& root, std::string_view file_name,
                                    std::span<const std::uint8_t> contents) {
  return KeyFileChecker(root).Check(file_name, contents);
}

}  // namespace mkeys::keystore
