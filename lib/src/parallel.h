// Work spread over every core, for passes over an image's memory chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include <kcr/status.h>

namespace kcr {

// How many threads a pass over this many bytes deserves: one per 16 MiB, at
// most one per core and 8 (starting a thread costs more than a small pass).
unsigned ThreadsFor(uint64_t bytes);

// Calls work(i, on_caller) for every i in [0, n), on the calling thread and
// threads - 1 helpers (all joined before returning). on_caller is true only on
// the calling thread, which is where progress may be reported. Stops handing
// out items at the first error, and returns that error.
Status ParallelFor(size_t n, unsigned threads,
                   const std::function<Status(size_t i, bool on_caller)>& work);

}  // namespace kcr
