#include "catalog_access.h"

#include <filesystem>

#include "dirs.h"
#include "log.h"

namespace kcr::spank {

std::shared_ptr<catalog::Catalog> CatalogAccess::Get() {
  if (catalog_)
    return catalog_;
  if (std::chrono::steady_clock::now() < retry_)
    return nullptr;
  std::filesystem::path p(path_);
  Status st;
  if (p.has_parent_path())
    st = MakeDirs(p.parent_path().string(), 0755);
  std::unique_ptr<catalog::Catalog> opened;
  if (st.ok())
    st = catalog::Catalog::Open(p, {}, &opened);
  if (!st.ok()) {
    Error("cannot open the catalog {}: {}; checkpoints go on unrecorded (retrying in 60 s)", path_,
          st.message());
    retry_ = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    return nullptr;
  }
  catalog_ = std::move(opened);
  return catalog_;
}

catalog::RecordWarning TaskWarning(std::uint32_t rank) {
  return [rank](std::string_view doing, std::string_view error) {
    Error("task {}: {}: {}", rank, doing, error);
  };
}

}  // namespace kcr::spank
