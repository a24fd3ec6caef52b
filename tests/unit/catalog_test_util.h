// Helpers shared by the catalog tests: a temporary directory that cleans up
// after itself, image files of a given size, a typical checkpoint, and the
// catalog's calls with their results returned directly.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "kcr/catalog/catalog.h"
#include "kcr/util/clock.h"

namespace kcr::catalog::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kcr-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A file of `bytes` bytes standing in for an image.
inline void WriteFile(const std::filesystem::path& p, std::size_t bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  std::string block(4096, 'k');
  for (std::size_t left = bytes; left > 0;) {
    std::size_t n = std::min(left, block.size());
    out.write(block.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
}

using util::NowNs;

inline constexpr std::int64_t kHourNs = 3600LL * 1'000'000'000;

inline CheckpointInfo SlurmCheckpoint(std::uint32_t job, std::uint32_t step, std::uint32_t task,
                                      const std::string& image_path) {
  CheckpointInfo info;
  info.job_id = job;
  info.step_id = step;
  info.task = task;
  info.node = "node01";
  info.pid = 4242;
  info.uid = 1000;
  info.user = "alice";
  info.partition = "batch";
  info.image_path = image_path;
  info.trigger = Trigger::kPeriodic;
  info.kernel_release = "6.1.0-test";
  return info;
}

// A call a test expects to succeed: a Status that is not ok ends the test
// with its message (gtest reports the exception), as the catalog's own
// exception did before it returned a Status.
inline void Ok(const Status& status) {
  if (!status.ok()) {
    throw std::runtime_error(status.message());
  }
}

// A catalog for tests: each call of Catalog, with its result returned and
// its Status checked by Ok(). A test of an error calls the Catalog itself
// (cat->Move(...)) and looks at the Status.
class TestCatalog {
 public:
  static TestCatalog Open(const std::filesystem::path& path, const OpenOptions& options = {}) {
    std::unique_ptr<Catalog> c;
    Ok(Catalog::Open(path, options, &c));
    return TestCatalog(std::move(c));
  }
  explicit TestCatalog(std::shared_ptr<Catalog> catalog) : catalog_(std::move(catalog)) {}

  Catalog* operator->() const { return catalog_.get(); }
  const std::shared_ptr<Catalog>& shared() const { return catalog_; }

  int SchemaVersion() {
    int version = 0;
    Ok(catalog_->SchemaVersion(&version));
    return version;
  }
  std::int64_t BeginCheckpoint(const CheckpointInfo& info) {
    std::int64_t id = 0;
    Ok(catalog_->BeginCheckpoint(info, &id));
    return id;
  }
  void CommitCheckpoint(std::int64_t id, const CommitInfo& commit) {
    Ok(catalog_->CommitCheckpoint(id, commit));
  }
  void FailCheckpoint(std::int64_t id, std::string_view reason) {
    Ok(catalog_->FailCheckpoint(id, reason));
  }
  void AbandonCheckpoint(std::int64_t id) { Ok(catalog_->AbandonCheckpoint(id)); }
  void MarkVerified(std::int64_t id) { Ok(catalog_->MarkVerified(id)); }
  void GroupCheckpoints(const std::vector<std::int64_t>& ids, std::uint32_t size) {
    Ok(catalog_->GroupCheckpoints(ids, size));
  }
  void MarkCorrupt(std::int64_t id, std::string_view reason) {
    Ok(catalog_->MarkCorrupt(id, reason));
  }
  void Move(std::int64_t id, State to, std::string_view reason) {
    Ok(catalog_->Move(id, to, reason));
  }
  std::int64_t RecordRestore(std::optional<std::int64_t> checkpoint_id,
                             std::string_view image_path, RestoreOutcome outcome,
                             std::string_view error_text, std::string_view node,
                             std::uint32_t uid) {
    std::int64_t id = 0;
    Ok(catalog_->RecordRestore(checkpoint_id, image_path, outcome, error_text, node, uid, &id));
    return id;
  }
  void FinishRestore(std::int64_t restore_id, RestoreOutcome outcome,
                     std::string_view error_text) {
    Ok(catalog_->FinishRestore(restore_id, outcome, error_text));
  }
  std::int64_t InsertRebuilt(const CheckpointInfo& info, const CommitInfo& commit, State state,
                             std::string_view reason) {
    std::int64_t id = 0;
    Ok(catalog_->InsertRebuilt(info, commit, state, reason, &id));
    return id;
  }
  std::optional<CheckpointRow> Get(std::int64_t id) {
    std::optional<CheckpointRow> row;
    Ok(catalog_->Get(id, &row));
    return row;
  }
  std::vector<CheckpointRow> List(const ListFilter& filter = {}) {
    std::vector<CheckpointRow> rows;
    Ok(catalog_->List(filter, &rows));
    return rows;
  }
  std::optional<CheckpointRow> FindByImage(std::string_view image_path) {
    std::optional<CheckpointRow> row;
    Ok(catalog_->FindByImage(image_path, &row));
    return row;
  }
  std::vector<CheckpointRow> LatestGood(std::uint32_t job_id, std::optional<std::uint32_t> step,
                                        std::optional<std::uint32_t> task,
                                        std::size_t max_results = kLatestGoodDefault) {
    std::vector<CheckpointRow> rows;
    Ok(catalog_->LatestGood(job_id, step, task, max_results, &rows));
    return rows;
  }
  std::vector<RestoreRow> RestoresOf(std::int64_t checkpoint_id) {
    std::vector<RestoreRow> rows;
    Ok(catalog_->RestoresOf(checkpoint_id, &rows));
    return rows;
  }
  std::optional<JobRow> GetJob(std::uint32_t job_id) {
    std::optional<JobRow> job;
    Ok(catalog_->GetJob(job_id, &job));
    return job;
  }
  Stats GetStats(std::optional<std::uint32_t> uid = std::nullopt) {
    Stats stats;
    Ok(catalog_->GetStats(uid, &stats));
    return stats;
  }
  std::vector<CheckpointRow> RetentionCandidates() {
    std::vector<CheckpointRow> rows;
    Ok(catalog_->RetentionCandidates(&rows));
    return rows;
  }
  PruneResult ApplyPrune(const PrunePlan& plan) {
    PruneResult result;
    Ok(catalog_->ApplyPrune(plan, &result));
    return result;
  }
  ForgetResult ForgetDeleted(std::int64_t before_ns, bool dry_run = false) {
    ForgetResult result;
    Ok(catalog_->ForgetDeleted(before_ns, dry_run, &result));
    return result;
  }

 private:
  std::shared_ptr<Catalog> catalog_;
};

}  // namespace kcr::catalog::testing
