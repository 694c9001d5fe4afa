// SPDX-License-Identifier: GPL-3.0-or-later
#include "internal/parallel_scan.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mkeys/keystore/key_store.hpp"

namespace mkeys::repair::internal {

std::size_t ThreadCount(std::size_t requested) {
  if (requested > 0) return std::min<std::size_t>(requested, 64);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 2 : hw;
}

Result<std::uint64_t> ParallelScan(const keystore::MachineRoot& root, std::size_t threads,
                                   const std::function<void(std::size_t, std::string_view)>& work,
                                   const std::function<void(std::uint64_t)>& progress) {
  constexpr std::size_t kBatch = 256;
  constexpr std::size_t kMaxQueued = 32;  // batches: bounds memory whatever the store's size
  std::mutex mutex;
  std::condition_variable not_empty, not_full;
  std::deque<std::vector<std::string>> queue;
  bool done = false;
  std::atomic<std::uint64_t> processed{0};

  const std::size_t n = ThreadCount(threads);
  std::vector<std::thread> workers;
  workers.reserve(n);
  for (std::size_t w = 0; w < n; ++w) {
    workers.emplace_back([&, w] {
      for (;;) {
        std::vector<std::string> batch;
        {
          std::unique_lock lock(mutex);
          not_empty.wait(lock, [&] { return done || !queue.empty(); });
          if (queue.empty()) return;
          batch = std::move(queue.front());
          queue.pop_front();
        }
        not_full.notify_one();
        for (const auto& name : batch) work(w, name);
        processed.fetch_add(batch.size(), std::memory_order_relaxed);
      }
    });
  }
  std::vector<std::string> batch;
  batch.reserve(kBatch);
  std::uint64_t count = 0;
  auto push = [&] {
    {
      std::unique_lock lock(mutex);
      not_full.wait(lock, [&] { return queue.size() < kMaxQueued; });
      queue.push_back(std::move(batch));
    }
    not_empty.notify_one();
    batch = {};
    batch.reserve(kBatch);
  };
  auto listed = keystore::ForEachKeyFile(root, [&](std::string_view name) {
    batch.emplace_back(name);
    ++count;
    if (batch.size() == kBatch) push();
    if (progress && count % 4096 == 0) progress(processed.load(std::memory_order_relaxed));
    return true;
  });
  if (!batch.empty()) push();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  not_empty.notify_all();
  for (auto& t : workers) t.join();
  if (progress) progress(processed.load());
  if (!listed) return std::move(listed).error();
  return count;
}

}  // namespace mkeys::repair::internal
