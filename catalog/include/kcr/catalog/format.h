// Rendering catalog rows for people and programs: an aligned table, JSON
// (stable, documented in docs/catalog.md), CSV (RFC 4180) and "parsable"
// ('|'-separated with a header line, like `sacct --parsable2`).
// Tables show local time and human sizes; the other formats show UTC
// (ISO 8601, "Z") and exact bytes, so their output is the same everywhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kcr/catalog/catalog.h"
#include "kcr/catalog/records.h"

namespace kcr::catalog {

enum class Format { kTable, kJson, kCsv, kParsable };
std::optional<Format> ParseFormat(std::string_view text);

// Bumped when a field of the JSON output changes meaning or disappears
// (adding fields does not bump it).
inline constexpr int kJsonFormatVersion = 1;

std::string RenderCheckpoints(std::span<const CheckpointRow> rows, Format format);
// One checkpoint with its restores; the table format is "key: value" lines.
std::string RenderCheckpoint(const CheckpointRow& row, std::span<const RestoreRow> restores,
                             Format format);
std::string RenderStats(const Stats& stats, Format format);
std::string RenderPrune(const PrunePlan& plan, bool dry_run, Format format);

// ns since the epoch -> "2024-05-01T12:00:00Z" (UTC) or "2024-05-01 14:00:00" (local).
std::string UtcTime(std::int64_t ns);
std::string LocalTime(std::int64_t ns);

}  // namespace kcr::catalog
