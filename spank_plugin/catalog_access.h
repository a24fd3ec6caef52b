// The agent's connection to the catalog: opened on first use (its directory
// created), shared by every record the agent writes for the step, and
// retried at most once a minute when it cannot be opened, so a broken
// catalog costs a log line a minute rather than one per checkpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "kcr/catalog/catalog.h"
#include "kcr/catalog/recorder.h"

namespace kcr::spank {

class CatalogAccess {
 public:
  explicit CatalogAccess(std::string path) : path_(std::move(path)) {}

  // The open catalog, or null (logged) while it cannot be opened.
  std::shared_ptr<catalog::Catalog> Get();

 private:
  std::string path_;
  std::shared_ptr<catalog::Catalog> catalog_;
  std::chrono::steady_clock::time_point retry_{};
};

// Catalog trouble while recording task `rank`'s checkpoint or restore,
// logged to slurmd's log ("task 0: recording the committed checkpoint: ...").
catalog::RecordWarning TaskWarning(std::uint32_t rank);

}  // namespace kcr::spank
