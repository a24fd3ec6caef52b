// The restore plan (spank_plugin/restore_plan.h): which images a task of a
// requeued job tries, and in which order, from what the catalog holds.
#include <gtest/gtest.h>

#include <vector>

#include "restore_plan.h"

namespace kcr::spank {
namespace {

namespace cat = kcr::catalog;

constexpr std::uint32_t kUid = 1000;
constexpr std::uint32_t kStep = 0;
constexpr std::uint32_t kTask = 0;

cat::CheckpointRow Row(std::int64_t id, cat::State state = cat::State::kVerified) {
  cat::CheckpointRow r;
  r.id = id;
  r.state = state;
  r.info.uid = kUid;
  r.info.step_id = kStep;
  r.info.task = kTask;
  r.info.image_path = "/ckpt/" + std::to_string(id) + ".kcr";
  return r;
}

RestorePlanInput Asked(RestartFrom from, std::uint32_t restart,
                       std::vector<cat::CheckpointRow> latest = {},
                       std::optional<cat::CheckpointRow> named = std::nullopt) {
  RestorePlanInput in;
  in.from = from;
  in.restart = restart;
  in.uid = kUid;
  in.step = kStep;
  in.task = kTask;
  in.latest = std::move(latest);
  in.named = std::move(named);
  return in;
}

std::vector<std::int64_t> Ids(const RestorePlan& plan) {
  std::vector<std::int64_t> ids;
  for (const auto& r : plan.candidates)
    ids.push_back(r.id);
  return ids;
}

const RestartFrom kLatest{};
RestartFrom Named(std::int64_t id) {
  return {RestartFrom::Kind::kId, id};
}

// ---- latest ----

TEST(RestorePlan, AFirstRunRestoresNothing) {
  RestorePlan p = PlanRestore(Asked(kLatest, 0, {Row(3)}));
  EXPECT_TRUE(p.candidates.empty());
  EXPECT_EQ(p.note, "first run");
}

TEST(RestorePlan, ARequeuedTaskTriesItsCheckpointsNewestFirst) {  // slurm.preempt, fallback
  RestorePlan p = PlanRestore(Asked(kLatest, 1, {Row(9), Row(7), Row(4)}));
  EXPECT_EQ(Ids(p), (std::vector<std::int64_t>{9, 7, 4}));
  EXPECT_TRUE(p.note.empty());
}

TEST(RestorePlan, ARequeuedTaskWithoutCheckpointsStartsCold) {
  RestorePlan p = PlanRestore(Asked(kLatest, 2));
  EXPECT_TRUE(p.candidates.empty());
  EXPECT_EQ(p.note, "no good checkpoint of this task in the catalog");
}

TEST(RestorePlan, NoneRestoresNothingEvenAfterARequeue) {
  RestorePlan p = PlanRestore(Asked({RestartFrom::Kind::kNone, 0}, 1, {Row(9)}));
  EXPECT_TRUE(p.candidates.empty());
  EXPECT_EQ(p.note, "--restart-from=none");
}

// ---- --restart-from=ID ----

TEST(RestorePlan, ANamedCheckpointIsRestoredInTheFirstRun) {  // slurm.restart_from
  RestorePlan p = PlanRestore(Asked(Named(5), 0, {}, Row(5)));
  EXPECT_EQ(Ids(p), (std::vector<std::int64_t>{5}));
}

TEST(RestorePlan, AfterARequeueNewerCheckpointsComeBeforeTheNamedOne) {
  RestorePlan p = PlanRestore(Asked(Named(5), 1, {Row(9), Row(5), Row(7)}, Row(5)));
  EXPECT_EQ(Ids(p), (std::vector<std::int64_t>{9, 7, 5}));
}

TEST(RestorePlan, AMissingNamedCheckpointIsSaid) {
  RestorePlan p = PlanRestore(Asked(Named(5), 1, {Row(9)}));
  EXPECT_TRUE(p.candidates.empty());
  EXPECT_EQ(p.note, "--restart-from=5: no such checkpoint");
}

TEST(RestorePlan, AnotherUsersCheckpointIsRefused) {
  cat::CheckpointRow theirs = Row(5);
  theirs.info.uid = 2000;
  RestorePlan p = PlanRestore(Asked(Named(5), 1, {Row(9)}, theirs));
  EXPECT_TRUE(p.candidates.empty());
  EXPECT_EQ(p.note, "--restart-from=5: the checkpoint belongs to uid 2000");
}

TEST(RestorePlan, ABadNamedCheckpointIsRefused) {
  RestorePlan p = PlanRestore(Asked(Named(5), 0, {}, Row(5, cat::State::kCorrupt)));
  EXPECT_TRUE(p.candidates.empty());
  EXPECT_EQ(p.note, "--restart-from=5: the checkpoint is CORRUPT");
}

TEST(RestorePlan, ACommittedNamedCheckpointIsGood) {
  RestorePlan p = PlanRestore(Asked(Named(5), 0, {}, Row(5, cat::State::kCommitted)));
  EXPECT_EQ(Ids(p), (std::vector<std::int64_t>{5}));
}

TEST(RestorePlan, AnotherTasksCheckpointLeavesThisTaskOnLatest) {
  cat::CheckpointRow other = Row(5);
  other.info.task = 1;
  EXPECT_EQ(Ids(PlanRestore(Asked(Named(5), 1, {Row(9)}, other))), (std::vector<std::int64_t>{9}));
  EXPECT_EQ(PlanRestore(Asked(Named(5), 0, {}, other)).note, "first run");
}

TEST(RestorePlan, AnotherStepsCheckpointLeavesThisTaskOnLatest) {
  cat::CheckpointRow other = Row(5);
  other.info.step_id = 3;
  EXPECT_EQ(Ids(PlanRestore(Asked(Named(5), 1, {Row(9)}, other))), (std::vector<std::int64_t>{9}));
}

// ---- the run ----

TEST(RestorePlan, TheRunIsSlurmctldsCountOrTheTasksIfHigher) {
  EXPECT_EQ(RunOf(2, 0), 2u);
  EXPECT_EQ(RunOf(1, 3), 3u);
  EXPECT_EQ(RunOf(std::nullopt, 1), 1u);  // slurmctld never answered
  EXPECT_EQ(RunOf(std::nullopt, -4), 0u);
}

}  // namespace
}  // namespace kcr::spank
