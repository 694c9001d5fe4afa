#include "mkeys/keystore/container_name.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <fmt/format.h>

#include "mkeys/core/error.hpp"

namespace mkeys::keystore {
namespace {

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string ContainerHash(std::string_view container_name) {
  // The CSP lower-cases the name, appends its NUL and hashes the ASCII bytes with MD5; the
  // digest is printed as four little-endian 32-bit words.
  std::string lowered(container_name);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  lowered.push_back('\0');
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(lowered.data(), lowered.size(), digest, &len, EVP_md5(), nullptr);
  std::string out;
  out.reserve(32);
  for (int word = 0; word < 4; ++word) {
    const unsigned char* w = digest + 4 * word;
    const std::uint32_t v = static_cast<std::uint32_t>(w[0]) | (static_cast<std::uint32_t>(w[1]) << 8) |
                            (static_cast<std::uint32_t>(w[2]) << 16) |
                            (static_cast<std::uint32_t>(w[3]) << 24);
    out += fmt::format("{:08x}", v);
  }
  return out;
}

std::string ContainerFileName(std::string_view container_name, std::string_view machine_guid) {
  std::string out = ContainerHash(container_name);
  out.push_back('_');
  out.append(machine_guid);
  return out;
}

Result<std::string> NormalizeMachineGuid(std::string_view text) {
  std::string_view body = text;
  std::size_t shift = 0;
  if (body.size() == 38 && body.front() == '{' && body.back() == '}') {
    body = body.substr(1, 36);
    shift = 1;
  }
  if (body.size() != 36) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("MachineGuid '{}' must have the form "
                             "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                             text));
  }
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !IsHex(c)) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("MachineGuid '{}': expected {} at offset {}", text,
                               dash ? "'-'" : "a hex digit", i + shift))
          .At(i + shift);
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::optional<ContainerFileNameParts> SplitContainerFileName(std::string_view file_name) {
  if (file_name.size() != 32 + 1 + 36 || file_name[32] != '_') return std::nullopt;
  for (std::size_t i = 0; i < 32; ++i) {
    if (!IsHex(file_name[i])) return std::nullopt;
  }
  auto guid = NormalizeMachineGuid(file_name.substr(33));
  if (!guid) return std::nullopt;
  ContainerFileNameParts parts;
  parts.hash.assign(file_name.substr(0, 32));
  for (char& c : parts.hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  parts.machine_guid = std::move(guid).value();
  return parts;
}

}  // namespace mkeys::keystore
