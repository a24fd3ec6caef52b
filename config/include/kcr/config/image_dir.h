// image_dir patterns: where images go ("/var/spool/kcr/{user}/{job}") and
// what an image's file is called. The one owner of their rules, used by
// kcr.yaml's image_dir, plugstack.conf's dir=, --checkpoint-dir, the Slurm
// agent that writes images and `kcr catalog rebuild` that reads their
// places back.
//
// A valid pattern:
//   - is absolute (starts with '/');
//   - uses only the placeholders {job} {step} {task} {user}: every '{' is
//     closed by a '}' around one of them, and no '}' stands alone;
//   - has no '..' component, so images stay below the directory the pattern
//     names (a user's --checkpoint-dir must not climb out of it).
// Anything else in a pattern is literal text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <kcr/status.h>

namespace kcr::config {

// Ok when `pattern` is a valid image_dir; otherwise EINVAL with a sentence
// naming the bad part.
Status CheckImageDir(std::string_view pattern);

// Fills the placeholders; values are the caller's spelling ("1234" or
// "manual", "0" or "batch", ...).
struct ImageDirFields {
  std::string job, step, task, user;
};
std::string ExpandImageDir(std::string_view pattern, const ImageDirFields& fields);

// The part of a pattern no placeholder changes: up to the last '/' before
// the first placeholder ("/var/spool/kcr" of "/var/spool/kcr/{user}/{job}"),
// "/" when a placeholder follows the root, the whole pattern without one.
std::string ImageDirFixedPrefix(std::string_view pattern);

// What an image's place says about it: the placeholders' values, read back
// from the path. Job and step keep their spelling ("manual", "batch").
struct ImageDirMatch {
  std::optional<std::string> job, step, task, user;
};

// Matches image paths against one pattern (compiled once, for scans of
// many images).
class ImageDirMatcher {
 public:
  // An invalid pattern (see CheckImageDir) matches nothing.
  explicit ImageDirMatcher(std::string_view pattern);
  // Tries the image's directory, then each of its ancestors.
  std::optional<ImageDirMatch> Match(const std::filesystem::path& image) const;

 private:
  std::optional<std::regex> re_;
  std::vector<std::string> names_;  // the placeholder of each capture group
};

// An image's file name: "JOB.STEP.TASK.rRESTART.SEQ-TRIGGER.kcr", e.g.
// "42.batch.0.r1.3-preempt.kcr". RESTART is the job's run (0 first, 1 after
// the first requeue) and SEQ counts the step's checkpoints, so no image is
// ever overwritten.
struct ImageName {
  std::string job, step, task;
  std::uint32_t restart = 0;
  std::uint32_t seq = 0;
  std::string trigger;
};
std::string ImageFileName(const ImageName& name);

}  // namespace kcr::config
