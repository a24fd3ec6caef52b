// The plugin's settings: what a job asks for (--checkpoint, --checkpoint-dir,
// --checkpoint-on, --restart-from), what the site sets in plugstack.conf, and
// how the two combine. Pure functions of text, so sbatch can reject a bad
// value before the job exists and the unit tests can cover every rule.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kcr/status.h>

namespace kcr::spank {

// --checkpoint=INTERVAL|auto|none|off
struct Interval {
  enum class Kind {
    kOff,    // the plugin leaves the job alone (no checkpoints, no restores)
    kNone,   // no periodic checkpoints; preemption and time limit still trigger them
    kFixed,  // every `every`
    kAuto,   // Young/Daly from the measured checkpoint cost and the site MTBF
  };
  Kind kind = Kind::kOff;
  std::chrono::seconds every{0};

  bool enabled() const { return kind != Kind::kOff; }
  bool operator==(const Interval&) const = default;
};

// --checkpoint-on=preempt,timelimit (both by default) or none
struct Triggers {
  bool preempt = true;
  bool timelimit = true;
  bool operator==(const Triggers&) const = default;
};

// --restart-from=latest|ID|none
struct RestartFrom {
  enum class Kind { kLatest, kId, kNone };
  Kind kind = Kind::kLatest;
  std::int64_t id = 0;  // catalog checkpoint id, for kId
  bool operator==(const RestartFrom&) const = default;
};

// Each parser fills *out from valid text; invalid text is an EINVAL Status
// whose message is a sentence the user sees ("'5' has no unit; write e.g.
// 90s, 10m or 2h (or auto, none, off)"), and *out is left alone.
Status ParseInterval(std::string_view text, Interval* out);
Status ParseTriggers(std::string_view text, Triggers* out);
Status ParseRestartFrom(std::string_view text, RestartFrom* out);
// An image_dir pattern (kcr/config/image_dir.h has the rules).
Status CheckDirPattern(std::string_view text);

std::string ToString(const Interval& interval);  // "90s", "auto", "none", "off"
std::string ToString(const Triggers& triggers);  // "preempt,timelimit", "none"
std::string ToString(const RestartFrom& from);   // "latest", "42", "none"

// What the job's options said; absent means "not given".
struct JobOptions {
  std::optional<Interval> interval;
  std::optional<std::string> dir;
  std::optional<Triggers> on;
  std::optional<RestartFrom> restart_from;
};

// plugstack.conf: `required /path/spank_kcr.so key=value ...`
struct SiteOptions {
  std::string config_path;         // config=FILE: kcr.yaml (else $KCR_CONFIG or /etc/kcr/kcr.yaml)
  Interval interval;               // default=INTERVAL: for jobs without --checkpoint (off)
  std::optional<std::string> dir;  // dir=PATTERN: overrides the config's image_dir
  Triggers on;                     // on=LIST
  std::string spool_dir = "/run/kcr";     // spool=DIR: the agents' request sockets
  bool srun_ignore_sigterm = true;        // srun_sigterm=ignore|default (docs/slurm.md)
  std::chrono::milliseconds poll{1000};   // poll=DURATION: how often the agent asks slurmctld
  std::chrono::seconds min_interval{10};  // min_interval=DURATION: floor of auto intervals
  std::chrono::seconds mtbf{0};           // mtbf=DURATION: overrides the config's slurm.mtbf
};
// Unknown keys and bad values are errors (EINVAL): a typo in plugstack.conf
// must not silently change what every job gets.
Status ParseSiteArgs(const std::vector<std::string>& args, SiteOptions* site);

// What one job step runs with.
struct Settings {
  Interval interval;
  std::string dir_pattern;
  bool dir_from_user = false;  // the user named the directory: all of it is made as the user
  Triggers on;
  RestartFrom restart_from;

  // Checkpoints are taken only when the interval is not off.
  bool checkpoints() const { return interval.enabled(); }
  // Restores happen for checkpointing jobs, and for any job that names an image.
  bool restores() const {
    return restart_from.kind != RestartFrom::Kind::kNone &&
           (checkpoints() || restart_from.kind == RestartFrom::Kind::kId);
  }
  bool active() const { return checkpoints() || restores(); }
};
// The job's options win over the site's; the directory falls back to the
// configuration's image_dir.
Settings Resolve(const SiteOptions& site, const JobOptions& job, std::string_view config_image_dir);

}  // namespace kcr::spank
