#include "kcr/catalog/recorder.h"

#include <exception>
#include <utility>

namespace kcr::catalog {

namespace {

void tell(const RecordWarning& warn, std::string_view doing, const std::exception& e) {
  if (warn) {
    warn(doing, e.what());
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
      failed("the checkpoint ended before the image was committed");
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
    failed("the checkpoint ended before the image was committed");
  }
}

template <typename Call>
void CheckpointRecord::attempt(std::string_view doing, Call&& call) {
  if (!catalog_) {
    return;
  }
  try {
    call(*catalog_);
  } catch (const std::exception& e) {
    tell(warn_, doing, e);
    catalog_.reset();
    writing_ = false;
  }
}

CheckpointRecord CheckpointRecord::begin(std::shared_ptr<Catalog> catalog,
                                         const CheckpointInfo& info, RecordWarning warn) {
  CheckpointRecord rec;
  rec.catalog_ = std::move(catalog);
  rec.warn_ = std::move(warn);
  rec.attempt("recording the checkpoint start", [&](Catalog& c) {
    rec.id_ = c.begin_checkpoint(info);
    rec.writing_ = true;
  });
  return rec;
}

void CheckpointRecord::committed(const CommitInfo& commit) {
  if (!writing_) {
    return;
  }
  writing_ = false;
  attempt("recording the committed checkpoint",
          [&](Catalog& c) { c.commit_checkpoint(id_, commit); });
}

void CheckpointRecord::verified() {
  if (writing_ || id_ == 0) {
    return;
  }
  attempt("recording the verification", [&](Catalog& c) { c.mark_verified(id_); });
}

void CheckpointRecord::corrupt(const std::string& reason) {
  if (writing_ || id_ == 0) {
    return;
  }
  attempt("recording the verification", [&](Catalog& c) { c.mark_corrupt(id_, reason); });
}

void CheckpointRecord::failed(const std::string& reason) {
  if (!writing_) {
    return;
  }
  writing_ = false;
  attempt("recording the failed checkpoint", [&](Catalog& c) { c.fail_checkpoint(id_, reason); });
}

void CheckpointRecord::abandon() {
  if (!writing_) {
    return;
  }
  writing_ = false;
  attempt("dropping the checkpoint row of an ended task",
          [&](Catalog& c) { c.abandon_checkpoint(id_); });
  id_ = 0;
}

RestoreRecord RestoreRecord::start(CatalogOpener open, const RestoreStart& what,
                                   RecordWarning warn) {
  RestoreRecord rec;
  try {
    std::shared_ptr<Catalog> catalog = open ? open() : nullptr;
    if (!catalog) {
      return rec;
    }
    rec.checkpoint_id_ = what.checkpoint_id;
    if (!rec.checkpoint_id_) {
      if (auto row = catalog->find_by_image(what.image_path)) {
        rec.checkpoint_id_ = row->id;
      }
    }
    rec.id_ = catalog->record_restore(rec.checkpoint_id_, what.image_path, RestoreOutcome::kStarted,
                                      "", what.node, what.uid);
    rec.open_ = std::move(open);
    rec.warn_ = std::move(warn);
  } catch (const std::exception& e) {
    tell(warn, "recording the restore", e);
  }
  return rec;
}

void RestoreRecord::succeeded() {
  finish(RestoreOutcome::kSucceeded, "", false);
}

void RestoreRecord::failed(const std::string& error, bool image_corrupt) {
  finish(RestoreOutcome::kFailed, error, image_corrupt);
}

void RestoreRecord::finish(RestoreOutcome outcome, const std::string& error, bool image_corrupt) {
  if (id_ == 0) {
    return;
  }
  const std::int64_t id = std::exchange(id_, 0);
  try {
    std::shared_ptr<Catalog> catalog = open_();
    if (!catalog) {
      return;
    }
    catalog->finish_restore(id, outcome, error);
    if (image_corrupt && checkpoint_id_) {
      auto row = catalog->get(*checkpoint_id_);
      if (row && is_good(row->state)) {
        catalog->mark_corrupt(*checkpoint_id_, error);
      }
    }
  } catch (const std::exception& e) {
    tell(warn_, "recording the restore outcome", e);
  }
}

}  // namespace kcr::catalog
