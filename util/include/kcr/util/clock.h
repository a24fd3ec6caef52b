// The wall clock as the catalog stores it: nanoseconds since the Unix epoch.
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

}  // namespace kcr::util
