// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The one judgement of a MachineKeys file by its name and its bytes, as CryptAcquireContext
// would find it: is the name <hash>_<MachineGuid> of this machine, does the file parse, does the
// stored container name hash to the file name, and (mkeys files) do the private parts decrypt
// under the machine master key. `store list` (InspectKeyFile), the open path (`store open`,
// `diagnose`, the join's verify step) and the audit use it.
//
// Fast for scans: on a well-formed file the name and format checks allocate nothing (the
// verdict holds views into the bytes); decrypting an mkeys private part is one AES-256-GCM pass.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mkeys/core/secret_bytes.hpp"
#include "mkeys/keystore/cng_key_file.hpp"
#include "mkeys/keystore/container_file.hpp"
#include "mkeys/keystore/keys.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::keystore {

// What one key file's name and bytes say. Views point into the bytes given to the check (and
// the file name): valid while those are.
struct KeyFileVerdict {
  // The file name.
  bool not_a_container_name = false;  // not <32 hex>_<GUID>
  bool foreign_machine_guid = false;  // <hash>_<GUID> with a GUID other than the machine's
  // The contents: set when the bytes parse.
  std::optional<ContainerFileView> file;
  // A CNG key file (docs/formats.md, "CNG key files"): recognised by its header and parsed as
  // such, never as a CAPI or mkeys container; its name hash is CNG's (CngKeyHash). In a CAPI
  // store it is "a CNG key file in the CAPI store", not a corrupt container.
  std::optional<CngKeyFileView> cng;
  bool name_hash_mismatch = false;  // ContainerHash(file->name) != the file name's hash
  // mkeys private parts decrypted under the machine master key (false for CAPI files, whose
  // private parts are DPAPI blobs, and when the master key is unavailable: see below).
  bool private_keys_checked = false;
  // Why the private parts of an mkeys file could not be checked (no master key on this root).
  std::string private_keys_unchecked;
  // The bytes do not make a usable container: `problem` says why and where.
  bool corrupt = false;
  std::string problem;  // "exchange private key does not decrypt under the machine master key
                        // (...)", "name length 9 (header offset 8) runs past ... (at offset 8)"

  // Every check passed (the name's too).
  bool ok() const {
    return !not_a_container_name && !foreign_machine_guid && !name_hash_mismatch && !corrupt &&
           (file.has_value() || cng.has_value());
  }
  // The stored container (or CNG key) name ("" when the bytes do not parse).
  std::string_view name() const {
    if (cng) return cng->name;
    return file ? file->name : std::string_view();
  }
};

// The private parts of an mkeys container, decrypted (what `store open` hands back).
struct UnsealedKeys {
  std::optional<PrivateKey> exchange;
  std::optional<PrivateKey> signature;
  std::optional<SecretBytes> symmetric;  // a symmetric key is stored in the exchange slot
};

// Checks key files of one root. Reads the machine master key at most once, on the first mkeys
// file, and never for CAPI files. Copies share that state; Check is thread-safe.
class KeyFileChecker final {
 public:
  explicit KeyFileChecker(const MachineRoot& root);

  // Judges `contents` as the bytes of MachineKeys/`file_name`. With `keys`, the decrypted
  // private parts of an mkeys file are handed back (and must also load as keys: a PKCS#8 that
  // does not load makes the file corrupt).
  KeyFileVerdict Check(std::string_view file_name, std::span<const std::uint8_t> contents,
                       UnsealedKeys* keys = nullptr) const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

// KeyFileChecker(root).Check(file_name, contents): for a single file.
KeyFileVerdict CheckKeyFileContents(const MachineRoot& root, std::string_view file_name,
                                    std::span<const std::uint8_t> contents);

}  // namespace mkeys::keystore
