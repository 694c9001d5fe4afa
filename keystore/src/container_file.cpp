// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/keystore/container_file.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include "mkeys/core/le.hpp"
#include "mkeys/core/openssl.hpp"

namespace mkeys::keystore {
namespace {

constexpr std::array<char, 4> kSealMagic = {'M', 'K', 'P', '1'};
constexpr std::size_t kSealHeader = 8;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

void RandomFill(std::uint8_t* data, std::size_t size) {
  if (RAND_bytes(data, static_cast<int>(size)) != 1) {
    // Test/bench filler only; never key material.
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<std::uint8_t>(i * 131 + 7);
  }
}

// A DPAPI blob's shape (dpapick DPAPI/Core/blob.py): version 1, provider GUID, master-key
// version and GUID, flags, UTF-16 description, AES-256 / SHA-512 algorithm ids, salt, HMAC key,
// the encrypted data and a 64-byte signature. The contents are random: not decryptable, as a
// real one is not off its machine.
std::vector<std::uint8_t> FakeDpapiBlob(std::u16string_view description, std::size_t data_size) {
  std::vector<std::uint8_t> out;
  le::Put32(out, 1);
  le::Append(out, kDpapiProviderGuid);
  le::Put32(out, 1);  // master key version
  std::array<std::uint8_t, 16> mk_guid{};
  RandomFill(mk_guid.data(), mk_guid.size());
  le::Append(out, mk_guid);
  le::Put32(out, 4);  // CRYPTPROTECT_LOCAL_MACHINE
  le::Put32(out, static_cast<std::uint32_t>((description.size() + 1) * 2));
  for (char16_t c : description) le::Put16(out, static_cast<std::uint16_t>(c));
  le::Put16(out, 0);
  le::Put32(out, 0x6610);  // CALG_AES_256
  le::Put32(out, 256);
  le::Put32(out, 32);  // salt
  std::size_t at = out.size();
  out.resize(at + 32);
  RandomFill(out.data() + at, 32);
  le::Put32(out, 0);       // HMAC key length
  le::Put32(out, 0x800e);  // CALG_SHA_512
  le::Put32(out, 512);
  le::Put32(out, 32);  // HMAC2 key
  at = out.size();
  out.resize(at + 32);
  RandomFill(out.data() + at, 32);
  const std::size_t padded = (data_size + 15) / 16 * 16;
  le::Put32(out, static_cast<std::uint32_t>(padded));
  at = out.size();
  out.resize(at + padded);
  RandomFill(out.data() + at, padded);
  le::Put32(out, 64);
  at = out.size();
  out.resize(at + 64);
  RandomFill(out.data() + at, 64);
  return out;
}

std::vector<std::uint8_t> SyntheticRsa1(std::uint32_t bits) {
  std::vector<std::uint8_t> out;
  const std::uint32_t modulus_bytes = bits / 8;
  le::Put32(out, kMagicRsa1);
  le::Put32(out, modulus_bytes + 8);
  le::Put32(out, bits);
  le::Put32(out, modulus_bytes - 1);
  le::Put32(out, 65537);
  const std::size_t at = out.size();
  out.resize(at + modulus_bytes + 8, 0);
  RandomFill(out.data() + at, modulus_bytes);
  out[at] |= 1;                         // odd
  out[at + modulus_bytes - 1] |= 0x80;  // full length
  return out;
}

std::vector<std::uint8_t> CapiFile(std::string_view name, const std::vector<std::uint8_t>& sig_pub,
                                   const std::vector<std::uint8_t>& exch_pub,
                                   std::uint32_t sig_bits, std::uint32_t exch_bits) {
  ContainerFile file;
  file.format = ContainerFormat::kCapi;
  file.version = kCapiContainerVersion;
  file.name.assign(name);
  file.hash.assign(20, 0);
  // RSA2 private blob size: 20-byte header + 9/2 * modulus bytes (primes, exponents, d).
  auto slot = [](const std::vector<std::uint8_t>& pub, std::uint32_t bits) {
    KeyPairRecord rec;
    rec.public_blob = pub;
    rec.private_blob = FakeDpapiBlob(u"Private Key", 20 + bits / 16 * 9);
    rec.export_flag = FakeDpapiBlob(u"Export Flag", 4);
    return rec;
  };
  if (!sig_pub.empty()) file.signature = slot(sig_pub, sig_bits);
  if (!exch_pub.empty()) file.exchange = slot(exch_pub, exch_bits);
  return file.Serialize();
}

}  // namespace

std::string_view ContainerFormatName(ContainerFormat format) {
  return format == ContainerFormat::kCapi ? "capi" : "mkeys";
}

Result<ContainerFileView> ContainerFileView::Parse(std::span<const std::uint8_t> bytes) {
  const std::size_t size = bytes.size();
  if (size < kContainerHeaderSize) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("container file of {} bytes is shorter than its 40-byte header", size))
        .At(size);
  }
  ContainerFileView file;
  file.version = le::Read32(bytes, 0);
  file.flags = le::Read32(bytes, 4);
  if (file.version == kMkeysContainerVersion) {
    file.format = ContainerFormat::kMkeys;
  } else if (file.version == 1 || file.version == kCapiContainerVersion) {
    file.format = ContainerFormat::kCapi;
  } else {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("unknown container version 0x{:08x}", file.version))
        .At(0);
  }
  struct Field {
    const char* what;
    std::size_t header_offset;
  };
  // Body order (docs/formats.md): name, hash, signature public/private/export flag, exchange
  // public/private/export flag.
  static constexpr Field kOrder[] = {
      {"name", 8},
      {"hash", 28},
      {"signature public key", 12},
      {"signature private key", 16},
      {"signature export flag", 32},
      {"exchange public key", 20},
      {"exchange private key", 24},
      {"exchange export flag", 36},
  };
  std::array<std::span<const std::uint8_t>, 8> parts;
  std::array<std::size_t, 8> starts{};
  std::size_t pos = kContainerHeaderSize;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::uint32_t len = le::Read32(bytes, kOrder[i].header_offset);
    if (len > size - pos) {
      return Error(ErrorCode::kCorrupt,
                   fmt::format("{} length {} (header offset {}) runs past the end of the "
                               "{}-byte file: it starts at offset {}",
                               kOrder[i].what, len, kOrder[i].header_offset, size, pos))
          .At(kOrder[i].header_offset);
    }
    starts[i] = pos;
    parts[i] = bytes.subspan(pos, len);
    pos += len;
  }
  if (file.format == ContainerFormat::kMkeys && pos != size) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("{} bytes after the last field of a {}-byte file", size - pos, size))
        .At(pos);
  }
  const auto name = parts[0];
  if (name.empty() || name.back() != 0) {
    return Error(ErrorCode::kCorrupt, "container name is not NUL-terminated")
        .At(starts[0] + name.size());
  }
  for (std::size_t i = 0; i + 1 < name.size(); ++i) {
    if (name[i] == 0) {
      return Error(ErrorCode::kCorrupt, "container name has a NUL inside it").At(starts[0] + i);
    }
  }
  file.name = std::string_view(reinterpret_cast<const char*>(name.data()), name.size() - 1);
  file.hash = parts[1];
  auto slot = [&](std::size_t first, std::optional<KeyPairView>& out) -> Result<void> {
    if (parts[first].empty() && parts[first + 1].empty() && parts[first + 2].empty()) {
      return Ok();
    }
    KeyPairView rec;
    rec.public_blob = parts[first];
    rec.private_blob = parts[first + 1];
    rec.export_flag = parts[first + 2];
    if (!rec.public_blob.empty()) {
      auto info = ParsePublicBlob(rec.public_blob);
      if (!info) {
        const Error& e = info.error();
        return Error(ErrorCode::kCorrupt, fmt::format("{}: {}", kOrder[first].what, e.message()))
            .At(starts[first] + e.position().value_or(0));
      }
      rec.info = *info;
    }
    out = rec;
    return Ok();
  };
  MKEYS_TRY(slot(2, file.signature));
  MKEYS_TRY(slot(5, file.exchange));
  return file;
}

Result<ContainerFile> ContainerFile::Parse(std::span<const std::uint8_t> bytes) {
  MKEYS_ASSIGN_OR_RETURN(const ContainerFileView view, ContainerFileView::Parse(bytes));
  return FromView(view);
}

ContainerFile ContainerFile::FromView(const ContainerFileView& view) {
  ContainerFile file;
  file.format = view.format;
  file.version = view.version;
  file.flags = view.flags;
  file.name.assign(view.name);
  file.hash.assign(view.hash.begin(), view.hash.end());
  auto copy = [](const std::optional<KeyPairView>& in, std::optional<KeyPairRecord>& out) {
    if (!in) return;
    KeyPairRecord rec;
    rec.public_blob.assign(in->public_blob.begin(), in->public_blob.end());
    rec.private_blob.assign(in->private_blob.begin(), in->private_blob.end());
    rec.export_flag.assign(in->export_flag.begin(), in->export_flag.end());
    rec.info = in->info;
    out = std::move(rec);
  };
  copy(view.signature, file.signature);
  copy(view.exchange, file.exchange);
  return file;
}

std::vector<std::uint8_t> ContainerFile::Serialize() const {
  static const KeyPairRecord kEmpty;
  const KeyPairRecord& sig = signature ? *signature : kEmpty;
  const KeyPairRecord& exch = exchange ? *exchange : kEmpty;
  std::vector<std::uint8_t> out;
  auto u32 = [](std::size_t v) { return static_cast<std::uint32_t>(v); };
  le::Put32(out, version);
  le::Put32(out, flags);
  le::Put32(out, u32(name.size() + 1));
  le::Put32(out, u32(sig.public_blob.size()));
  le::Put32(out, u32(sig.private_blob.size()));
  le::Put32(out, u32(exch.public_blob.size()));
  le::Put32(out, u32(exch.private_blob.size()));
  le::Put32(out, u32(hash.size()));
  le::Put32(out, u32(sig.export_flag.size()));
  le::Put32(out, u32(exch.export_flag.size()));
  out.insert(out.end(), name.begin(), name.end());
  out.push_back(0);
  le::Append(out, hash);
  le::Append(out, sig.public_blob);
  le::Append(out, sig.private_blob);
  le::Append(out, sig.export_flag);
  le::Append(out, exch.public_blob);
  le::Append(out, exch.private_blob);
  le::Append(out, exch.export_flag);
  return out;
}

namespace {

// "exchange RSA 2048 (e=65537), signature EC P-256": slots given as (present, has public key,
// info).
struct SlotShape {
  bool present;
  bool has_public;
  const PublicKeyInfo* info;
};
std::string DescribeSlots(SlotShape exchange, SlotShape signature) {
  std::string out;
  auto add = [&](const char* slot, const SlotShape& s) {
    if (!s.present) return;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", slot, s.has_public ? s.info->Describe() : "(no public key)");
  };
  add("exchange", exchange);
  add("signature", signature);
  return out.empty() ? std::string("no keys") : out;
}

template <typename Slot>
SlotShape ShapeOf(const std::optional<Slot>& slot) {
  if (!slot) return {false, false, nullptr};
  return {true, !slot->public_blob.empty(), &slot->info};
}

}  // namespace

std::string ContainerFile::DescribeKeys() const {
  return DescribeSlots(ShapeOf(exchange), ShapeOf(signature));
}

std::string ContainerFileView::DescribeKeys() const {
  return DescribeSlots(ShapeOf(exchange), ShapeOf(signature));
}

Result<std::vector<std::uint8_t>> SealPrivatePart(const SecretBytes& master_key,
                                                  std::string_view unique_name, SealedKind kind,
                                                  const SecretBytes& plaintext) {
  if (master_key.size() != 32) {
    return Error(ErrorCode::kInvalidArgument, "the machine master key must be 32 bytes");
  }
  std::vector<std::uint8_t> out(kSealMagic.begin(), kSealMagic.end());
  le::Put32(out, static_cast<std::uint32_t>(kind));
  std::vector<std::uint8_t> aad(out);
  aad.insert(aad.end(), unique_name.begin(), unique_name.end());
  std::array<std::uint8_t, kNonceSize> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    return Error(ErrorCode::kCrypto, "no randomness for the nonce");
  }
  le::Append(out, nonce);
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const auto key = master_key.RevealSecret();
  const auto pt = plaintext.RevealSecret();
  const std::size_t at = out.size();
  out.resize(at + pt.size() + kTagSize);
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + at, &len, pt.data(), static_cast<int>(pt.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + at + static_cast<std::size_t>(len), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, out.data() + at + pt.size()) !=
          1) {
    return Error(ErrorCode::kCrypto, "AES-256-GCM sealing failed");
  }
  return out;
}

Result<UnsealedPart> UnsealPrivatePart(const SecretBytes& master_key, std::string_view unique_name,
                                       std::span<const std::uint8_t> sealed) {
  if (master_key.size() != 32) {
    return Error(ErrorCode::kInvalidArgument, "the machine master key must be 32 bytes");
  }
  if (sealed.size() < kSealHeader + kNonceSize + kTagSize) {
    return Error(ErrorCode::kCorrupt,
                 fmt::format("sealed private part of {} bytes is too short", sealed.size()))
        .At(sealed.size());
  }
  if (!std::equal(kSealMagic.begin(), kSealMagic.end(), sealed.begin())) {
    return Error(ErrorCode::kCorrupt, "sealed private part does not start with MKP1").At(0);
  }
  const std::uint32_t kind = le::Read32(sealed, 4);
  if (kind != static_cast<std::uint32_t>(SealedKind::kPkcs8) &&
      kind != static_cast<std::uint32_t>(SealedKind::kSymmetric)) {
    return Error(ErrorCode::kCorrupt, fmt::format("unknown sealed kind {}", kind)).At(4);
  }
  std::vector<std::uint8_t> aad(sealed.begin(), sealed.begin() + kSealHeader);
  aad.insert(aad.end(), unique_name.begin(), unique_name.end());
  const auto nonce = sealed.subspan(kSealHeader, kNonceSize);
  const auto body =
      sealed.subspan(kSealHeader + kNonceSize, sealed.size() - kSealHeader - kNonceSize - kTagSize);
  std::array<std::uint8_t, kTagSize> tag{};
  std::copy(sealed.end() - kTagSize, sealed.end(), tag.begin());
  SecretBytes plain(body.size());
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const auto key = master_key.RevealSecret();
  auto out = plain.MutableSecret();
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, body.data(), static_cast<int>(body.size())) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &len) != 1) {
    return Error(ErrorCode::kCrypto,
                 "private key does not decrypt under the machine master key (wrong machine, "
                 "renamed file or tampered bytes)");
  }
  return UnsealedPart{static_cast<SealedKind>(kind), std::move(plain)};
}

Result<std::vector<std::uint8_t>> MakeCapiContainerFile(std::string_view name,
                                                        const PrivateKey* signature_key,
                                                        const PrivateKey* exchange_key) {
  for (const PrivateKey* k : {signature_key, exchange_key}) {
    if (k != nullptr && k->spec().algorithm != KeyAlgorithm::kRsa) {
      return Error(ErrorCode::kInvalidArgument, "CAPI container files hold RSA keys only");
    }
  }
  return CapiFile(
      name,
      signature_key ? signature_key->PublicBlob(KeySlot::kSignature) : std::vector<std::uint8_t>{},
      exchange_key ? exchange_key->PublicBlob(KeySlot::kExchange) : std::vector<std::uint8_t>{},
      signature_key ? signature_key->spec().bits : 0, exchange_key ? exchange_key->spec().bits : 0);
}

std::vector<std::uint8_t> MakeSyntheticCapiContainerFile(std::string_view name,
                                                         std::uint32_t exchange_bits,
                                                         std::uint32_t signature_bits) {
  return CapiFile(name,
                  signature_bits ? SyntheticRsa1(signature_bits) : std::vector<std::uint8_t>{},
                  exchange_bits ? SyntheticRsa1(exchange_bits) : std::vector<std::uint8_t>{},
                  signature_bits, exchange_bits);
}

}  // namespace mkeys::keystore
