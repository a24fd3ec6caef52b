#include "kcr/catalog/catalog.h"

namespace kcr::catalog {

// KCR_PROJECT_VERSION comes from CMake's project(VERSION), for this file only.
std::string_view KcrVersion() {
  return KCR_PROJECT_VERSION;
}

}  // namespace kcr::catalog
