// Durations and sizes for people: the one formatter of each that kcr's
// messages, tables and logs use. Both outputs read back with
// kcr::config::ParseDuration and ParseSize.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>

namespace kcr::util {

enum class DurationStyle {
  // "7d", "90m", "61s": the largest unit that divides the duration exactly,
  // as a setting is usually written (configuration values, retention notes).
  kLargestUnit,
  // "1d2h", "1m30s": every unit in turn, as a measured interval reads best
  // (the Slurm agent's log lines and --checkpoint values).
  kCompound,
};

inline std::string FormatDuration(std::chrono::seconds d,
                                  DurationStyle style = DurationStyle::kLargestUnit) {
  static constexpr struct {
    std::int64_t seconds;
    char unit;
  } kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  std::int64_t n = d.count();
  if (n == 0) {
    return "0s";
  }
  if (style == DurationStyle::kLargestUnit) {
    for (const auto& u : kUnits) {
      if (n % u.seconds == 0) {
        return std::to_string(n / u.seconds) + u.unit;
      }
    }
  }
  std::string out;
  for (const auto& u : kUnits) {
    if (n >= u.seconds) {
      out += std::to_string(n / u.seconds) + u.unit;
      n %= u.seconds;
    }
  }
  return out.empty() ? std::to_string(n) + "s" : out;  // negative: as seconds
}

// 1536 -> "1.5 KiB"; exact below 1 KiB ("1000 B"), one decimal above.
inline std::string HumanBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  double v = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", v, kUnits[unit]);
  return text;
}

}  // namespace kcr::util
