// Retention: which checkpoints prune removes, decided by a pure function of
// the rows, the policy and the set of jobs still pending or running, so it
// can be shown (`prune --dry-run`) before Catalog::ApplyPrune() acts on it.
//
// Good rows (COMMITTED, VERIFIED) are grouped in series: one series per
// Slurm job step task (a restart of task T needs task T's image), one per
// process (user, node, pid) for manual checkpoints. A good row expires when
//   - it is not among the newest keep_last of its series, or
//   - it is older than max_age, or
//   - its user's good rows exceed user_quota bytes (oldest go first),
// unless it is protected:
//   - the newest good row of each series of an active job is always kept;
//   - a row that a kept row names as parent is kept (transitively).
// Rows that can never serve a restart are cleaned: FAILED and CORRUPT rows,
// EXPIRED rows a crashed prune left, and WRITING rows older than
// writing_timeout (a writer that died). An image file is never unlinked
// while a live row it is not deleting names the same path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "kcr/catalog/records.h"

namespace kcr::catalog {

struct RetentionPolicy {
  std::uint32_t keep_last = 0;                 // per series; 0: no limit
  std::chrono::seconds max_age{0};             // 0: no limit
  std::uint64_t user_quota = 0;                // bytes of good images per user; 0: no limit
  std::chrono::seconds writing_timeout{3600};  // a WRITING row older than this was abandoned
};

// Jobs whose newest checkpoints must survive. nullopt means "unknown" (no
// squeue): then every job with a checkpoint younger than max_age counts as
// active, and with no max_age every job does. Manual checkpoints belong to
// no job and get no such protection.
using ActiveJobs = std::optional<std::unordered_set<std::uint32_t>>;

enum class PruneKind {
  kExpire,          // good row out of policy: EXPIRED, unlink, DELETED
  kAbandonWriting,  // stale WRITING row: FAILED, unlink, DELETED
  kClean,           // FAILED / CORRUPT / EXPIRED row: unlink, DELETED
};

struct PruneAction {
  std::int64_t id = 0;
  PruneKind kind = PruneKind::kExpire;
  State from = State::kCommitted;  // the state the plan saw; apply skips rows that moved since
  std::uint32_t uid = 0;
  std::string image_path;
  std::uint64_t bytes = 0;
  bool unlink_image = true;  // false when a live row still names the same file
  std::string reason;        // "keep_last 3 exceeded", "older than max_age 7d", ...
};

struct PrunePlan {
  std::vector<PruneAction> actions;
  // Users still over quota after pruning everything the rules allow.
  std::vector<std::string> notes;
};

PrunePlan PlanRetention(std::span<const CheckpointRow> rows, const RetentionPolicy& policy,
                        const ActiveJobs& active, std::int64_t now_ns);

std::string_view ToString(PruneKind kind);  // "expire", "abandon", "clean"

}  // namespace kcr::catalog
