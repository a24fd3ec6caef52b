#include "kcr/catalog/recorder.h"

#include <utility>

namespace kcr::catalog {

namespace {

void Tell(const RecordWarning& warn, std::string_view doing, const Status& st) {
  if (warn) {
    warn(doing, st.message());
  }
}

}  // namespace

CheckpointRecord::CheckpointRecord(CheckpointRecord&& other) noexcept
    : catalog_(std::move(other.catalog_)),
      warn_(std::move(other.warn_)),
      id_(other.id_),
      writing_(std::exchange(other.writing_, false)) {
  other.catalog_.reset();
}

CheckpointRecord& CheckpointRecord::operator=(CheckpointRecord&& other) noexcept {
  if (this != &other) {
    if (writing_) {
      Failed("the checkpoint ended before the image was committed");
    }
    catalog_ = std::move(other.catalog_);
    other.catalog_.reset();
    warn_ = std::move(other.warn_);
    id_ = other.id_;
    writing_ = std::exchange(other.writing_, false);
  }
  return *this;
}

CheckpointRecord::~CheckpointRecord() {
  if (writing_) {
    Failed("the checkpoint ended before the image was committed");
  }
}

template <typename Call>
void CheckpointRecord::Attempt(std::string_view doing, Call&& call) {
  if (!catalog_) {
    return;
  }
  Status st = call(*catalog_);
  if (!st.ok()) {
    Tell(warn_, doing, st);
    catalog_.reset();
    writing_ = false;
  }
}

CheckpointRecord CheckpointRecord::Begin(std::shared_ptr<Catalog> catalog,
                                         const CheckpointInfo& info, RecordWarning warn) {
  CheckpointRecord rec;
  rec.catalog_ = std::move(catalog);
  rec.warn_ = std::move(warn);
  rec.Attempt("recording the checkpoint start", [&](Catalog& c) {
    Status st = c.BeginCheckpoint(info, &rec.id_);
    rec.writing_ = st.ok();
    return st;
  });
  return rec;
}

void CheckpointRecord::Committed(const CommitInfo& commit) {
  if (!writing_) {
    return;
  }
  writing_ = false;
  Attempt("recording the committed checkpoint",
          [&](Catalog& c) { return c.CommitCheckpoint(id_, commit); });
}

void CheckpointRecord::Verified() {
  if (writing_ || id_ == 0) {
    return;
  }
  Attempt("recording the verification", [&](Catalog& c) { return c.MarkVerified(id_); });
}

void CheckpointRecord::Corrupt(const std::string& reason) {
  if (writing_ || id_ == 0) {
    return;
  }
  Attempt("recording the verification", [&](Catalog& c) { return c.MarkCorrupt(id_, reason); });
}

void CheckpointRecord::Failed(const std::string& reason) {
  if (!writing_) {
    return;
  }
  writing_ = false;
  Attempt("recording the failed checkpoint",
          [&](Catalog& c) { return c.FailCheckpoint(id_, reason); });
}

void CheckpointRecord::Abandon() {
  if (!writing_) {
    return;
  }
  writing_ = false;
  Attempt("dropping the checkpoint row of an ended task",
          [&](Catalog& c) { return c.AbandonCheckpoint(id_); });
  id_ = 0;
}

RestoreRecord RestoreRecord::Start(CatalogOpener open, const RestoreStart& what,
                                   RecordWarning warn) {
  RestoreRecord rec;
  std::shared_ptr<Catalog> catalog;
  Status st = open ? open(&catalog) : Status::Ok();
  if (st.ok() && !catalog) {
    return rec;
  }
  std::optional<std::int64_t> checkpoint_id = what.checkpoint_id;
  std::optional<CheckpointRow> row;
  if (st.ok() && !checkpoint_id) {
    st = catalog->FindByImage(what.image_path, &row);
    if (st.ok() && row) {
      checkpoint_id = row->id;
    }
  }
  std::int64_t id = 0;
  if (st.ok()) {
    st = catalog->RecordRestore(checkpoint_id, what.image_path, RestoreOutcome::kStarted, "",
                                what.node, what.uid, &id);
  }
  rec.checkpoint_id_ = checkpoint_id;
  if (!st.ok()) {
    Tell(warn, "recording the restore", st);
    return rec;
  }
  rec.id_ = id;
  rec.open_ = std::move(open);
  rec.warn_ = std::move(warn);
  return rec;
}

void RestoreRecord::Succeeded() {
  Finish(RestoreOutcome::kSucceeded, "", false);
}

void RestoreRecord::Failed(const std::string& error, bool image_corrupt) {
  Finish(RestoreOutcome::kFailed, error, image_corrupt);
}

void RestoreRecord::Finish(RestoreOutcome outcome, const std::string& error, bool image_corrupt) {
  if (id_ == 0) {
    return;
  }
  const std::int64_t id = std::exchange(id_, 0);
  std::shared_ptr<Catalog> catalog;
  Status st = open_(&catalog);
  if (st.ok() && !catalog) {
    return;
  }
  if (st.ok()) {
    st = catalog->FinishRestore(id, outcome, error);
  }
  if (st.ok() && image_corrupt && checkpoint_id_) {
    std::optional<CheckpointRow> row;
    st = catalog->Get(*checkpoint_id_, &row);
    if (st.ok() && row && IsGood(row->state)) {
      st = catalog->MarkCorrupt(*checkpoint_id_, error);
    }
  }
  if (!st.ok()) {
    Tell(warn_, "recording the restore outcome", st);
  }
}

}  // namespace kcr::catalog
