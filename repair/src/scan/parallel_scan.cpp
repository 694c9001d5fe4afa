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

namespace {

// Batches of file names between the readdir (Push, Close) and the workers (Pop). Bounded: the
// producer waits while kMaxQueued batches wait, so memory does not grow with the store.
class BatchQueue {
 public:
  static constexpr std::size_t kMaxQueued = 32;

  void Push(std::vector<std::string> batch) {
    {
      std::unique_lock lock(mutex_);
      not_full_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
      queue_.push_back(std::move(batch));
    }
    not_empty_.notify_one();
  }
  // No more batches: the workers drain the queue and stop.
  void Close() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    not_empty_.notify_all();
  }
  // The next batch; false once closed and empty.
  bool Pop(std::vector<std::string>& batch) {
    {
      std::unique_lock lock(mutex_);
      not_empty_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return false;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    not_full_.notify_one();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::vector<std::string>> queue_;
  bool done_ = false;
};

}  // namespace

Result<std::uint64_t> ParallelScan(const keystore::MachineRoot& root, std::size_t threads,
                                   const std::function<void(std::size_t, std::string_view)>& work,
                                   const std::function<void(std::uint64_t)>& progress) {
  constexpr std::size_t kBatch = 256;
  BatchQueue queue;
  std::atomic<std::uint64_t> processed{0};
  // The workers: each takes a batch at a time.
  std::vector<std::thread> workers;
  const std::size_t n = ThreadCount(threads);
  workers.reserve(n);
  for (std::size_t w = 0; w < n; ++w) {
    workers.emplace_back([&, w] {
      std::vector<std::string> batch;
      while (queue.Pop(batch)) {
        for (const auto& name : batch) work(w, name);
        processed.fetch_add(batch.size(), std::memory_order_relaxed);
      }
    });
  }
  // The readdir, in this thread.
  std::vector<std::string> batch;
  batch.reserve(kBatch);
  std::uint64_t count = 0;
  auto listed = keystore::ForEachKeyFile(root, [&](std::string_view name) {
    batch.emplace_back(name);
    ++count;
    if (batch.size() == kBatch) {
      queue.Push(std::move(batch));
      batch = {};
      batch.reserve(kBatch);
    }
    if (progress && count % 4096 == 0) progress(processed.load(std::memory_order_relaxed));
    return true;
  });
  if (!batch.empty()) queue.Push(std::move(batch));
  queue.Close();
  for (auto& t : workers) t.join();
  if (progress) progress(processed.load());
  if (!listed) return std::move(listed).error();
  return count;
}

}  // namespace mkeys::repair::internal
