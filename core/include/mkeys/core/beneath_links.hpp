// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// For writers into a key store: a folder beneath the root opened only if it holds no symlink.

#include <string_view>

#include "mkeys/core/beneath.hpp"
#include "mkeys/core/result.hpp"

namespace mkeys::files {

// Opens the directory `relative` beneath `root` (as RootDir::OpenBeneath) and refuses, naming
// the first one, if any entry in it is a symlink: a store holding a link (a key file, a
// subfolder) is written into only after the link is replaced (audit's MK031).
Result<UniqueFd> OpenDirWithoutLinks(const RootDir& root, std::string_view relative);

}  // namespace mkeys::files
