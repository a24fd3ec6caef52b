// The one rule that decides a restore's outcome (spank_plugin/
// restore_outcome.h), event by event as the agent observes them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "restore_outcome.h"

namespace kcr::spank {
namespace {

int ExitStatus(int code) {
  return code << 8;  // as wait() reports exit(code)
}
int KilledBy(int signal) {
  return signal;  // as wait() reports death by `signal`
}

RestoreWatch Trying() {
  RestoreWatch w;
  w.Planned("slurmstepd");
  EXPECT_FALSE(w.Tried());
  return w;
}

TEST(RestoreOutcome, WaitStatusHelpersMatchWait) {
  EXPECT_TRUE(WIFEXITED(ExitStatus(75)));
  EXPECT_EQ(WEXITSTATUS(ExitStatus(75)), 75);
  EXPECT_TRUE(WIFSIGNALED(KilledBy(SIGKILL)));
}

TEST(RestoreOutcome, AReportedFailureFails) {  // slurm.fallback: the corrupt image
  RestoreWatch w = Trying();
  auto v = w.FailureReported("page chunk 2: checksum mismatch", true);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->succeeded);
  EXPECT_EQ(v->reason, "page chunk 2: checksum mismatch");
  EXPECT_TRUE(v->image_corrupt);
  EXPECT_FALSE(w.open());
}

TEST(RestoreOutcome, TheNextImageIsANewAttempt) {  // slurm.fallback: the older image
  RestoreWatch w = Trying();
  ASSERT_TRUE(w.FailureReported("bad", true));
  EXPECT_FALSE(w.Tried());
  EXPECT_TRUE(w.open());
  auto v = w.NameSeen("progress");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->succeeded);
}

TEST(RestoreOutcome, ANewNameIsSuccess) {  // slurm.preempt
  RestoreWatch w = Trying();
  auto v = w.NameSeen("progress");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->succeeded);
  EXPECT_FALSE(w.open());
}

TEST(RestoreOutcome, ARestoredProgramBelowTheTaskIsSuccess) {  // slurm.openmp
  RestoreWatch w = Trying();
  auto v = w.Restored(4711);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->succeeded);
  EXPECT_FALSE(w.open());
  EXPECT_FALSE(w.NameSeen("omp_progress"));  // one outcome per attempt
}

TEST(RestoreOutcome, ARestoredReportWithoutAPidTellsNothing) {
  RestoreWatch w = Trying();
  EXPECT_FALSE(w.Restored(0));
  EXPECT_TRUE(w.open());
}

TEST(RestoreOutcome, TheRestorersOwnNameTellsNothing) {
  RestoreWatch w = Trying();
  EXPECT_FALSE(w.NameSeen("slurmstepd"));
  EXPECT_TRUE(w.open());
}

TEST(RestoreOutcome, AnUnreadableNameTellsNothing) {
  RestoreWatch w = Trying();
  EXPECT_FALSE(w.NameSeen(""));
  EXPECT_TRUE(w.open());
}

TEST(RestoreOutcome, WithoutTheRestorersNameOnlyTheExitDecides) {
  RestoreWatch w;
  EXPECT_FALSE(w.Tried());
  EXPECT_FALSE(w.NameSeen("progress"));
  auto v = w.Exited(ExitStatus(0));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->succeeded);
}

TEST(RestoreOutcome, Exit75IsABrokenRestore) {
  RestoreWatch w = Trying();
  auto v = w.Exited(ExitStatus(kBrokenRestoreExit));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->succeeded);
  EXPECT_EQ(v->reason, "the restore failed after the task process had been changed");
}

TEST(RestoreOutcome, ASignalBeforeTheNewNameIsAFailedRestore) {
  RestoreWatch w = Trying();
  auto v = w.Exited(KilledBy(SIGKILL));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->succeeded);
  EXPECT_EQ(v->reason, "the task was killed by signal 9 during the restore");
}

TEST(RestoreOutcome, AnyOtherExitIsTheRestoredProgramsOwn) {
  for (int code : {0, 1, 3}) {
    RestoreWatch w = Trying();
    auto v = w.Exited(ExitStatus(code));
    ASSERT_TRUE(v) << code;
    EXPECT_TRUE(v->succeeded) << code;
  }
}

TEST(RestoreOutcome, OneOutcomePerAttempt) {
  RestoreWatch w = Trying();
  ASSERT_TRUE(w.NameSeen("progress"));
  EXPECT_FALSE(w.Exited(KilledBy(SIGKILL)));  // the restored program, later preempted
  EXPECT_FALSE(w.FailureReported("late", false));
}

TEST(RestoreOutcome, NothingOpenNothingDecided) {
  RestoreWatch w;
  w.Planned("slurmstepd");
  EXPECT_FALSE(w.FailureReported("x", false));
  EXPECT_FALSE(w.NameSeen("progress"));
  EXPECT_FALSE(w.Exited(ExitStatus(0)));  // a cold start's program
}

TEST(RestoreOutcome, ATryWithoutAReportFailsTheEarlierAttempt) {
  RestoreWatch w = Trying();
  auto earlier = w.Tried();
  ASSERT_TRUE(earlier);
  EXPECT_FALSE(earlier->succeeded);
  EXPECT_TRUE(w.open());
}

}  // namespace
}  // namespace kcr::spank
