#include "restore_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "kcr/catalog/state.h"

namespace kcr::spank {

namespace cat = kcr::catalog;

namespace {

// --restart-from=ID's row if this task may restore it; otherwise why not
// (empty when it simply belongs to another task, which then follows latest).
std::optional<cat::CheckpointRow> UsableNamed(const RestorePlanInput& in, std::string* note) {
  const std::int64_t id = in.from.id;
  if (!in.named) {
    *note = fmt::format("--restart-from={}: no such checkpoint", id);
    return std::nullopt;
  }
  const cat::CheckpointRow& row = *in.named;
  if (row.info.uid != in.uid) {
    *note = fmt::format("--restart-from={}: the checkpoint belongs to uid {}", id, row.info.uid);
    return std::nullopt;
  }
  if (row.info.step_id != in.step || row.info.task != in.task)
    return std::nullopt;
  if (!cat::IsGood(row.state)) {
    *note = fmt::format("--restart-from={}: the checkpoint is {}", id, cat::ToString(row.state));
    return std::nullopt;
  }
  return row;
}

}  // namespace

RestorePlan PlanRestore(const RestorePlanInput& in) {
  RestorePlan plan;
  if (in.from.kind == RestartFrom::Kind::kNone) {
    plan.note = "--restart-from=none";
    return plan;
  }
  std::optional<cat::CheckpointRow> named;
  if (in.from.kind == RestartFrom::Kind::kId) {
    named = UsableNamed(in, &plan.note);
    if (!plan.note.empty())
      return plan;
  }
  if (named) {
    // After a requeue the job's own checkpoints continue from the named one
    // and are newer: they come first, the named image last.
    if (in.restart > 0) {
      plan.candidates = in.latest;
      std::erase_if(plan.candidates,
                    [&](const cat::CheckpointRow& r) { return r.id == named->id; });
    }
    plan.candidates.push_back(*named);
    return plan;
  }
  if (in.restart == 0) {
    plan.note = "first run";
    return plan;
  }
  plan.candidates = in.latest;
  if (plan.candidates.empty())
    plan.note = "no good checkpoint of this task in the catalog";
  return plan;
}

std::uint32_t RunOf(std::optional<std::uint32_t> slurmctld_count, std::int64_t task_count) {
  return std::max<std::uint32_t>(slurmctld_count.value_or(0),
                                 static_cast<std::uint32_t>(std::max<std::int64_t>(0, task_count)));
}

}  // namespace kcr::spank
