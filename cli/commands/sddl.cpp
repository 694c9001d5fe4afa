// SPDX-License-Identifier: GPL-3.0-or-later
// `mkeys sddl encode|decode|canon`: SDDL and self-relative descriptor bytes, one per line on
// stdin, one result per line on stdout. (`sddl icacls` and `sddl inherit` are added to the
// same group by cli/commands/sddl_inherit.cpp.)
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/security_descriptor.hpp"
#include "mkeys/acl/sid.hpp"
#include "mkeys/core/hex.hpp"
#include "mkeys/core/le.hpp"
#include "mkeys/keystore/security_store.hpp"

namespace mkeys::cli {
namespace {

enum class Mode { kEncode, kDecode, kCanon };

struct SddlArgs {
  std::string domain_sid;
};

bool IsNtaclBlob(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 8 && le::Read16(bytes, 0) == 1 && le::Read16(bytes, 2) == 1 &&
         le::Read32(bytes, 4) == 0x00020000;
}

Result<std::string> ConvertLine(Mode mode, const std::string& line, const acl::SddlOptions& opts) {
  switch (mode) {
    case Mode::kEncode: {
      MKEYS_ASSIGN_OR_RETURN(const auto sd, acl::ParseSddl(line, opts));
      return HexEncode(sd.Encode());
    }
    case Mode::kDecode: {
      std::string_view text = line;
      while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
      while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
      MKEYS_ASSIGN_OR_RETURN(const auto bytes, HexDecode(text));
      // A raw self-relative descriptor, or Samba's NTACL blob (`sd get --format hex` on a model
      // machine): told apart by the NTACL header (version 1, level 1, referent 0x00020000).
      MKEYS_ASSIGN_OR_RETURN(const auto sd, IsNtaclBlob(bytes)
                                                ? keystore::DecodeNtacl(bytes)
                                                : acl::SecurityDescriptor::Decode(bytes));
      return acl::FormatSddl(sd, opts);
    }
    case Mode::kCanon: {
      MKEYS_ASSIGN_OR_RETURN(const auto sd, acl::ParseSddl(line, opts));
      return acl::FormatSddl(sd, opts);
    }
  }
  return Error(ErrorCode::kInternal, "unknown sddl mode");
}

// What `sddl decode` found in a line: "ntacl" (Samba's blob) or "descriptor" (raw).
std::string DecodedFormat(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  auto bytes = HexDecode(line);
  return bytes && IsNtaclBlob(*bytes) ? "ntacl" : "descriptor";
}

int RunLines(Context& ctx, Mode mode, const SddlArgs& args) {
  acl::SddlOptions opts;
  if (!args.domain_sid.empty()) {
    auto sid = acl::Sid::Parse(args.domain_sid);
    if (!sid) {
      ctx.out.PrintError(
          Error(ErrorCode::kInvalidArgument, "--domain-sid: " + sid.error().ToString()));
      return kExitUsage;
    }
    opts.domain_sid = *sid;
  }
  bool all_ok = true;
  nlohmann::json doc = nlohmann::json::array();
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto result = ConvertLine(mode, line, opts);
    if (!result) all_ok = false;
    if (ctx.out.json()) {
      nlohmann::json item = {{"input", line}};
      if (result) {
        item["output"] = *result;
        if (mode == Mode::kDecode) item["format"] = DecodedFormat(line);
      } else {
        item["error"] = result.error().ToString();
        if (result.error().position()) item["position"] = *result.error().position();
      }
      doc.push_back(std::move(item));
    } else {
      ctx.out.Line(result ? *result : "error: " + result.error().ToString());
    }
  }
  if (ctx.out.json()) ctx.out.Json(doc);
  return all_ok ? kExitOk : kExitNegative;
}

void Register(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("sddl", "Convert between SDDL and descriptor bytes");
  group->require_subcommand(1);

  auto encode_args = std::make_shared<SddlArgs>();
  auto* encode = group->add_subcommand(
      "encode", "SDDL per line on stdin -> self-relative descriptor as lower-case hex per line");
  encode->add_option("--domain-sid", encode_args->domain_sid,
                     "Domain SID for domain-relative aliases (DA, DU, LA, ...)");
  ctx.Bind(encode, [encode_args](Context& c) { return RunLines(c, Mode::kEncode, *encode_args); });

  auto decode_args = std::make_shared<SddlArgs>();
  auto* decode = group->add_subcommand(
      "decode",
      "Descriptor hex per line on stdin (a raw self-relative descriptor or an NTACL blob, as "
      "`sd get --format hex` prints; JSON says which) -> Windows-canonical SDDL per line");
  decode->add_option("--domain-sid", decode_args->domain_sid,
                     "Domain SID: SIDs in it are written as their aliases (DA, DU, ...)");
  ctx.Bind(decode, [decode_args](Context& c) { return RunLines(c, Mode::kDecode, *decode_args); });

  auto canon_args = std::make_shared<SddlArgs>();
  auto* canon =
      group->add_subcommand("canon", "SDDL per line on stdin -> Windows-canonical SDDL per line");
  canon->add_option("--domain-sid", canon_args->domain_sid,
                    "Domain SID for domain-relative aliases (DA, DU, LA, ...)");
  ctx.Bind(canon, [canon_args](Context& c) { return RunLines(c, Mode::kCanon, *canon_args); });
}

}  // namespace
MKEYS_REGISTER_COMMANDS(40, Register);
}  // namespace mkeys::cli
