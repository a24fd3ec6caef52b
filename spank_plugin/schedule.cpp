#include "schedule.h"

#include <fmt/format.h>

#include <algorithm>

#include "kcr/config/config.h"

namespace kcr::spank {

std::string_view ToString(Due due) {
  switch (due) {
    case Due::kNothing:
      return "nothing";
    case Due::kEndHeldTasks:
      return "end held tasks";
    case Due::kPreempt:
      return "preempt";
    case Due::kTimelimit:
      return "timelimit";
    case Due::kPeriodic:
      return "periodic";
  }
  return "?";
}

Due TriggerSchedule::Next(const JobView& job, std::time_t now, Clock::time_point steady_now) {
  if (job.known && !job.running)
    return Due::kEndHeldTasks;
  if ((job.known && job.suspended) || !rules_.checkpoints)
    return Due::kNothing;
  if (job.known && rules_.on_preempt && job.preempt_time != 0 && !preempt_done_) {
    preempt_done_ = true;
    return Due::kPreempt;
  }
  if (job.known && rules_.on_timelimit && job.preempt_time == 0 && job.time_limited &&
      job.end_time > 0 && now + rules_.grace_margin.count() >= job.end_time &&
      timelimit_done_for_ != job.end_time) {
    timelimit_done_for_ = job.end_time;
    return Due::kTimelimit;
  }
  // After a preemption checkpoint the task is held (or the job is leaving):
  // a later image would only be older than the one that matters.
  if (interval_.count() > 0 && steady_now >= next_periodic_ && !preempt_done_)
    return Due::kPeriodic;
  return Due::kNothing;
}

void TriggerSchedule::Rearm(std::chrono::seconds interval, Clock::time_point from) {
  interval_ = interval;
  if (interval_.count() > 0)
    next_periodic_ = from + interval_;
}

CheckpointCost EstimateCost(std::span<const std::uint64_t> measured_ns,
                            std::uint64_t memory_bytes) {
  if (!measured_ns.empty()) {
    double sum = 0;
    for (std::uint64_t ns : measured_ns)
      sum += static_cast<double>(ns) / 1e9;
    return {std::chrono::duration<double>(sum / static_cast<double>(measured_ns.size())),
            fmt::format("measured over {} checkpoint{}", measured_ns.size(),
                        measured_ns.size() > 1 ? "s" : "")};
  }
  return {std::chrono::duration<double>(0.1 + static_cast<double>(memory_bytes) / (1 << 30)),
          fmt::format("estimated from {} MiB of memory (none measured yet)", memory_bytes >> 20)};
}

AutoInterval ChooseAutoInterval(std::span<const CheckpointCost> task_costs,
                                std::chrono::seconds site_mtbf, std::chrono::seconds config_mtbf,
                                std::chrono::seconds min_interval) {
  AutoInterval a;
  for (const CheckpointCost& c : task_costs) {
    if (c.seconds >= a.cost.seconds)
      a.cost = c;
  }
  a.mtbf = site_mtbf.count() > 0 ? site_mtbf : config_mtbf;
  if (a.mtbf.count() <= 0) {
    a.mtbf = std::chrono::hours(24);
    a.mtbf_assumed = true;
  }
  a.young_daly = config::YoungDalyInterval(a.cost.seconds, a.mtbf);
  a.interval = std::max(a.young_daly, min_interval);
  return a;
}

}  // namespace kcr::spank
