// The recording sequence (kcr/catalog/recorder.h) that `kcr checkpoint`,
// `kcr restart` and the Slurm agent share, on real catalog files.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "catalog_test_util.h"
#include "kcr/catalog/recorder.h"

namespace kcr::catalog {
namespace {

using testing::SlurmCheckpoint;
using testing::TempDir;
using testing::TestCatalog;
using testing::WriteFile;

struct Warnings {
  std::vector<std::string> seen;
  RecordWarning Sink() {
    return [this](std::string_view doing, std::string_view error) {
      seen.push_back(std::string(doing) + ": " + std::string(error));
    };
  }
};

class RecorderTest : public ::testing::Test {
 protected:
  TestCatalog Open() { return TestCatalog::Open(dir_ / "catalog.db"); }
  CheckpointInfo Info(const std::string& name = "a.kcr") {
    WriteFile(dir_ / name, 4096);
    return SlurmCheckpoint(42, 0, 0, (dir_ / name).string());
  }
  State StateOf(std::int64_t id) { return Open().Get(id).value().state; }

  TempDir dir_;
  Warnings warnings_;
};

TEST_F(RecorderTest, BeginWritesAWritingRow) {
  auto rec = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
  ASSERT_TRUE(rec.active());
  EXPECT_EQ(StateOf(rec.id()), State::kWriting);
  rec.Failed("cleanup");
}

TEST_F(RecorderTest, CommittedThenVerified) {
  auto rec = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
  rec.Committed({4096, 0xabc, 1, 2});
  EXPECT_EQ(StateOf(rec.id()), State::kCommitted);
  rec.Verified();
  EXPECT_EQ(StateOf(rec.id()), State::kVerified);
  EXPECT_TRUE(warnings_.seen.empty());
}

TEST_F(RecorderTest, CommittedThenCorrupt) {
  auto rec = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
  rec.Committed({4096, 0xabc, 1, 2});
  rec.Corrupt("page chunk 3: checksum mismatch");
  auto row = Open().Get(rec.id()).value();
  EXPECT_EQ(row.state, State::kCorrupt);
  EXPECT_EQ(row.state_reason, "page chunk 3: checksum mismatch");
}

TEST_F(RecorderTest, FailedKeepsTheReason) {
  auto rec = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
  rec.Failed("process tree");
  auto row = Open().Get(rec.id()).value();
  EXPECT_EQ(row.state, State::kFailed);
  EXPECT_EQ(row.state_reason, "process tree");
}

TEST_F(RecorderTest, ARecordDroppedWhileWritingFails) {
  std::int64_t id = 0;
  {
    auto rec = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
    id = rec.id();
  }
  EXPECT_EQ(StateOf(id), State::kFailed);
}

TEST_F(RecorderTest, AbandonRemovesTheRow) {
  auto rec = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
  const std::int64_t id = rec.id();
  rec.Abandon();
  EXPECT_FALSE(Open().Get(id));
  EXPECT_EQ(rec.id(), 0);
}

TEST_F(RecorderTest, WithoutACatalogNothingIsRecordedOrWarned) {
  auto rec = CheckpointRecord::Begin(nullptr, Info(), warnings_.Sink());
  EXPECT_FALSE(rec.active());
  rec.Committed({4096, 0, 0, 0});
  rec.Verified();
  EXPECT_EQ(rec.id(), 0);
  EXPECT_TRUE(warnings_.seen.empty());
}

TEST_F(RecorderTest, TheFirstCatalogErrorWarnsOnceAndStops) {
  Open();  // create the file, then open it read-only: every write fails
  OpenOptions ro;
  ro.read_only = true;
  auto catalog = TestCatalog::Open(dir_ / "catalog.db", ro).shared();
  auto rec = CheckpointRecord::Begin(catalog, Info(), warnings_.Sink());
  rec.Committed({4096, 0, 0, 0});
  rec.Verified();
  ASSERT_EQ(warnings_.seen.size(), 1u);
  EXPECT_EQ(warnings_.seen[0].rfind("recording the checkpoint start: ", 0), 0u)
      << warnings_.seen[0];
  EXPECT_FALSE(rec.active());
}

TEST_F(RecorderTest, MoveHandsTheRowOver) {
  auto a = CheckpointRecord::Begin(Open().shared(), Info(), warnings_.Sink());
  const std::int64_t id = a.id();
  CheckpointRecord b = std::move(a);
  EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): moved-from is empty
  b.Committed({4096, 0, 0, 0});
  EXPECT_EQ(StateOf(id), State::kCommitted);
}

// ---- restores ----

class RestoreRecorderTest : public RecorderTest {
 protected:
  std::int64_t CommittedCheckpoint(const std::string& name = "a.kcr") {
    auto rec = CheckpointRecord::Begin(Open().shared(), Info(name), nullptr);
    rec.Committed({4096, 0, 0, 0});
    return rec.id();
  }
  // Opens the catalog anew at each call, like `kcr restart`, and counts.
  CatalogOpener Opener() {
    return [this](std::shared_ptr<Catalog>* catalog) {
      ++opens_;
      *catalog = Open().shared();
      return Status::Ok();
    };
  }
  RestoreRow RestoreRowOf(std::int64_t checkpoint) { return Open().RestoresOf(checkpoint).at(0); }

  int opens_ = 0;
};

TEST_F(RestoreRecorderTest, StartRecordsTheNamedCheckpoint) {
  const std::int64_t ckpt = CommittedCheckpoint();
  auto rst = RestoreRecord::Start(Opener(), {ckpt, "/elsewhere.kcr", "n01", 1000}, nullptr);
  ASSERT_TRUE(rst.active());
  auto row = RestoreRowOf(ckpt);
  EXPECT_EQ(row.outcome, RestoreOutcome::kStarted);
  EXPECT_EQ(row.node, "n01");
  EXPECT_EQ(row.uid, 1000u);
}

TEST_F(RestoreRecorderTest, WithoutAnIdTheImageNamesTheCheckpoint) {
  const std::int64_t ckpt = CommittedCheckpoint();
  auto rst =
      RestoreRecord::Start(Opener(), {std::nullopt, (dir_ / "a.kcr").string(), "n01", 0}, nullptr);
  EXPECT_EQ(rst.checkpoint_id(), ckpt);
}

TEST_F(RestoreRecorderTest, SucceededFinishesTheRecord) {
  const std::int64_t ckpt = CommittedCheckpoint();
  auto rst = RestoreRecord::Start(Opener(), {ckpt, "x", "n01", 0}, nullptr);
  rst.Succeeded();
  EXPECT_EQ(RestoreRowOf(ckpt).outcome, RestoreOutcome::kSucceeded);
  EXPECT_FALSE(rst.active());
  rst.Failed("a second outcome is ignored");
  EXPECT_EQ(RestoreRowOf(ckpt).outcome, RestoreOutcome::kSucceeded);
}

TEST_F(RestoreRecorderTest, FailedKeepsTheErrorAndTheImage) {
  const std::int64_t ckpt = CommittedCheckpoint();
  auto rst = RestoreRecord::Start(Opener(), {ckpt, "x", "n01", 0}, nullptr);
  rst.Failed("kernel differs");
  EXPECT_EQ(RestoreRowOf(ckpt).outcome, RestoreOutcome::kFailed);
  EXPECT_EQ(RestoreRowOf(ckpt).error_text, "kernel differs");
  EXPECT_EQ(StateOf(ckpt), State::kCommitted);
}

TEST_F(RestoreRecorderTest, ACorruptImageMarksItsCheckpoint) {
  const std::int64_t ckpt = CommittedCheckpoint();
  auto rst = RestoreRecord::Start(Opener(), {ckpt, "x", "n01", 0}, nullptr);
  rst.Failed("page chunk 0: checksum mismatch", /*image_corrupt=*/true);
  EXPECT_EQ(StateOf(ckpt), State::kCorrupt);
}

TEST_F(RestoreRecorderTest, TheCatalogIsOpenedOnlyWhileWriting) {
  const std::int64_t ckpt = CommittedCheckpoint();
  auto rst = RestoreRecord::Start(Opener(), {ckpt, "x", "n01", 0}, nullptr);
  EXPECT_EQ(opens_, 1);
  rst.Succeeded();
  EXPECT_EQ(opens_, 2);
}

TEST_F(RestoreRecorderTest, AnOpenerWithoutCatalogRecordsNothing) {
  Warnings w;
  auto rst = RestoreRecord::Start([](std::shared_ptr<Catalog>*) { return Status::Ok(); },
                                  {1, "x", "n", 0}, w.Sink());
  EXPECT_FALSE(rst.active());
  EXPECT_TRUE(w.seen.empty());
}

}  // namespace
}  // namespace kcr::catalog
