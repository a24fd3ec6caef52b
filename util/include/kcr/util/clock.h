// Clocks: the wall clock as the catalog stores it (nanoseconds since the Unix
// epoch), and a monotonic one for durations.
#pragma once

#include <chrono>
#include <cstdint>

namespace kcr::util {

// Wall-clock time, not a monotonic one: catalog times are compared across
// processes and reboots, and shown as dates.
inline std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A monotonic clock for durations (how long a checkpoint took), which a
// change of the wall clock does not bend.
inline std::uint64_t MonotonicNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace kcr::util
