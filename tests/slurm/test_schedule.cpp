// The agent's trigger schedule (spank_plugin/schedule.h): what is due at a
// poll, from the job's state, the options, the clock and what was done.
// Each case is a branch a guest scenario reaches (docs/slurm.md, "Tests").
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <vector>

#include "kcr/config/config.h"
#include "schedule.h"

namespace kcr::spank {
namespace {

using namespace std::chrono_literals;

constexpr std::time_t kNow = 1'700'000'000;
const Clock::time_point kStart{};  // the agent's start on the monotonic clock

JobView Running() {
  JobView j;
  j.known = true;
  j.running = true;
  return j;
}

JobView Preempted() {
  JobView j = Running();
  j.preempt_time = kNow - 1;
  j.end_time = kNow + 3;  // GraceTime
  j.time_limited = true;
  return j;
}

JobView NearTimeLimit(std::time_t end) {
  JobView j = Running();
  j.time_limited = true;
  j.end_time = end;
  return j;
}

TriggerSchedule Every(std::chrono::seconds interval, TriggerRules rules = {}) {
  TriggerSchedule s(rules);
  s.Rearm(interval, kStart);
  return s;
}

// ---- the job leaving, suspended, off ----

TEST(Schedule, AJobThatLeftEndsHeldTasks) {  // slurm.preempt: the requeue
  TriggerSchedule s = Every(4s);
  JobView j = Running();
  j.running = false;
  EXPECT_EQ(s.Next(j, kNow, kStart + 10s), Due::kEndHeldTasks);
}

TEST(Schedule, AJobThatLeftEndsHeldTasksEvenWithoutCheckpoints) {
  TriggerSchedule s({.checkpoints = false});
  JobView j = Running();
  j.running = false;
  EXPECT_EQ(s.Next(j, kNow, kStart), Due::kEndHeldTasks);
}

TEST(Schedule, ASuspendedJobIsLeftAlone) {
  TriggerSchedule s = Every(4s);
  JobView j = Preempted();
  j.suspended = true;
  EXPECT_EQ(s.Next(j, kNow, kStart + 10s), Due::kNothing);
}

TEST(Schedule, ARestoreOnlyJobTakesNoCheckpoints) {  // slurm.restart_from: --checkpoint=off
  TriggerSchedule s({.checkpoints = false});
  EXPECT_EQ(s.Next(Preempted(), kNow, kStart + 10s), Due::kNothing);
}

// ---- preemption ----

TEST(Schedule, GraceStartIsAPreemptionCheckpoint) {  // slurm.preempt
  TriggerSchedule s = Every(4s);
  EXPECT_EQ(s.Next(Preempted(), kNow, kStart + 1s), Due::kPreempt);
}

TEST(Schedule, APreemptionIsCheckpointedOnce) {
  TriggerSchedule s = Every(4s);
  ASSERT_EQ(s.Next(Preempted(), kNow, kStart + 1s), Due::kPreempt);
  EXPECT_EQ(s.Next(Preempted(), kNow + 1, kStart + 2s), Due::kNothing);
}

TEST(Schedule, NoPeriodicCheckpointAfterAPreemptionOne) {
  TriggerSchedule s = Every(4s);
  ASSERT_EQ(s.Next(Preempted(), kNow, kStart + 1s), Due::kPreempt);
  EXPECT_EQ(s.Next(Running(), kNow + 60, kStart + 60s), Due::kNothing);
}

TEST(Schedule, PreemptionWinsOverAnElapsedInterval) {
  TriggerSchedule s = Every(4s);
  EXPECT_EQ(s.Next(Preempted(), kNow, kStart + 5s), Due::kPreempt);
}

TEST(Schedule, PreemptOffLeavesTheGracePeriodAlone) {  // --checkpoint-on=timelimit
  TriggerSchedule s({.on_preempt = false});
  EXPECT_EQ(s.Next(Preempted(), kNow, kStart), Due::kNothing);
}

TEST(Schedule, APreemptionIsNotTakenForATimeLimit) {
  // The grace period cut end_time to now + GraceTime: within the margin, but
  // it is the preemption's checkpoint, taken once.
  TriggerSchedule s({.on_preempt = false});
  EXPECT_NE(s.Next(Preempted(), kNow, kStart), Due::kTimelimit);
}

// ---- time limit ----

TEST(Schedule, TheMarginBeforeTheLimitIsATimeLimitCheckpoint) {  // slurm.timelimit
  TriggerSchedule s({.grace_margin = 50s});
  EXPECT_EQ(s.Next(NearTimeLimit(kNow + 50), kNow, kStart), Due::kTimelimit);
}

TEST(Schedule, BeforeTheMarginNothingIsDue) {
  TriggerSchedule s({.grace_margin = 50s});
  EXPECT_EQ(s.Next(NearTimeLimit(kNow + 51), kNow, kStart), Due::kNothing);
}

TEST(Schedule, ATimeLimitIsCheckpointedOncePerEndTime) {
  TriggerSchedule s({.grace_margin = 50s});
  ASSERT_EQ(s.Next(NearTimeLimit(kNow + 50), kNow, kStart), Due::kTimelimit);
  EXPECT_EQ(s.Next(NearTimeLimit(kNow + 50), kNow + 1, kStart + 1s), Due::kNothing);
}

TEST(Schedule, ARaisedTimeLimitIsCheckpointedAgain) {
  TriggerSchedule s({.grace_margin = 50s});
  ASSERT_EQ(s.Next(NearTimeLimit(kNow + 50), kNow, kStart), Due::kTimelimit);
  EXPECT_EQ(s.Next(NearTimeLimit(kNow + 600), kNow + 560, kStart + 560s), Due::kTimelimit);
}

TEST(Schedule, NoTimeLimitNoTimeLimitCheckpoint) {
  TriggerSchedule s({.grace_margin = 50s});
  JobView j = NearTimeLimit(kNow + 10);
  j.time_limited = false;
  EXPECT_EQ(s.Next(j, kNow, kStart), Due::kNothing);
}

TEST(Schedule, AnUnknownEndTimeIsNoTimeLimit) {
  TriggerSchedule s({.grace_margin = 50s});
  EXPECT_EQ(s.Next(NearTimeLimit(0), kNow, kStart), Due::kNothing);
}

TEST(Schedule, TimeLimitOffLeavesTheLimitAlone) {  // --checkpoint-on=preempt (slurm.fallback)
  TriggerSchedule s({.on_timelimit = false, .grace_margin = 50s});
  EXPECT_EQ(s.Next(NearTimeLimit(kNow + 10), kNow, kStart), Due::kNothing);
}

// ---- periodic ----

TEST(Schedule, TheIntervalElapsedIsAPeriodicCheckpoint) {  // slurm.preempt: --checkpoint=4s
  TriggerSchedule s = Every(4s);
  EXPECT_EQ(s.Next(Running(), kNow, kStart + 3s), Due::kNothing);
  EXPECT_EQ(s.Next(Running(), kNow, kStart + 4s), Due::kPeriodic);
}

TEST(Schedule, TheIntervalCountsFromTheLastCheckpoint) {
  TriggerSchedule s = Every(4s);
  s.Rearm(4s, kStart + 3s);  // e.g. an on-demand checkpoint ended then
  EXPECT_EQ(s.Next(Running(), kNow, kStart + 4s), Due::kNothing);
  EXPECT_EQ(s.Next(Running(), kNow, kStart + 7s), Due::kPeriodic);
}

TEST(Schedule, NoIntervalNoPeriodicCheckpoints) {  // --checkpoint=none (slurm.timelimit)
  TriggerSchedule s = Every(0s);
  EXPECT_EQ(s.Next(Running(), kNow, kStart + 1h), Due::kNothing);
}

TEST(Schedule, PeriodicCheckpointsGoOnWhileSlurmctldIsSilent) {
  TriggerSchedule s = Every(4s);
  EXPECT_EQ(s.Next(JobView{}, kNow, kStart + 4s), Due::kPeriodic);
}

TEST(Schedule, EventsWaitForSlurmctld) {
  TriggerSchedule s = Every(0s);
  JobView unknown = Preempted();
  unknown.known = false;
  EXPECT_EQ(s.Next(unknown, kNow, kStart), Due::kNothing);
}

// ---- --checkpoint=auto ----

TEST(AutoInterval, MeasuredCostIsTheMeanOfTheLastCheckpoints) {
  std::array<std::uint64_t, 3> ns = {1'000'000'000, 2'000'000'000, 3'000'000'000};
  CheckpointCost c = EstimateCost(ns, 1ULL << 40);
  EXPECT_DOUBLE_EQ(c.seconds.count(), 2.0);
  EXPECT_EQ(c.how, "measured over 3 checkpoints");
}

TEST(AutoInterval, OneMeasurementIsSingular) {
  std::array<std::uint64_t, 1> ns = {500'000'000};
  EXPECT_EQ(EstimateCost(ns, 0).how, "measured over 1 checkpoint");
}

TEST(AutoInterval, BeforeAnyMeasurementMemoryIsTheEstimate) {  // slurm.srun_step
  CheckpointCost c = EstimateCost({}, 4ULL << 20);
  EXPECT_DOUBLE_EQ(c.seconds.count(), 0.1 + 4.0 / 1024);
  EXPECT_EQ(c.how, "estimated from 4 MiB of memory (none measured yet)");
}

TEST(AutoInterval, TheDearestTaskDecides) {
  std::vector<CheckpointCost> costs = {{2s, "a"}, {8s, "b"}, {5s, "c"}};
  AutoInterval a = ChooseAutoInterval(costs, 0s, 24h, 10s);
  EXPECT_EQ(a.cost.how, "b");
  EXPECT_EQ(a.young_daly, config::YoungDalyInterval(8s, 24h));
}

TEST(AutoInterval, TheSiteMtbfWinsOverKcrYaml) {
  std::vector<CheckpointCost> costs = {{1s, ""}};
  EXPECT_EQ(ChooseAutoInterval(costs, 1h, 24h, 0s).mtbf, 1h);
  EXPECT_EQ(ChooseAutoInterval(costs, 0s, 24h, 0s).mtbf, 24h);
}

TEST(AutoInterval, WithoutAnMtbfADayIsAssumed) {
  std::vector<CheckpointCost> costs = {{1s, ""}};
  AutoInterval a = ChooseAutoInterval(costs, 0s, 0s, 0s);
  EXPECT_TRUE(a.mtbf_assumed);
  EXPECT_EQ(a.mtbf, 24h);
}

TEST(AutoInterval, TheSiteMinimumIsAFloor) {  // slurm.srun_step: MTBF 1m -> 3s, floor
  std::vector<CheckpointCost> costs = {{std::chrono::duration<double>(0.1), ""}};
  AutoInterval a = ChooseAutoInterval(costs, 60s, 0s, 10s);
  EXPECT_LT(a.young_daly, 10s);
  EXPECT_EQ(a.interval, 10s);
}

TEST(AutoInterval, AboveTheFloorYoungDalyIsUsed) {
  std::vector<CheckpointCost> costs = {{60s, ""}};
  AutoInterval a = ChooseAutoInterval(costs, 24h, 0s, 10s);
  EXPECT_EQ(a.interval, a.young_daly);
  EXPECT_GT(a.interval, 10s);
}

}  // namespace
}  // namespace kcr::spank
