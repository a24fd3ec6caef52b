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
  EXPECT_EQ(FormatDuration(168h), "7d");
  EXPECT_EQ(FormatDuration(90min), "90m");
  EXPECT_EQ(FormatDuration(61s), "61s");
  EXPECT_EQ(FormatDuration(0s), "0s");
}

TEST(UtilDuration, CompoundNamesEveryUnit) {
  EXPECT_EQ(FormatDuration(90s, DurationStyle::kCompound), "1m30s");
  EXPECT_EQ(FormatDuration(26h + 5s, DurationStyle::kCompound), "1d2h5s");
  EXPECT_EQ(FormatDuration(1h, DurationStyle::kCompound), "1h");
  EXPECT_EQ(FormatDuration(0s, DurationStyle::kCompound), "0s");
}

TEST(UtilDuration, NegativeDurationsKeepTheirSign) {
  EXPECT_EQ(FormatDuration(-60s), "-1m");
  EXPECT_EQ(FormatDuration(-5s, DurationStyle::kCompound), "-5s");
}

TEST(UtilDuration, BothStylesReadBack) {
  for (auto d : {1s, 59s, 61s, 3599s, 3601s, 86399s, 90061s}) {
    for (auto style : {DurationStyle::kLargestUnit, DurationStyle::kCompound}) {
      EXPECT_EQ(config::ParseDuration(FormatDuration(d, style)), d) << d.count();
    }
  }
}

TEST(UtilBytes, ExactBelowOneKibibyte) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
}

TEST(UtilBytes, OneDecimalInTheLargestUnit) {
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(5ULL << 20), "5.0 MiB");
  EXPECT_EQ(HumanBytes(3ULL << 50), "3.0 PiB");
}

TEST(UtilHost, NodeNameIsTheShortHostName) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  std::string full = host;
  EXPECT_EQ(NodeName(), full.substr(0, full.find('.')));
  EXPECT_EQ(NodeName().find('.'), std::string::npos);
}

TEST(UtilHost, UnknownUidIsItsNumber) {
  EXPECT_EQ(UserName(0), "root");
  EXPECT_EQ(UserName(4'000'000'123U), "4000000123");
}

TEST(UtilHost, KernelReleaseIsKnown) {
  EXPECT_FALSE(KernelRelease().empty());
}

TEST(UtilClock, NowIsWallClockNanoseconds) {
  const auto before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto now = NowNs();
  EXPECT_GE(now, before);
  EXPECT_LT(now - before, 10'000'000'000LL);
}

}  // namespace
}  // namespace kcr::util
