// The plain structs the catalog reads and writes: what a caller knows when a
// checkpoint starts (CheckpointInfo), what it learns when the image is safe
// (CommitInfo), and the rows the catalog hands back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kcr/catalog/state.h"

namespace kcr::catalog {

// Job id of checkpoints taken outside Slurm (`kcr checkpoint PID`). Stored as
// NULL, printed as "manual", selected with `--job manual`.
inline constexpr std::uint32_t kManualJob = 0;

// Slurm's special step ids (slurm.h), printed by name.
inline constexpr std::uint32_t kStepBatch = 0xfffffffbU;
inline constexpr std::uint32_t kStepExtern = 0xfffffffcU;
inline constexpr std::uint32_t kStepInteractive = 0xfffffffaU;

struct CheckpointInfo {
  std::uint32_t job_id = kManualJob;          // Slurm job id; kManualJob outside Slurm
  std::optional<std::uint32_t> array_job_id;  // set for array jobs only
  std::optional<std::uint32_t> array_task_id;
  std::string partition;            // may be empty
  std::uint32_t restart_count = 0;  // SLURM_RESTART_COUNT when known
  std::uint32_t step_id = 0;
  std::uint32_t task = 0;  // task rank within the step
  std::string node;
  std::int32_t pid = 0;    // target pid at checkpoint
  std::uint32_t uid = 0;   // owner of the target and of the image
  std::string user;        // name of uid, kept for reports
  std::string image_path;  // final path, after the rename
  Trigger trigger = Trigger::kManual;
  std::optional<std::int64_t> parent_id;  // for incremental chains (none yet)
  std::string kcr_version;
  std::string kernel_release;
  std::optional<std::int64_t> created_ns;  // CLOCK_REALTIME; now when absent
};

struct CommitInfo {
  std::uint64_t bytes = 0;     // size of the image file
  std::uint64_t checksum = 0;  // the image header's xxh64 (identifies the image)
  std::uint64_t freeze_ns = 0;
  std::uint64_t write_ns = 0;
};

struct CheckpointRow {
  std::int64_t id = 0;
  CheckpointInfo info;  // info.created_ns is always set in a row
  State state = State::kWriting;
  std::string state_reason;  // why FAILED / CORRUPT / EXPIRED / DELETED
  std::uint64_t bytes = 0;
  std::uint64_t checksum = 0;
  std::uint64_t freeze_ns = 0;
  std::uint64_t write_ns = 0;
  std::optional<std::int64_t> committed_ns;
  std::optional<std::int64_t> verified_ns;
  std::int64_t state_changed_ns = 0;
  // The set this checkpoint belongs to (Catalog::GroupCheckpoints), if any.
  std::optional<std::int64_t> set_key;
  std::uint32_t set_size = 1;

  std::int64_t created_ns() const { return info.created_ns.value_or(0); }
};

struct RestoreRow {
  std::int64_t id = 0;
  std::optional<std::int64_t> checkpoint_id;  // none when the image was not catalogued
  std::string image_path;
  std::string node;
  std::uint32_t uid = 0;
  std::int64_t started_ns = 0;
  std::optional<std::int64_t> finished_ns;
  RestoreOutcome outcome = RestoreOutcome::kStarted;
  std::string error_text;
};

struct JobRow {
  std::uint32_t job_id = 0;
  std::optional<std::uint32_t> array_job_id;
  std::optional<std::uint32_t> array_task_id;
  std::uint32_t uid = 0;
  std::string user;
  std::string partition;
  std::uint32_t restart_count = 0;
  std::int64_t first_seen_ns = 0;
  std::int64_t last_seen_ns = 0;
};

// "1234", "manual"; "batch"/"extern"/"interactive" for Slurm's special steps.
std::string JobName(std::uint32_t job_id);
std::string StepName(std::uint32_t step_id);
// Inverse of StepName(); nullopt when text is neither a number nor a name.
std::optional<std::uint32_t> ParseStep(std::string_view text);

}  // namespace kcr::catalog
