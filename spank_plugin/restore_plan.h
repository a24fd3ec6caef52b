// Which images a task of a requeued job tries, in which order: a pure
// function of the catalog rows the agent read, --restart-from and the
// job's restart count (tests/slurm/test_restore_plan.cpp).
//
//   --restart-from=latest, first run       nothing ("first run")
//   --restart-from=latest, after a requeue this task's good checkpoints,
//                                          newest first
//   --restart-from=ID, first run           ID alone
//   --restart-from=ID, after a requeue     this task's own newer checkpoints
//                                          first (they continue from ID), ID last
//   --restart-from=none                    nothing
// ID must exist, be the user's and be good (COMMITTED or VERIFIED); if it
// names another step or task, that task follows `latest` instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kcr/catalog/records.h"
#include "options.h"

namespace kcr::spank {

struct RestorePlanInput {
  RestartFrom from;
  std::uint32_t restart = 0;  // the job's run: 0 first, 1 after the first requeue
  // Who asks.
  std::uint32_t uid = 0;
  std::uint32_t step = 0;
  std::uint32_t task = 0;  // rank
  // What the catalog holds: --restart-from=ID's row (absent when there is
  // no such row), and this task's good checkpoints, newest first.
  std::optional<catalog::CheckpointRow> named;
  std::vector<catalog::CheckpointRow> latest;
};

struct RestorePlan {
  std::vector<catalog::CheckpointRow> candidates;  // best first, then the fallbacks
  std::string note;                                // why there are none, or why ID is not used
};

RestorePlan PlanRestore(const RestorePlanInput& in);

// The job's run: slurmctld's restart count, or the task's own
// (SLURM_RESTART_COUNT) if it says more, as when slurmctld was not reached.
std::uint32_t RunOf(std::optional<std::uint32_t> slurmctld_count, std::int64_t task_count);

}  // namespace kcr::spank
