// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The parts of the HTML report that read the machine root: the store chain with owners and
// ACLs, and the effective access of the declared service identities.

#include <string>

#include "output/report_context.hpp"

namespace mkeys::cli {

// At most this many key files are listed in the tree and the matrix.
inline constexpr std::size_t kHtmlMaxKeyFiles = 500;

// <section id="store">: ProgramData ... MachineKeys, then the key files, each with owner and ACL.
std::string HtmlStoreTree(const ReportContext& ctx);
// <section id="access">: one row per key file a declared service must read, one column per
// service: whether it can traverse to the file and read it, and what decided.
std::string HtmlAccessMatrix(const ReportContext& ctx);

}  // namespace mkeys::cli
