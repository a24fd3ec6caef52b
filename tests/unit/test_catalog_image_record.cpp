// Image records (kcr/catalog/image_record.h): what a checkpoint says about
// itself beside its image, and how a requeued task on another node judges
// the records of its job's image directory.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "catalog_test_util.h"
#include "kcr/catalog/image_record.h"
#include "kcr/util/image_files.h"

namespace kcr::catalog {
namespace {

using testing::Ok;
using testing::SlurmCheckpoint;
using testing::TempDir;
using testing::WriteFile;

constexpr std::uint32_t kJob = 77;
// The records' owner: whoever runs the test, as the job's user would.
const std::uint32_t kUid = ::getuid();

// A committed image of `bytes` bytes at dir/name and its record.
CheckpointRow Saved(const TempDir& dir, const std::string& name, std::uint32_t task,
                    std::int64_t created_ns, std::size_t bytes = 8192) {
  CheckpointRow row;
  row.info = SlurmCheckpoint(kJob, 0, task, (dir / name).string());
  row.info.uid = kUid;
  row.info.created_ns = created_ns;
  row.state = State::kCommitted;
  row.bytes = bytes;
  row.checksum = 0xfeedULL + task;
  row.committed_ns = created_ns + 5;
  WriteFile(row.info.image_path, bytes);
  return row;
}

std::vector<CheckpointRow> Read(const TempDir& dir, std::uint32_t task, std::uint32_t job = kJob,
                                std::uint32_t uid = kUid) {
  std::vector<CheckpointRow> rows;
  Ok(ReadImageRecords(dir.path().string(), job, 0, task, uid, &rows));
  return rows;
}

TEST(ImageRecord, RoundTripsEveryField) {
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  row.info.array_job_id = 70;
  row.info.array_task_id = 3;
  row.info.restart_count = 2;
  row.info.trigger = Trigger::kPreempt;
  row.info.kcr_version = "9.9";
  row.state = State::kVerified;
  row.verified_ns = 1010;
  row.freeze_ns = 11;
  row.write_ns = 22;
  row.checksum = 0xffffffffffffffffULL;  // all 64 bits survive JSON
  CheckpointRow back;
  std::vector<std::string> members;
  ASSERT_TRUE(ParseImageRecord(FormatImageRecord(row, {row.info.image_path}), &back, &members));
  EXPECT_EQ(back.info.job_id, kJob);
  EXPECT_EQ(back.info.array_job_id, 70U);
  EXPECT_EQ(back.info.array_task_id, 3U);
  EXPECT_EQ(back.info.restart_count, 2U);
  EXPECT_EQ(back.info.trigger, Trigger::kPreempt);
  EXPECT_EQ(back.info.node, "node01");
  EXPECT_EQ(back.info.user, "alice");
  EXPECT_EQ(back.info.kcr_version, "9.9");
  EXPECT_EQ(back.state, State::kVerified);
  EXPECT_EQ(back.checksum, row.checksum);
  EXPECT_EQ(back.bytes, row.bytes);
  EXPECT_EQ(back.created_ns(), 1000);
  EXPECT_EQ(back.verified_ns, 1010);
  EXPECT_EQ(members, std::vector<std::string>{row.info.image_path});
  EXPECT_EQ(back.set_size, 1U);
}

TEST(ImageRecord, RefusesWhatIsNotARecord) {
  CheckpointRow row;
  std::vector<std::string> members;
  EXPECT_FALSE(ParseImageRecord("", &row, &members));
  EXPECT_FALSE(ParseImageRecord("[1,2]", &row, &members));
  EXPECT_FALSE(ParseImageRecord(R"({"format": 2})", &row, &members));
  CheckpointRow good;
  good.info = SlurmCheckpoint(kJob, 0, 0, "/x.kcr");
  good.info.created_ns = 1;
  std::string text = FormatImageRecord(good, {"/x.kcr"});
  EXPECT_TRUE(ParseImageRecord(text, &row, &members));
  EXPECT_FALSE(ParseImageRecord(text.substr(0, text.size() / 2), &row, &members));
  EXPECT_FALSE(ParseImageRecord(FormatImageRecord(good, {}), &row, &members));  // no set
}

TEST(ImageRecord, FindsTheTasksCheckpointsNewestFirst) {
  TempDir dir;
  CheckpointRow older = Saved(dir, "77.0.0.r0.1-periodic.kcr", 0, 1000);
  CheckpointRow newer = Saved(dir, "77.0.0.r0.2-preempt.kcr", 0, 2000);
  CheckpointRow other_task = Saved(dir, "77.0.1.r0.2-preempt.kcr", 1, 3000);
  for (const CheckpointRow* r : {&older, &newer, &other_task})
    Ok(WriteImageRecord(*r, {r->info.image_path}));
  std::vector<CheckpointRow> rows = Read(dir, 0);
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].info.image_path, newer.info.image_path);
  EXPECT_EQ(rows[1].info.image_path, older.info.image_path);
  EXPECT_EQ(rows[0].id, 0);  // not the catalog's
  EXPECT_TRUE(Read(dir, 0, kJob + 1).empty());
  // The record file is private, as the image is.
  EXPECT_EQ(std::filesystem::status(ImageRecordPath(newer.info.image_path)).permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(ImageRecord, SkipsAnImageThatIsNotWhole) {
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  Ok(WriteImageRecord(row, {row.info.image_path}));
  std::filesystem::resize_file(row.info.image_path, 4096);
  EXPECT_TRUE(Read(dir, 0).empty());
  std::filesystem::remove(row.info.image_path);
  EXPECT_TRUE(Read(dir, 0).empty());
}

TEST(ImageRecord, AnImageIsWhereItsRecordIs) {
  // A record naming another path describes the image beside it, not that
  // path: a record cannot send a restore elsewhere.
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  CheckpointRow moved = row;
  moved.info.image_path = "/etc/shadow";
  std::ofstream(ImageRecordPath(row.info.image_path)) << FormatImageRecord(moved, {"/etc/shadow"});
  EXPECT_TRUE(Read(dir, 0).empty());  // and its set does not name it
  std::ofstream(ImageRecordPath(row.info.image_path))
      << FormatImageRecord(moved, {row.info.image_path});
  std::vector<CheckpointRow> rows = Read(dir, 0);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].info.image_path, row.info.image_path);
}

TEST(ImageRecord, ASetCountsOnlyWhole) {
  TempDir dir;
  CheckpointRow t0 = Saved(dir, "s.0.kcr", 0, 1000);
  CheckpointRow t1 = Saved(dir, "s.1.kcr", 1, 1000);
  const std::vector<std::string> set = {t0.info.image_path, t1.info.image_path};
  Ok(WriteImageRecord(t0, set));
  // Task 1's record was never written (its node died): task 0's set is not whole.
  EXPECT_TRUE(Read(dir, 0).empty());
  Ok(WriteImageRecord(t1, set));
  EXPECT_EQ(Read(dir, 0).size(), 1U);
  EXPECT_EQ(Read(dir, 1).size(), 1U);
  EXPECT_EQ(Read(dir, 0)[0].set_size, 2U);
  // A member truncated: neither task restores from the set.
  std::filesystem::resize_file(t1.info.image_path, 100);
  EXPECT_TRUE(Read(dir, 0).empty());
  EXPECT_TRUE(Read(dir, 1).empty());
}

TEST(ImageRecord, ASetMemberOfAnotherSetDoesNotCount) {
  TempDir dir;
  CheckpointRow t0 = Saved(dir, "s.0.kcr", 0, 1000);
  CheckpointRow t1 = Saved(dir, "s.1.kcr", 1, 1000);
  Ok(WriteImageRecord(t0, {t0.info.image_path, t1.info.image_path}));
  Ok(WriteImageRecord(t1, {t1.info.image_path}));  // says it stands alone
  EXPECT_TRUE(Read(dir, 0).empty());
}

TEST(ImageRecord, OnlyGoodStatesCount) {
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  row.state = State::kCorrupt;
  Ok(WriteImageRecord(row, {row.info.image_path}));
  EXPECT_TRUE(Read(dir, 0).empty());
}

TEST(ImageRecord, NoDirectoryHoldsNone) {
  std::vector<CheckpointRow> rows;
  Ok(ReadImageRecords("/nonexistent/kcr-images", kJob, 0, 0, kUid, &rows));
  EXPECT_TRUE(rows.empty());
}

TEST(ImageRecord, CountsOnlyTheUsersOwnFiles) {
  // Someone else who could write into the directory cannot offer the job's
  // user an image: records and images must be the user's, writable by no one
  // else, and not symlinks.
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  Ok(WriteImageRecord(row, {row.info.image_path}));
  ASSERT_EQ(Read(dir, 0).size(), 1U);
  EXPECT_TRUE(Read(dir, 0, kJob, kUid + 1).empty());  // another user's job
  std::filesystem::permissions(row.info.image_path, std::filesystem::perms::group_write,
                               std::filesystem::perm_options::add);
  EXPECT_TRUE(Read(dir, 0).empty());
  std::filesystem::permissions(row.info.image_path, std::filesystem::perms::group_write,
                               std::filesystem::perm_options::remove);
  const std::string record = ImageRecordPath(row.info.image_path);
  std::filesystem::permissions(record, std::filesystem::perms::others_write,
                               std::filesystem::perm_options::add);
  EXPECT_TRUE(Read(dir, 0).empty());
  // A record that is a symlink (to the real one, or to a file that never ends).
  std::filesystem::rename(record, record + ".real");
  std::filesystem::permissions(record + ".real", std::filesystem::perms::others_write,
                               std::filesystem::perm_options::remove);
  std::filesystem::create_symlink(record + ".real", record);
  EXPECT_TRUE(Read(dir, 0).empty());
  std::filesystem::remove(record);
  std::filesystem::create_symlink("/dev/zero", record);
  EXPECT_TRUE(Read(dir, 0).empty());
  // A FIFO neither blocks the reader nor counts.
  std::filesystem::remove(record);
  ASSERT_EQ(::mkfifo(record.c_str(), 0600), 0);
  EXPECT_TRUE(Read(dir, 0).empty());
  std::filesystem::remove(record);
  std::filesystem::rename(record + ".real", record);
  EXPECT_EQ(Read(dir, 0).size(), 1U);
}

TEST(ImageRecord, PathsCompareAsPaths) {
  // A set written with an image_dir ending in "/" names "dir//image".
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  row.info.image_path = dir.path().string() + "//a.kcr";
  Ok(WriteImageRecord(row, {row.info.image_path}));
  EXPECT_EQ(Read(dir, 0).size(), 1U);
}

TEST(ImageRecord, RemovingAnImageRemovesItsRecord) {
  TempDir dir;
  CheckpointRow row = Saved(dir, "a.kcr", 0, 1000);
  Ok(WriteImageRecord(row, {row.info.image_path}));
  ASSERT_EQ(util::RemoveImage(row.info.image_path), 0);
  EXPECT_FALSE(std::filesystem::exists(ImageRecordPath(row.info.image_path)));
}

}  // namespace
}  // namespace kcr::catalog
