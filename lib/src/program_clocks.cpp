#include "program_clocks.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <kcr/util/status_format.h>
#include "pid_namespace.h"

namespace kcr {

namespace {

constexpr int64_t kNsPerSec = 1000000000;

// Two readings of the boot instant differ by this much at most on one boot:
// what NTP may step CLOCK_REALTIME by between a checkpoint and its restore.
constexpr int64_t kSameBootNs = kNsPerSec;

int64_t Now(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

// "monotonic -12 345" as /proc/self/timens_offsets reads and writes it:
// seconds may be negative, nanoseconds never are.
std::string OffsetLine(const char* clock, int64_t ns) {
  int64_t sec = ns / kNsPerSec;
  int64_t rest = ns % kNsPerSec;
  if (rest < 0) {
    sec -= 1;
    rest += kNsPerSec;
  }
  return fmt::format("{} {} {}\n", clock, sec, rest);
}

}  // namespace

std::optional<ProgramClocks> ClocksOf(const kcr_image_header& header) {
  if (!header.monotonic_ns || !header.boottime_ns || !header.realtime_ns)
    return std::nullopt;
  return ProgramClocks{static_cast<int64_t>(header.monotonic_ns),
                       static_cast<int64_t>(header.boottime_ns),
                       static_cast<int64_t>(header.realtime_ns)};
}

ProgramClocks Latest(const ProgramClocks& a, const ProgramClocks& b) {
  return a.boottime_ns >= b.boottime_ns ? a : b;
}

bool ClocksWouldJump(const ProgramClocks& clocks) {
  const int64_t booted_then = clocks.realtime_ns - clocks.boottime_ns;
  const int64_t booted_here = Now(CLOCK_REALTIME) - Now(CLOCK_BOOTTIME);
  return std::llabs(booted_then - booted_here) > kSameBootNs;
}

std::string ClockOffsets(const ProgramClocks& clocks) {
  // Offsets are from the kernel's clocks, which this process reads as its
  // own less its namespace's offsets (0 outside any).
  int64_t monotonic_offset = 0, boottime_offset = 0;
  std::ifstream in("/proc/self/timens_offsets");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string clock;
    int64_t sec = 0, nsec = 0;
    if (!(fields >> clock >> sec >> nsec))
      continue;
    const int64_t offset = sec * kNsPerSec + nsec;
    if (clock == "monotonic" || clock == std::to_string(CLOCK_MONOTONIC))
      monotonic_offset = offset;
    else if (clock == "boottime" || clock == std::to_string(CLOCK_BOOTTIME))
      boottime_offset = offset;
  }
  monotonic_offset += clocks.monotonic_ns - Now(CLOCK_MONOTONIC);
  boottime_offset += clocks.boottime_ns - Now(CLOCK_BOOTTIME);
  return OffsetLine("monotonic", monotonic_offset) + OffsetLine("boottime", boottime_offset);
}

Status SetClockOffsets(const std::string& offsets) {
  return WriteProcFile("/proc/self/timens_offsets", offsets)
      .With("setting the restored program's clocks to their values at the checkpoint");
}

}  // namespace kcr
