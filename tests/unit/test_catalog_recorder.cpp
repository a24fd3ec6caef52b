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

using testing::slurm_checkpoint;
using testing::TempDir;
using testing::write_file;

struct Warnings {
  std::vector<std::string> seen;
  RecordWarning sink() {
    return [this](std::string_view doing, std::string_view error) {
      seen.push_back(std::string(doing) + ": " + std::string(error));
    };
  }
};

class RecorderTest : public ::testing::Test {
 protected:
  std::shared_ptr<Catalog> open() {
    return std::make_shared<Catalog>(Catalog::open(dir_ / "catalog.db"));
  }
  CheckpointInfo info(const std::string& name = "a.kcr") {
    write_file(dir_ / name, 4096);
    return slurm_checkpoint(42, 0, 0, (dir_ / name).string());
  }
  State state_of(std::int64_t id) { return open()->get(id).value().state; }

  TempDir dir_;
  Warnings warnings_;
};

TEST_F(RecorderTest, BeginWritesAWritingRow) {
  auto rec = CheckpointRecord::begin(open(), info(), warnings_.sink());
  ASSERT_TRUE(rec.active());
  EXPECT_EQ(state_of(rec.id()), State::kWriting);
  rec.failed("cleanup");
}

TEST_F(RecorderTest, CommittedThenVerified) {
  auto rec = CheckpointRecord::begin(open(), info(), warnings_.sink());
  rec.committed({4096, 0xabc, 1, 2});
  EXPECT_EQ(state_of(rec.id()), State::kCommitted);
  rec.verified();
  EXPECT_EQ(state_of(rec.id()), State::kVerified);
  EXPECT_TRUE(warnings_.seen.empty());
}

TEST_F(RecorderTest, CommittedThenCorrupt) {
  auto rec = CheckpointRecord::begin(open(), info(), warnings_.sink());
  rec.committed({4096, 0xabc, 1, 2});
  rec.corrupt("page chunk 3: checksum mismatch");
  auto row = open()->get(rec.id()).value();
  EXPECT_EQ(row.state, State::kCorrupt);
  EXPECT_EQ(row.state_reason, "page chunk 3: checksum mismatch");
}

TEST_F(RecorderTest, FailedKeepsTheReason) {
  auto rec = CheckpointRecord::begin(open(), info(), warnings_.sink());
  rec.failed("process tree");
  auto row = open()->get(rec.id()).value();
  EXPECT_EQ(row.state, State::kFailed);
  EXPECT_EQ(row.state_reason, "process tree");
}

TEST_F(RecorderTest, ARecordDroppedWhileWritingFails) {
  std::int64_t id = 0;
  {
    auto rec = CheckpointRecord::begin(open(), info(), warnings_.sink());
    id = rec.id();
  }
  EXPECT_EQ(state_of(id), State::kFailed);
}

TEST_F(RecorderTest, AbandonRemovesTheRow) {
  auto rec = CheckpointRecord::begin(open(), info(), warnings_.sink());
  const std::int64_t id = rec.id();
  rec.abandon();
  EXPECT_FALSE(open()->get(id));
  EXPECT_EQ(rec.id(), 0);
}

TEST_F(RecorderTest, WithoutACatalogNothingIsRecordedOrWarned) {
  auto rec = CheckpointRecord::begin(nullptr, info(), warnings_.sink());
  EXPECT_FALSE(rec.active());
  rec.committed({4096, 0, 0, 0});
  rec.verified();
  EXPECT_EQ(rec.id(), 0);
  EXPECT_TRUE(warnings_.seen.empty());
}

TEST_F(RecorderTest, TheFirstCatalogErrorWarnsOnceAndStops) {
  open();  // create the file, then open it read-only: every write fails
  OpenOptions ro;
  ro.read_only = true;
  auto catalog = std::make_shared<Catalog>(Catalog::open(dir_ / "catalog.db", ro));
  auto rec = CheckpointRecord::begin(catalog, info(), warnings_.sink());
  rec.committed({4096, 0, 0, 0});
  rec.verified();
  ASSERT_EQ(warnings_.seen.size(), 1u);
  EXPECT_EQ(warnings_.seen[0].rfind("recording the checkpoint start: ", 0), 0u)
      << warnings_.seen[0];
  EXPECT_FALSE(rec.active());
}

TEST_F(RecorderTest, MoveHandsTheRowOver) {
  auto a = CheckpointRecord::begin(open(), info(), warnings_.sink());
  const std::int64_t id = a.id();
  CheckpointRecord b = std::move(a);
  EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): moved-from is empty
  b.committed({4096, 0, 0, 0});
  EXPECT_EQ(state_of(id), State::kCommitted);
}

// ---- restores ----

class RestoreRecorderTest : public RecorderTest {
 protected:
  std::int64_t committed_checkpoint(const std::string& name = "a.kcr") {
    auto rec = CheckpointRecord::begin(open(), info(name), nullptr);
    rec.committed({4096, 0, 0, 0});
    return rec.id();
  }
  // Opens the catalog anew at each call, like `kcr restart`, and counts.
  CatalogOpener opener() {
    return [this] {
      ++opens_;
      return open();
    };
  }
  RestoreRow restore_row(std::int64_t checkpoint) { return open()->restores_of(checkpoint).at(0); }

  int opens_ = 0;
};

TEST_F(RestoreRecorderTest, StartRecordsTheNamedCheckpoint) {
  const std::int64_t ckpt = committed_checkpoint();
  auto rst = RestoreRecord::start(opener(), {ckpt, "/elsewhere.kcr", "n01", 1000}, nullptr);
  ASSERT_TRUE(rst.active());
  auto row = restore_row(ckpt);
  EXPECT_EQ(row.outcome, RestoreOutcome::kStarted);
  EXPECT_EQ(row.node, "n01");
  EXPECT_EQ(row.uid, 1000u);
}

TEST_F(RestoreRecorderTest, WithoutAnIdTheImageNamesTheCheckpoint) {
  const std::int64_t ckpt = committed_checkpoint();
  auto rst =
      RestoreRecord::start(opener(), {std::nullopt, (dir_ / "a.kcr").string(), "n01", 0}, nullptr);
  EXPECT_EQ(rst.checkpoint_id(), ckpt);
}

TEST_F(RestoreRecorderTest, SucceededFinishesTheRecord) {
  const std::int64_t ckpt = committed_checkpoint();
  auto rst = RestoreRecord::start(opener(), {ckpt, "x", "n01", 0}, nullptr);
  rst.succeeded();
  EXPECT_EQ(restore_row(ckpt).outcome, RestoreOutcome::kSucceeded);
  EXPECT_FALSE(rst.active());
  rst.failed("a second outcome is ignored");
  EXPECT_EQ(restore_row(ckpt).outcome, RestoreOutcome::kSucceeded);
}

TEST_F(RestoreRecorderTest, FailedKeepsTheErrorAndTheImage) {
  const std::int64_t ckpt = committed_checkpoint();
  auto rst = RestoreRecord::start(opener(), {ckpt, "x", "n01", 0}, nullptr);
  rst.failed("kernel differs");
  EXPECT_EQ(restore_row(ckpt).outcome, RestoreOutcome::kFailed);
  EXPECT_EQ(restore_row(ckpt).error_text, "kernel differs");
  EXPECT_EQ(state_of(ckpt), State::kCommitted);
}

TEST_F(RestoreRecorderTest, ACorruptImageMarksItsCheckpoint) {
  const std::int64_t ckpt = committed_checkpoint();
  auto rst = RestoreRecord::start(opener(), {ckpt, "x", "n01", 0}, nullptr);
  rst.failed("page chunk 0: checksum mismatch", /*image_corrupt=*/true);
  EXPECT_EQ(state_of(ckpt), State::kCorrupt);
}

TEST_F(RestoreRecorderTest, TheCatalogIsOpenedOnlyWhileWriting) {
  const std::int64_t ckpt = committed_checkpoint();
  auto rst = RestoreRecord::start(opener(), {ckpt, "x", "n01", 0}, nullptr);
  EXPECT_EQ(opens_, 1);
  rst.succeeded();
  EXPECT_EQ(opens_, 2);
}

TEST_F(RestoreRecorderTest, AnOpenerWithoutCatalogRecordsNothing) {
  Warnings w;
  auto rst =
      RestoreRecord::start([] { return std::shared_ptr<Catalog>(); }, {1, "x", "n", 0}, w.sink());
  EXPECT_FALSE(rst.active());
  EXPECT_TRUE(w.seen.empty());
}

}  // namespace
}  // namespace kcr::catalog
