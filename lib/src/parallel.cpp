#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace kcr {

unsigned ThreadsFor(uint64_t bytes) {
  uint64_t wanted = std::max<uint64_t>(1, bytes / (16u << 20));
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(std::min<uint64_t>({wanted, cores, 8}));
}

Status ParallelFor(size_t n, unsigned threads,
                   const std::function<Status(size_t i, bool on_caller)>& work) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  Status error;
  auto run = [&](bool on_caller) {
    for (size_t i = next++; i < n && !failed; i = next++) {
      Status st = work(i, on_caller);
      if (!st.ok()) {
        std::lock_guard lock(error_mutex);
        if (!failed.exchange(true))
          error = std::move(st);
        return;
      }
    }
  };
  {
    std::vector<std::jthread> workers;
    for (unsigned i = 1; n > 1 && i < threads; i++)
      workers.emplace_back(run, false);
    run(true);
  }  // joins
  return failed ? error : Status::Ok();
}

}  // namespace kcr
