// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The scan's worker threads: readdir feeds a bounded queue, workers take batches of file names.
// Private to the repair library.

#include <cstdint>
#include <functional>
#include <string_view>

#include "mkeys/core/result.hpp"
#include "mkeys/keystore/machine_root.hpp"

namespace mkeys::repair::internal {

// Streams every key file of `root` through `work(worker, file_name)` on `threads` workers (a
// bounded queue between the readdir and the workers). `progress` is called from this thread.
Result<std::uint64_t> ParallelScan(const keystore::MachineRoot& root, std::size_t threads,
                                   const std::function<void(std::size_t, std::string_view)>& work,
                                   const std::function<void(std::uint64_t)>& progress);
std::size_t ThreadCount(std::size_t requested);

}  // namespace mkeys::repair::internal
