// The catalog's schema and its migrations. PRAGMA user_version holds the
// version; PRAGMA application_id marks the file as a kcr catalog so that
// kcr never "migrates" some other program's database.
#pragma once

#include <cstdint>

#include "sqlite.h"

namespace kcr::catalog::schema {

inline constexpr std::int32_t kApplicationId = 0x4b435243;  // "KCRC"

// Brings a writable catalog to kSchemaVersion inside one write transaction
// (so concurrent first opens serialize and only one of them migrates).
// Both throw a Failure (failure.h) on an error.
void Migrate(sql::Db& db);

// For read-only opens: checks identity and version without changing anything.
void CheckReadable(sql::Db& db);

}  // namespace kcr::catalog::schema
