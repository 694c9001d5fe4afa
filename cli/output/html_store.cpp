// SPDX-License-Identifier: GPL-3.0-or-later
#include <vector>

#include <fmt/format.h>

#include "mkeys/acl/access_check.hpp"
#include "mkeys/acl/icacls.hpp"
#include "mkeys/acl/sddl.hpp"
#include "mkeys/acl/sid_names.hpp"
#include "mkeys/keystore/key_store.hpp"
#include "mkeys/repair/baseline.hpp"
#include "output/html_sections.hpp"
#include "output/safe_text.hpp"

namespace mkeys::cli {
namespace {

struct KeyFile {
  std::string file_name;
  std::string container;
  std::optional<acl::SecurityDescriptor> sd;
};

std::vector<KeyFile> ListKeyFiles(const keystore::MachineRoot& root, std::size_t* total) {
  std::vector<KeyFile> files;
  *total = 0;
  (void)keystore::ForEachKeyFile(root, [&](std::string_view name) {
    ++*total;
    if (files.size() < kHtmlMaxKeyFiles) files.push_back({std::string(name), "", std::nullopt});
    return true;
  });
  for (auto& f : files) {
    f.container = keystore::InspectKeyFile(root, f.file_name).name;
    if (auto sd = root.security().Read(root.machine_keys_dir() / f.file_name)) f.sd = *sd;
  }
  return files;
}

// Owner, SDDL and the icacls lines of one object, as a <div class="acl">.
std::string AclBlock(const std::optional<acl::SecurityDescriptor>& sd) {
  if (!sd) return "<div class=\"acl bad\">descriptor cannot be read</div>";
  std::string x = "<div class=\"acl\">";
  x += fmt::format("<div>owner <b>{}</b></div>",
                   XmlText(sd->owner ? acl::DisplayName(*sd->owner) : "(none)"));
  if (sd->dacl) {
    x += "<pre class=\"icacls\">";
    for (const auto& line : acl::FormatIcacls(*sd->dacl)) x += XmlText(line) + "\n";
    x += "</pre>";
  } else {
    x += "<div>no DACL</div>";
  }
  x += fmt::format("<div class=\"sddl\">{}</div></div>", XmlText(acl::FormatSddl(*sd)));
  return x;
}

std::optional<acl::SecurityDescriptor> ReadSd(const keystore::MachineRoot& root,
                                              const std::filesystem::path& path) {
  auto sd = root.security().Read(path);
  if (!sd) return std::nullopt;
  return *sd;
}

std::string Cell(const keystore::MachineRoot& root, const acl::Token& token,
                 const std::vector<const acl::SecurityDescriptor*>& chain, const KeyFile& file) {
  if (!file.sd) return "<td class=\"bad\">descriptor cannot be read</td>";
  const auto traverse = acl::CheckTraverse(chain, token);
  if (!traverse.allowed) {
    const auto& dirs = root.store_directories();
    const std::string where = traverse.blocked_at && *traverse.blocked_at < dirs.size()
                                  ? root.Relative(dirs[*traverse.blocked_at])
                                  : std::string("the chain");
    return fmt::format("<td class=\"bad\">no: cannot traverse {}</td>", XmlText(where));
  }
  const auto check = acl::CheckAccess(*file.sd, token, acl::rights::kFileGenericRead);
  if (check.allowed) {
    return fmt::format("<td class=\"ok\">read: yes ({})</td>",
                       XmlText(acl::FormatIcaclsRights(check.granted)));
  }
  return fmt::format("<td class=\"bad\">read: no ({})</td>",
                     XmlText(check.Sentence(token, "read", *file.sd)));
}

}  // namespace

std::string HtmlStoreTree(const ReportContext& ctx) {
  std::string x = "<section id=\"store\"><h2>The store chain</h2>\n";
  const auto* root = ctx.root();
  if (root == nullptr) return x + "<p>No machine root.</p></section>\n";
  x += "<ul class=\"tree\">\n";
  std::size_t depth = 0;
  for (const auto& dir : root->store_directories()) {
    x += fmt::format("<li><details open><summary class=\"dir\">{}</summary>{}\n<ul>\n",
                     XmlText(root->Relative(dir)), AclBlock(ReadSd(*root, dir)));
    ++depth;
  }
  std::size_t total = 0;
  for (const auto& f : ListKeyFiles(*root, &total)) {
    x += fmt::format("<li class=\"file\"><span class=\"name\">{}</span>", XmlText(f.file_name));
    if (!IsPlainText(f.file_name)) {
      x += fmt::format(" <span class=\"hex\">(bytes {})</span>", HexOf(f.file_name));
    }
    if (!f.container.empty()) {
      x += fmt::format(" <span class=\"container\">container {}</span>", XmlText(f.container));
    }
    x += AclBlock(f.sd) + "</li>\n";
  }
  if (total > kHtmlMaxKeyFiles) {
    x += fmt::format("<li>... and {} more key file(s)</li>\n", total - kHtmlMaxKeyFiles);
  }
  for (std::size_t i = 0; i < depth; ++i) x += "</ul></details></li>\n";
  return x + "</ul></section>\n";
}

std::string HtmlAccessMatrix(const ReportContext& ctx) {
  std::string x = "<section id=\"access\"><h2>Effective access of the service identities</h2>\n";
  const auto* root = ctx.root();
  if (root == nullptr || ctx.services().empty()) {
    return x + "<p>No service identity declared (--service IDENTITY=GLOB).</p></section>\n";
  }
  std::vector<std::optional<acl::SecurityDescriptor>> chain_sds;
  std::vector<const acl::SecurityDescriptor*> chain;
  for (const auto& dir : root->store_directories()) chain_sds.push_back(ReadSd(*root, dir));
  for (const auto& sd : chain_sds) {
    if (sd) chain.push_back(&*sd);
  }
  std::vector<std::optional<acl::Token>> tokens;
  x += "<table class=\"matrix\"><thead><tr><th>key file</th><th>container</th>";
  for (const auto& s : ctx.services()) {
    auto token = root->TokenFor(s.name);
    tokens.push_back(token ? std::optional<acl::Token>(*token) : std::nullopt);
    x += fmt::format("<th>{}<br><span class=\"sid\">{}</span><br>must read {}</th>",
                     XmlText(s.name), XmlText(s.sid), XmlText(s.container_glob));
  }
  x += "</tr></thead><tbody>\n";
  std::size_t total = 0, rows = 0;
  for (const auto& f : ListKeyFiles(*root, &total)) {
    std::string cells;
    bool any = false;
    for (std::size_t i = 0; i < ctx.services().size(); ++i) {
      const bool declared = repair::GlobMatch(ctx.services()[i].container_glob, f.container);
      any = any || declared;
      if (!declared) {
        cells += "<td class=\"na\">not declared</td>";
      } else if (!tokens[i]) {
        cells += "<td class=\"bad\">unknown identity</td>";
      } else {
        cells += Cell(*root, *tokens[i], chain, f);
      }
    }
    if (!any) continue;
    ++rows;
    x += fmt::format("<tr><td class=\"name\">{}</td><td>{}</td>{}</tr>\n", XmlText(f.file_name),
                     XmlText(f.container), cells);
  }
  if (rows == 0) {
    x += fmt::format(
        "<tr><td colspan=\"{}\">No key file holds a container the services must "
        "read.</td></tr>\n",
        ctx.services().size() + 2);
  }
  return x + "</tbody></table></section>\n";
}

}  // namespace mkeys::cli
