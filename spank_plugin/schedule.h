// When the agent checkpoints: a pure function of what slurmctld last said
// about the job, the job's options, the clock and what was already done, so
// every rule below is unit-tested (tests/slurm/test_schedule.cpp) instead of
// reached only by guest scenarios.
//
// At each poll, in this order:
//   1. the job is leaving (no longer RUNNING): held tasks are ended;
//   2. the job is suspended, or takes no checkpoints: nothing;
//   3. a preemption's grace period started: one preemption checkpoint;
//   4. no preemption, a finite time limit, and end_time - grace_margin has
//      come: one time-limit checkpoint per end_time (a new end_time, after
//      the limit was raised, gets its own);
//   5. the periodic interval has passed since the last checkpoint of any
//      kind, and no preemption checkpoint was taken: a periodic one.
// Preemption and time limit wait while slurmctld has never answered.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <span>
#include <string>

namespace kcr::spank {

using Clock = std::chrono::steady_clock;

// What slurmctld said about the job at the last poll that reached it.
struct JobView {
  bool known = false;  // slurmctld has answered at least once
  bool running = true;
  bool suspended = false;
  std::time_t preempt_time = 0;  // non-zero once a preemption's grace period started
  std::time_t end_time = 0;      // 0: unknown
  bool time_limited = false;     // the job has a finite time limit
};

// The job's options, as far as triggers go.
struct TriggerRules {
  bool checkpoints = true;  // --checkpoint is not off
  bool on_preempt = true;
  bool on_timelimit = true;
  std::chrono::seconds grace_margin{300};  // checkpoint.grace_margin
};

enum class Due {
  kNothing,
  kEndHeldTasks,  // the job leaves the node: tasks held since their preemption checkpoint end now
  kPreempt,
  kTimelimit,
  kPeriodic,
};
std::string_view ToString(Due due);

class TriggerSchedule {
 public:
  explicit TriggerSchedule(TriggerRules rules) : rules_(rules) {}

  // What is due at this poll (wall clock `now`, monotonic `steady_now`).
  // Remembers the event checkpoints it hands out, so each is due once.
  Due Next(const JobView& job, std::time_t now, Clock::time_point steady_now);

  // Periodic checkpoints every `interval` from `from`, the end of the last
  // checkpoint of any kind; 0 turns them off.
  void Rearm(std::chrono::seconds interval, Clock::time_point from);
  std::chrono::seconds interval() const { return interval_; }

 private:
  TriggerRules rules_;
  bool preempt_done_ = false;
  std::time_t timelimit_done_for_ = 0;  // the end_time its checkpoint was taken for
  std::chrono::seconds interval_{0};
  Clock::time_point next_periodic_{};
};

// ---- --checkpoint=auto ----

// What one checkpoint of a task costs, and how that was found out (for logs).
struct CheckpointCost {
  std::chrono::duration<double> seconds{0};
  std::string how;
};

// The mean freeze + write time of the task's last committed checkpoints;
// before any was measured, an estimate from its memory: 1 GiB/s plus 0.1 s.
CheckpointCost EstimateCost(std::span<const std::uint64_t> measured_ns, std::uint64_t memory_bytes);

struct AutoInterval {
  std::chrono::seconds interval{0};    // what is used: Young/Daly, at least the site minimum
  std::chrono::seconds young_daly{0};  // Young/Daly's own answer
  std::chrono::seconds mtbf{0};        // the MTBF it was computed with
  bool mtbf_assumed = false;           // neither the site nor kcr.yaml gave one: 24h
  CheckpointCost cost;                 // the dearest task's
};

// Young/Daly for the dearest task (a step's tasks are checkpointed
// together); the site's mtbf= wins over kcr.yaml's slurm.mtbf.
AutoInterval ChooseAutoInterval(std::span<const CheckpointCost> task_costs,
                                std::chrono::seconds site_mtbf, std::chrono::seconds config_mtbf,
                                std::chrono::seconds min_interval);

}  // namespace kcr::spank
