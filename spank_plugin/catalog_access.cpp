#include "catalog_access.h"

#include <filesystem>
#include <stdexcept>

#include "dirs.h"
#include "log.h"

namespace kcr::spank {

std::shared_ptr<catalog::Catalog> CatalogAccess::Get() {
  if (catalog_)
    return catalog_;
  if (std::chrono::steady_clock::now() < retry_)
    return nullptr;
  try {
    std::filesystem::path p(path_);
    std::string why;
    if (p.has_parent_path() && !MakeDirs(p.parent_path().string(), 0755, &why))
      throw std::runtime_error(why);
    catalog_ = std::make_shared<catalog::Catalog>(catalog::Catalog::open(p));
    return catalog_;
  } catch (const std::exception& e) {
    Error("cannot open the catalog {}: {}; checkpoints go on unrecorded (retrying in 60 s)", path_,
          e.what());
    retry_ = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    return nullptr;
  }
}

catalog::RecordWarning TaskWarning(std::uint32_t rank) {
  return [rank](std::string_view doing, std::string_view error) {
    Error("task {}: {}: {}", rank, doing, error);
  };
}

}  // namespace kcr::spank
