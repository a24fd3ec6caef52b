// kcr's configuration: one YAML file, /etc/kcr/kcr.yaml unless $KCR_CONFIG
// or `kcr --config` names another (docs/configuration.md lists every key).
//
//   kcr::config::Config cfg = kcr::config::load(cli_config_path);
//
// A missing default file means "all defaults"; a file named explicitly must
// exist. Unknown keys, wrong types and malformed durations or sizes throw
// ConfigError, whose message names the file, the line and the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kcr/config/image_dir.h"

namespace kcr::config {

inline constexpr std::string_view kDefaultPath = "/etc/kcr/kcr.yaml";
inline constexpr std::string_view kEnvVar = "KCR_CONFIG";

enum class LogLevel { kError, kWarning, kInfo, kDebug };
std::string_view to_string(LogLevel level);

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

class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& message, std::string key = {}, int line = 0)
      : std::runtime_error(message), key_(std::move(key)), line_(line) {}
  const std::string& key() const { return key_; }  // "retention.max_age"; empty if none
  int line() const { return line_; }               // 1-based; 0 if none

 private:
  std::string key_;
  int line_;
};

// Parses YAML text; `name` is what messages call it (usually the path).
Config parse(std::string_view yaml, std::string_view name);
// Reads one file, which must exist.
Config load_file(const std::filesystem::path& path);

// Where the configuration comes from: `explicit_path` (--config) if not
// empty, else $KCR_CONFIG if set, else kDefaultPath (which may be missing).
struct Source {
  enum class Origin { kCommandLine, kEnvironment, kDefault };
  std::filesystem::path path;
  Origin origin = Origin::kDefault;
};
Source resolve(std::string_view explicit_path);
// resolve() + load_file(), with built-in defaults when the default file is absent.
Config load(std::string_view explicit_path = {});

// "90s", "10m", "2h", "1d", or combined "1h30m"; "0" is zero.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);
// "500M", "10GiB", "1.5T", "2GB": K/M/G/T/P and KiB..PiB are powers of 1024
// (as in Slurm), KB..PB powers of 1000; "0" is zero. A bare number is refused.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Daly's higher-order estimate of the optimal interval (Young's sqrt(2CM)
// plus correction terms) for checkpoint cost `cost` and MTBF `mtbf`.
std::chrono::seconds young_daly_interval(std::chrono::duration<double> cost,
                                         std::chrono::seconds mtbf);
// The interval to use now: fixed, Young/Daly, or zero for none.
std::chrono::seconds periodic_interval(const Config& config,
                                       std::chrono::duration<double> last_cost);

}  // namespace kcr::config
