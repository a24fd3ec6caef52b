// kcr_util: the one duration and byte-size formatter, and the host helpers
// every part of kcr records rows and log lines with.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "kcr/config/config.h"
#include "kcr/util/clock.h"
#include "kcr/util/host.h"
#include "kcr/util/units.h"

namespace kcr::util {
namespace {

using namespace std::chrono_literals;

TEST(UtilDuration, LargestUnitIsTheDefault) {
  EXPECT_EQ(format_duration(168h), "7d");
  EXPECT_EQ(format_duration(90min), "90m");
  EXPECT_EQ(format_duration(61s), "61s");
  EXPECT_EQ(format_duration(0s), "0s");
}

TEST(UtilDuration, CompoundNamesEveryUnit) {
  EXPECT_EQ(format_duration(90s, DurationStyle::kCompound), "1m30s");
  EXPECT_EQ(format_duration(26h + 5s, DurationStyle::kCompound), "1d2h5s");
  EXPECT_EQ(format_duration(1h, DurationStyle::kCompound), "1h");
  EXPECT_EQ(format_duration(0s, DurationStyle::kCompound), "0s");
}

TEST(UtilDuration, NegativeDurationsKeepTheirSign) {
  EXPECT_EQ(format_duration(-60s), "-1m");
  EXPECT_EQ(format_duration(-5s, DurationStyle::kCompound), "-5s");
}

TEST(UtilDuration, BothStylesReadBack) {
  for (auto d : {1s, 59s, 61s, 3599s, 3601s, 86399s, 90061s}) {
    for (auto style : {DurationStyle::kLargestUnit, DurationStyle::kCompound}) {
      EXPECT_EQ(config::parse_duration(format_duration(d, style)), d) << d.count();
    }
  }
}

TEST(UtilBytes, ExactBelowOneKibibyte) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
}

TEST(UtilBytes, OneDecimalInTheLargestUnit) {
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(5ULL << 20), "5.0 MiB");
  EXPECT_EQ(human_bytes(3ULL << 50), "3.0 PiB");
}

TEST(UtilHost, NodeNameIsTheShortHostName) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  std::string full = host;
  EXPECT_EQ(node_name(), full.substr(0, full.find('.')));
  EXPECT_EQ(node_name().find('.'), std::string::npos);
}

TEST(UtilHost, UnknownUidIsItsNumber) {
  EXPECT_EQ(user_name(0), "root");
  EXPECT_EQ(user_name(4'000'000'123U), "4000000123");
}

TEST(UtilHost, KernelReleaseIsKnown) {
  EXPECT_FALSE(kernel_release().empty());
}

TEST(UtilClock, NowIsWallClockNanoseconds) {
  const auto before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto now = now_ns();
  EXPECT_GE(now, before);
  EXPECT_LT(now - before, 10'000'000'000LL);
}

}  // namespace
}  // namespace kcr::util
