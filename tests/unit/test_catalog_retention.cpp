// Retention: the planner on hand-made rows (each rule alone and together),
// then ApplyPrune() on a real catalog with real files.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "catalog_test_util.h"
#include "kcr/catalog/catalog.h"
#include "kcr/catalog/retention.h"

namespace kcr::catalog {
namespace {

using testing::kHourNs;
using testing::SlurmCheckpoint;
using testing::TempDir;
using testing::TestCatalog;
using testing::WriteFile;

constexpr std::int64_t kNow = 1'700'000'000LL * 1'000'000'000;

struct RowSpec {
  std::int64_t id;
  std::uint32_t job = 1;
  std::uint32_t task = 0;
  double age_hours = 1;
  State state = State::kCommitted;
  std::uint64_t bytes = 100;
  std::optional<std::int64_t> parent = std::nullopt;
  std::uint32_t uid = 1000;
  std::int32_t pid = 10;
  std::string path = "";
  std::optional<std::int64_t> set = std::nullopt;  // set_key; set_size 2
};

CheckpointRow Make(const RowSpec& s) {
  CheckpointRow r;
  r.id = s.id;
  r.info =
      SlurmCheckpoint(s.job, 0, s.task, s.path.empty() ? "/img/" + std::to_string(s.id) : s.path);
  r.info.uid = s.uid;
  r.info.user = "u" + std::to_string(s.uid);
  r.info.pid = s.pid;
  r.info.parent_id = s.parent;
  r.info.created_ns = kNow - static_cast<std::int64_t>(s.age_hours * static_cast<double>(kHourNs));
  r.state = s.state;
  r.bytes = s.bytes;
  r.set_key = s.set;
  r.set_size = s.set ? 2 : 1;
  return r;
}

std::vector<CheckpointRow> Rows(std::initializer_list<RowSpec> specs) {
  std::vector<CheckpointRow> out;
  for (const auto& s : specs) {
    out.push_back(Make(s));
  }
  return out;
}

RetentionPolicy Policy(std::uint32_t keep_last, int max_age_hours = 0, std::uint64_t quota = 0) {
  RetentionPolicy p;
  p.keep_last = keep_last;
  p.max_age = std::chrono::hours(max_age_hours);
  p.user_quota = quota;
  return p;
}

const ActiveJobs kNoneActive = std::unordered_set<std::uint32_t>{};

// id -> action, for compact assertions.
std::map<std::int64_t, PruneAction> ById(const PrunePlan& plan) {
  std::map<std::int64_t, PruneAction> out;
  for (const auto& a : plan.actions) {
    out[a.id] = a;
  }
  return out;
}

std::vector<std::int64_t> IdsOf(const PrunePlan& plan) {
  std::vector<std::int64_t> out;
  for (const auto& a : plan.actions) {
    out.push_back(a.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

using Ids = std::vector<std::int64_t>;

TEST(CatalogRetention, KeepLastCountsEachTaskSeparately) {
  auto r = Rows({{.id = 1, .age_hours = 5},
                 {.id = 2, .age_hours = 4},
                 {.id = 3, .age_hours = 3},
                 {.id = 4, .age_hours = 2},
                 {.id = 5, .age_hours = 1},
                 {.id = 6, .task = 1, .age_hours = 9},
                 {.id = 7, .task = 1, .age_hours = 8}});
  auto plan = PlanRetention(r, Policy(3), kNoneActive, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{1, 2}));
  for (const auto& a : plan.actions) {
    EXPECT_EQ(a.kind, PruneKind::kExpire);
    EXPECT_NE(a.reason.find("keep_last"), std::string::npos) << a.reason;
    EXPECT_TRUE(a.unlink_image);
  }
}

// Tasks 0 and 1 of a step: set 1 is whole, sets 3 and 5 lack task 1's
// member (its checkpoints failed). keep_last 1 keeps task 0's newest (5) and
// task 1's (2), and then all of set 1, the newest a restore can use.
TEST(CatalogRetention, AWholeSetIsKeptWhole) {
  auto r = Rows({{.id = 1, .age_hours = 5, .set = 1},
                 {.id = 2, .task = 1, .age_hours = 5, .set = 1},
                 {.id = 3, .age_hours = 3, .set = 3},
                 {.id = 5, .age_hours = 1, .set = 5}});
  auto plan = PlanRetention(r, Policy(1), kNoneActive, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{3}));
}

TEST(CatalogRetention, MaxAgeExpiresOldCheckpoints) {
  auto r = Rows({{.id = 1, .age_hours = 30}, {.id = 2, .age_hours = 20}, {.id = 3}});
  auto plan = PlanRetention(r, Policy(0, 24), kNoneActive, kNow);
  ASSERT_EQ(IdsOf(plan), (Ids{1}));
  EXPECT_NE(plan.actions[0].reason.find("max_age 1d"), std::string::npos);
}

TEST(CatalogRetention, NewestGoodCheckpointOfAnActiveJobIsNeverExpired) {
  auto r = Rows({{.id = 1, .age_hours = 50},
                 {.id = 2, .age_hours = 49},
                 {.id = 3, .age_hours = 48},
                 {.id = 4, .age_hours = 47, .state = State::kFailed}});
  ActiveJobs active = std::unordered_set<std::uint32_t>{1};
  // A FAILED row is not a good one: the newest good (3) is what is kept.
  EXPECT_EQ(IdsOf(PlanRetention(r, Policy(1, 24), active, kNow)), (Ids{1, 2, 4}));
  EXPECT_EQ(IdsOf(PlanRetention(r, Policy(1, 24), kNoneActive, kNow)), (Ids{1, 2, 3, 4}));
  // Also over quota: the protected one stays, and the plan says why.
  auto plan = PlanRetention(r, Policy(0, 0, 50), active, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{1, 2, 4}));
  ASSERT_EQ(plan.notes.size(), 1u);
  EXPECT_NE(plan.notes[0].find("stays over user_quota"), std::string::npos) << plan.notes[0];
}

TEST(CatalogRetention, WithoutSqueueJobsWithARecentCheckpointCountAsActive) {
  auto r = Rows({{.id = 1, .job = 1, .age_hours = 48},
                 {.id = 2, .job = 1, .age_hours = 1, .state = State::kFailed},
                 {.id = 3, .job = 2, .age_hours = 48}});
  // Job 1 tried a checkpoint an hour ago, so it is taken to be running and
  // keeps its newest good image; job 2 shows no sign of life.
  auto plan = PlanRetention(r, Policy(0, 24), std::nullopt, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{2, 3}));
  EXPECT_EQ(ById(plan)[2].kind, PruneKind::kClean);
}

TEST(CatalogRetention, ParentsOfKeptCheckpointsAreKeptAlongTheChain) {
  auto r = Rows({{.id = 1, .age_hours = 3},
                 {.id = 2, .age_hours = 2, .parent = 1},
                 {.id = 3, .age_hours = 1, .parent = 2},
                 {.id = 4, .task = 1, .age_hours = 9},
                 {.id = 5, .task = 1, .age_hours = 8}});
  EXPECT_EQ(IdsOf(PlanRetention(r, Policy(1), kNoneActive, kNow)), (Ids{4}));
}

TEST(CatalogRetention, ADamagedParentOfAKeptCheckpointIsNotCleaned) {
  auto r = Rows({{.id = 1, .age_hours = 3, .state = State::kCorrupt},
                 {.id = 2, .age_hours = 1, .parent = 1},
                 {.id = 3, .age_hours = 2, .state = State::kCorrupt}});
  EXPECT_EQ(IdsOf(PlanRetention(r, Policy(3), kNoneActive, kNow)), (Ids{3}));
}

TEST(CatalogRetention, QuotaRemovesTheUsersOldestFirst) {
  auto r = Rows({{.id = 1, .age_hours = 4},
                 {.id = 2, .task = 1, .age_hours = 3},
                 {.id = 3, .age_hours = 2},
                 {.id = 4, .task = 1, .age_hours = 1},
                 {.id = 5, .job = 9, .age_hours = 9, .uid = 2000}});
  auto plan = PlanRetention(r, Policy(0, 0, 250), kNoneActive, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{1, 2}));  // 400 -> 200 bytes; the other user is under quota
  EXPECT_NE(plan.actions[0].reason.find("user_quota"), std::string::npos);
  EXPECT_TRUE(plan.notes.empty());
}

TEST(CatalogRetention, QuotaTakesAChildBeforeItsParent) {
  auto r = Rows({{.id = 1, .age_hours = 3},
                 {.id = 2, .age_hours = 2, .parent = 1},
                 {.id = 3, .task = 1, .age_hours = 1}});
  // 300 bytes, quota 150: 1 cannot go while 2 names it; 2 goes first, then 1.
  auto plan = PlanRetention(r, Policy(0, 0, 150), kNoneActive, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{1, 2}));
}

TEST(CatalogRetention, AParentKeptOnlyForAChildGoesWithIt) {
  auto r = Rows({{.id = 1, .age_hours = 30},
                 {.id = 2, .age_hours = 2, .parent = 1},
                 {.id = 3, .task = 1, .age_hours = 1}});
  // max_age expires 1, but 2 needs it; the quota then takes 2 and 1 with it.
  auto plan = PlanRetention(r, Policy(0, 24, 150), kNoneActive, kNow);
  EXPECT_EQ(IdsOf(plan), (Ids{1, 2}));
  EXPECT_NE(ById(plan)[1].reason.find("max_age"), std::string::npos);
}

TEST(CatalogRetention, FailedCorruptExpiredAndAbandonedRowsAreCleaned) {
  auto r = Rows({{.id = 1, .age_hours = 5, .state = State::kFailed},
                 {.id = 2, .age_hours = 5, .state = State::kCorrupt},
                 {.id = 3, .age_hours = 5, .state = State::kExpired},
                 {.id = 4, .age_hours = 2, .state = State::kWriting},
                 {.id = 5, .age_hours = 0.1, .state = State::kWriting},
                 {.id = 6, .age_hours = 5, .state = State::kDeleted}});
  auto plan = ById(PlanRetention(r, Policy(3), kNoneActive, kNow));
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[1].kind, PruneKind::kClean);
  EXPECT_EQ(plan[2].kind, PruneKind::kClean);
  EXPECT_EQ(plan[3].kind, PruneKind::kClean);
  EXPECT_EQ(plan[4].kind, PruneKind::kAbandonWriting);
  EXPECT_EQ(plan[4].from, State::kWriting);
  EXPECT_NE(plan[4].reason.find("writing_timeout 1h"), std::string::npos) << plan[4].reason;
  EXPECT_FALSE(plan.contains(5));  // still being written
}

TEST(CatalogRetention, AnImageALiveRowStillNamesIsNotUnlinked) {
  auto r = Rows({{.id = 1, .age_hours = 5, .state = State::kFailed, .path = "/img/shared"},
                 {.id = 2, .age_hours = 1, .path = "/img/shared"}});
  auto plan = PlanRetention(r, Policy(3), kNoneActive, kNow);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_FALSE(plan.actions[0].unlink_image);
}

TEST(CatalogRetention, ManualCheckpointsFormOneSeriesPerProcess) {
  auto r = Rows({{.id = 1, .job = kManualJob, .age_hours = 3, .pid = 1},
                 {.id = 2, .job = kManualJob, .age_hours = 2, .pid = 1},
                 {.id = 3, .job = kManualJob, .age_hours = 1, .pid = 1},
                 {.id = 4, .job = kManualJob, .age_hours = 9, .pid = 2}});
  EXPECT_EQ(IdsOf(PlanRetention(r, Policy(2), std::nullopt, kNow)), (Ids{1}));
}

// ---- applying a plan ----

class CatalogPrune : public ::testing::Test {
 protected:
  TempDir dir_;
  TestCatalog cat_ = TestCatalog::Open(dir_ / "c.db");

  std::int64_t Good(const std::string& name, double age_hours, std::uint32_t task = 0) {
    auto path = dir_ / name;
    WriteFile(path, 1000);
    auto info = SlurmCheckpoint(1, 0, task, path.string());
    info.created_ns =
        testing::NowNs() - static_cast<std::int64_t>(age_hours * static_cast<double>(kHourNs));
    auto id = cat_.BeginCheckpoint(info);
    cat_.CommitCheckpoint(id, {1000, 1, 0, 0});
    return id;
  }
  PrunePlan Plan(std::uint32_t keep_last) {
    return PlanRetention(cat_.RetentionCandidates(), Policy(keep_last), kNoneActive,
                         testing::NowNs());
  }
};

TEST_F(CatalogPrune, RemovesFilesThenMarksRowsDeleted) {
  auto a = Good("a", 3);
  auto b = Good("b", 2);
  auto c = Good("c", 1);
  auto f = cat_.BeginCheckpoint(SlurmCheckpoint(1, 0, 0, (dir_ / "failed").string()));
  WriteFile(dir_ / "failed", 10);  // what a failed writer left
  cat_.FailCheckpoint(f, "ENOSPC");

  auto result = cat_.ApplyPrune(Plan(2));
  EXPECT_TRUE(result.problems.empty());
  EXPECT_EQ(result.done.size(), 2u);
  EXPECT_EQ(result.bytes_freed, 1000u);  // the failed row recorded no size
  EXPECT_EQ(cat_.Get(a)->state, State::kDeleted);
  EXPECT_NE(cat_.Get(a)->state_reason.find("pruned: not among the newest 2"), std::string::npos);
  EXPECT_EQ(cat_.Get(f)->state, State::kDeleted);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "failed"));
  EXPECT_EQ(cat_.Get(b)->state, State::kCommitted);
  EXPECT_EQ(cat_.Get(c)->state, State::kCommitted);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "b"));
  // Nothing more to do the second time.
  EXPECT_TRUE(Plan(2).actions.empty());
}

TEST_F(CatalogPrune, AbandonedWriteLosesItsRowAndItsTemporaryFile) {
  auto info = SlurmCheckpoint(1, 0, 0, (dir_ / "x.kcr").string());
  info.created_ns = testing::NowNs() - 2 * kHourNs;
  auto id = cat_.BeginCheckpoint(info);  // and then the writer died
  WriteFile(dir_ / "x.kcr.tmp-a1B2c3", 500);
  WriteFile(dir_ / "x.kcr.tmp-notours", 5);  // not a name libkcr makes
  auto result = cat_.ApplyPrune(Plan(3));
  ASSERT_EQ(result.done.size(), 1u);
  EXPECT_EQ(result.done[0].kind, PruneKind::kAbandonWriting);
  EXPECT_EQ(cat_.Get(id)->state, State::kDeleted);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.kcr.tmp-a1B2c3"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "x.kcr.tmp-notours"));
  EXPECT_EQ(result.bytes_freed, 500u);
}

TEST_F(CatalogPrune, FinishesWhatACrashedPruneLeft) {
  auto a = Good("a", 3);
  cat_.Move(a, State::kExpired, "older than max_age 1d");  // then the pruner died
  auto p = Plan(0);
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].kind, PruneKind::kClean);
  cat_.ApplyPrune(p);
  EXPECT_EQ(cat_.Get(a)->state, State::kDeleted);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a"));
}

TEST_F(CatalogPrune, LeavesRowsThatChangedSinceThePlan) {
  auto a = Good("a", 3);
  Good("b", 1);
  auto p = Plan(1);
  ASSERT_EQ(p.actions.size(), 1u);
  cat_.MarkCorrupt(a, "found bad by a concurrent verify");
  auto result = cat_.ApplyPrune(p);
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_NE(result.problems[0].find("left alone"), std::string::npos);
  EXPECT_EQ(cat_.Get(a)->state, State::kCorrupt);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "a"));
}

TEST_F(CatalogPrune, DoesNotUnlinkAnImageThatANewerCheckpointNowUses) {
  auto f = cat_.BeginCheckpoint(SlurmCheckpoint(1, 0, 0, (dir_ / "reused").string()));
  cat_.FailCheckpoint(f, "killed");
  auto p = Plan(3);
  ASSERT_EQ(p.actions.size(), 1u);
  ASSERT_TRUE(p.actions[0].unlink_image);
  // Between plan and apply, a new checkpoint is written to the same path.
  WriteFile(dir_ / "reused", 1000);
  auto id = cat_.BeginCheckpoint(SlurmCheckpoint(1, 0, 0, (dir_ / "reused").string()));
  cat_.CommitCheckpoint(id, {1000, 1, 0, 0});
  cat_.ApplyPrune(p);
  EXPECT_EQ(cat_.Get(f)->state, State::kDeleted);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "reused"));
  EXPECT_EQ(cat_.LatestGood(1, 0, 0).size(), 1u);
}

}  // namespace
}  // namespace kcr::catalog
