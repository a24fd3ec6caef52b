// kcr's configuration: one YAML file, /etc/kcr/kcr.yaml unless $KCR_CONFIG
// or `kcr --config` names another (docs/configuration.md lists every key).
//
//   kcr::config::Config cfg;
//   kcr::Status st = kcr::config::Load(cli_config_path, &cfg);
//
// A missing default file means "all defaults"; a file named explicitly must
// exist. Unknown keys, wrong types and malformed durations or sizes are an
// error Status (EINVAL) whose message names the file, the line and the key;
// a file that cannot be read gives its errno (ENOENT, EACCES, ...). Nothing
// here throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <kcr/status.h>

#include "kcr/config/image_dir.h"

namespace kcr::config {

inline constexpr std::string_view kDefaultPath = "/etc/kcr/kcr.yaml";
inline constexpr std::string_view kEnvVar = "KCR_CONFIG";

enum class LogLevel { kError, kWarning, kInfo, kDebug };
std::string_view ToString(LogLevel level);

// How often periodic checkpoints happen.
struct Interval {
  enum class Kind {
    kFixed,  // every `every`
    kAuto,   // Young/Daly from slurm.mtbf and the last checkpoint's cost
    kNone,   // no periodic checkpoints (preemption and time limit still trigger them)
  };
  Kind kind = Kind::kFixed;
  std::chrono::seconds every{3600};
};

struct CheckpointConfig {
  Interval interval;
  std::chrono::seconds grace_margin{300};  // checkpoint this long before a time limit
  bool verify_after_write = true;
  std::string compression = "none";  // the only value accepted for now
};

struct RetentionConfig {
  std::uint32_t keep_last = 3;                                  // per series; 0: no limit
  std::chrono::seconds max_age{std::chrono::hours(24 * 7)};     // 0: no limit
  std::uint64_t user_quota = 0;                                 // bytes; 0: no limit
  std::chrono::seconds writing_timeout{std::chrono::hours(1)};  // abandoned WRITING rows
  std::chrono::seconds keep_history{0};  // rows of DELETED checkpoints; 0: forever
};

struct SlurmConfig {
  std::chrono::seconds mtbf{0};  // mean time between failures of a job; 0: unknown
};

struct Config {
  // Where images go: a pattern whose {job} {step} {task} {user} are filled in
  // per checkpoint (image_dir.h has its rules).
  std::string image_dir = "/var/spool/kcr/{user}/{job}";
  std::string catalog_path = "/var/lib/kcr/catalog.db";
  CheckpointConfig checkpoint;
  RetentionConfig retention;
  SlurmConfig slurm;
  LogLevel log_level = LogLevel::kInfo;
  std::string source;  // the file read; empty when every value is a default
};

// Where in the file an error is, for callers that point at it; the
// message already says "FILE:LINE: KEY: ...".
struct ErrorLocation {
  std::string key;  // "retention.max_age"; empty if none
  int line = 0;     // 1-based; 0 if none
};

// Parses YAML text into *config; `name` is what messages call it (usually
// the path). On an error *config is unspecified and *where (if given) says
// where the error is.
Status Parse(std::string_view yaml, std::string_view name, Config* config,
             ErrorLocation* where = nullptr);
// Reads one file, which must exist.
Status LoadFile(const std::filesystem::path& path, Config* config, ErrorLocation* where = nullptr);

// Where the configuration comes from: `explicit_path` (--config) if not
// empty, else $KCR_CONFIG if set, else kDefaultPath (which may be missing).
struct Source {
  enum class Origin { kCommandLine, kEnvironment, kDefault };
  std::filesystem::path path;
  Origin origin = Origin::kDefault;
};
Source Resolve(std::string_view explicit_path);
// LoadFile() of `source`, with built-in defaults when the default file is
// absent; a file named by --config or $KCR_CONFIG must exist.
Status Load(const Source& source, Config* config);
// Load(Resolve(explicit_path)).
Status Load(std::string_view explicit_path, Config* config);

// "90s", "10m", "2h", "1d", or combined "1h30m"; "0" is zero.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);
// "500M", "10GiB", "1.5T", "2GB": K/M/G/T/P and KiB..PiB are powers of 1024
// (as in Slurm), KB..PB powers of 1000; "0" is zero. A bare number is refused.
std::optional<std::uint64_t> ParseSize(std::string_view text);

// Daly's higher-order estimate of the optimal interval (Young's sqrt(2CM)
// plus correction terms) for checkpoint cost `cost` and MTBF `mtbf`.
std::chrono::seconds YoungDalyInterval(std::chrono::duration<double> cost,
                                       std::chrono::seconds mtbf);
// The interval to use now: fixed, Young/Daly, or zero for none.
std::chrono::seconds PeriodicInterval(const Config& config,
                                      std::chrono::duration<double> last_cost);

}  // namespace kcr::config
