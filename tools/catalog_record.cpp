#include "catalog_record.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <kcr/util/host.h>

namespace kcr::cli {

namespace {

void warn(const std::exception& e) {
  std::fprintf(stderr,
               "kcr: warning: not recorded in the catalog: %s (use --no-catalog to skip the "
               "catalog)\n",
               e.what());
}

// The real uid of a process, from /proc (the owner of its image).
std::optional<uid_t> process_uid(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      uid_t uid = 0;
      if (fields >> uid) {
        return uid;
      }
    }
  }
  return std::nullopt;
}

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace

CheckpointRecord::CheckpointRecord(CheckpointRecord&& other) noexcept
    : catalog_(std::move(other.catalog_)),
      id_(other.id_),
      writing_(std::exchange(other.writing_, false)) {
  other.catalog_.reset();
}

CheckpointRecord& CheckpointRecord::operator=(CheckpointRecord&& other) noexcept {
  if (this != &other) {
    if (writing_) {
      failed("kcr checkpoint ended before the image was committed");
    }
    catalog_ = std::move(other.catalog_);
    other.catalog_.reset();
    id_ = other.id_;
    writing_ = std::exchange(other.writing_, false);
  }
  return *this;
}

CheckpointRecord::~CheckpointRecord() {
  if (writing_) {
    failed("kcr checkpoint ended before the image was committed");
  }
}

void CheckpointRecord::warn_and_stop(const std::exception& e) {
  warn(e);
  catalog_.reset();
  writing_ = false;
}

CheckpointRecord record_manual_checkpoint(const std::string& catalog_path,
                                          const ManualCheckpoint& what) {
  CheckpointRecord rec;
  try {
    catalog::CheckpointInfo info;
    info.job_id = catalog::kManualJob;
    info.node = util::node_name();
    info.pid = what.pid;
    info.uid = process_uid(what.pid).value_or(::getuid());
    info.user = util::user_name(info.uid);
    info.image_path = absolute(what.image_path);
    info.trigger = catalog::Trigger::kManual;
    info.kernel_release = util::kernel_release();
    rec.catalog_.emplace(catalog::Catalog::open(catalog_path));
    rec.id_ = rec.catalog_->begin_checkpoint(info);
    rec.writing_ = true;
  } catch (const std::exception& e) {
    rec.warn_and_stop(e);
  }
  return rec;
}

void CheckpointRecord::committed(std::uint64_t image_bytes, std::uint64_t header_checksum,
                                 std::uint64_t freeze_ns, std::uint64_t write_ns) {
  if (!catalog_ || !writing_) {
    return;
  }
  try {
    writing_ = false;
    catalog_->commit_checkpoint(id_, {image_bytes, header_checksum, freeze_ns, write_ns});
  } catch (const std::exception& e) {
    warn_and_stop(e);
  }
}

void CheckpointRecord::verified() {
  if (!catalog_ || writing_) {
    return;
  }
  try {
    catalog_->mark_verified(id_);
  } catch (const std::exception& e) {
    warn_and_stop(e);
  }
}

void CheckpointRecord::failed(const std::string& reason) {
  if (!catalog_ || !writing_) {
    return;
  }
  try {
    writing_ = false;
    catalog_->fail_checkpoint(id_, reason);
  } catch (const std::exception& e) {
    warn_and_stop(e);
  }
}

RestoreRecord record_restore(const std::string& catalog_path, const std::string& image_path) {
  RestoreRecord rec;
  try {
    const std::string path = absolute(image_path);
    auto cat = catalog::Catalog::open(catalog_path);
    std::optional<std::int64_t> checkpoint;
    if (auto row = cat.find_by_image(path)) {
      checkpoint = row->id;
    }
    rec.id_ = cat.record_restore(checkpoint, path, catalog::RestoreOutcome::kStarted, "",
                                 util::node_name(), ::getuid());
    rec.catalog_path_ = catalog_path;
  } catch (const std::exception& e) {
    warn(e);
  }
  return rec;
}

void RestoreRecord::finish(catalog::RestoreOutcome outcome, const std::string& error) {
  if (id_ == 0) {
    return;
  }
  try {
    catalog::Catalog::open(catalog_path_).finish_restore(id_, outcome, error);
  } catch (const std::exception& e) {
    warn(e);
  }
  id_ = 0;
}

void RestoreRecord::failed(const std::string& error) {
  finish(catalog::RestoreOutcome::kFailed, error);
}

void RestoreRecord::succeeded() {
  finish(catalog::RestoreOutcome::kSucceeded, "");
}

}  // namespace kcr::cli
