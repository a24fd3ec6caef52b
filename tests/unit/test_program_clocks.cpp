// When a restored program's clocks need a time namespace, and its offsets
// (lib/src/program_clocks.h), against this host's real clocks.
#include <gtest/gtest.h>
#include <time.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "program_clocks.h"

namespace kcr {
namespace {

constexpr int64_t kSecond = 1000000000;
constexpr int64_t kDay = 86400 * kSecond;

int64_t Now(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ts.tv_sec * kSecond + ts.tv_nsec;
}

// The program's clocks as this process reads them now, shifted by `boot_shift`
// (as on a node booted that much earlier).
ProgramClocks ClocksNow(int64_t boot_shift) {
  return {Now(CLOCK_MONOTONIC) + boot_shift, Now(CLOCK_BOOTTIME) + boot_shift, Now(CLOCK_REALTIME)};
}

// The offset, in ns, of CLOCK's line in /proc/PID/timens_offsets' format.
int64_t OffsetOf(const std::string& offsets, const std::string& clock) {
  std::istringstream lines(offsets);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name;
    int64_t sec = 0, nsec = -1;
    if (fields >> name >> sec >> nsec && name == clock) {
      EXPECT_GE(nsec, 0) << line;
      EXPECT_LT(nsec, kSecond) << line;
      return sec * kSecond + nsec;
    }
  }
  ADD_FAILURE() << "no " << clock << " line in: " << offsets;
  return 0;
}

TEST(ProgramClocks, AnImageWithoutClocksHasNone) {
  kcr_image_header h{};
  EXPECT_FALSE(ClocksOf(h));
  h.monotonic_ns = 5;
  h.boottime_ns = 6;
  h.realtime_ns = 7;
  ASSERT_TRUE(ClocksOf(h));
  EXPECT_EQ(ClocksOf(h)->boottime_ns, 6);
}

TEST(ProgramClocks, OnlyAnotherBootsClocksWouldJump) {
  EXPECT_FALSE(ClocksWouldJump(ClocksNow(0))) << "this boot's own clocks";
  EXPECT_TRUE(ClocksWouldJump(ClocksNow(kDay))) << "a node booted a day earlier";
  EXPECT_TRUE(ClocksWouldJump(ClocksNow(-5 * kSecond))) << "a node booted 5 s later";
}

TEST(ProgramClocks, LatestIsTheLaterReading) {
  ProgramClocks early{1, 2, 3}, late{4, 5, 6};
  EXPECT_EQ(Latest(early, late).boottime_ns, 5);
  EXPECT_EQ(Latest(late, early).boottime_ns, 5);
}

TEST(ProgramClocks, OffsetsContinueTheClocksFromTheirSavedValues) {
  // A program whose clocks read a day ahead of this process's: the offsets
  // of its new namespace add that day (this test runs outside any time
  // namespace, as the CI's does).
  const std::string ahead = ClockOffsets(ClocksNow(kDay));
  EXPECT_LT(std::llabs(OffsetOf(ahead, "monotonic") - kDay), kSecond);
  EXPECT_LT(std::llabs(OffsetOf(ahead, "boottime") - kDay), kSecond);
  // Behind: negative seconds, nanoseconds still within [0, 1 s).
  const std::string behind = ClockOffsets(ClocksNow(-kSecond / 2));
  EXPECT_LT(std::llabs(OffsetOf(behind, "monotonic") + kSecond / 2), kSecond / 4);
}

}  // namespace
}  // namespace kcr
