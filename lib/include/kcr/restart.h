// Restarting: the calling process becomes the one in the image.
#pragma once

#include <kcr/export.h>

#include <functional>
#include <string>

#include <kcr/image.h>
#include <kcr/status.h>

namespace kcr {

struct RestartOptions {
  bool rollback_files = false;  // truncate grown output files to their checkpoint size
  bool skip_verify = false;     // skip re-reading page checksums
  // Fill the writable anonymous memory on every core before the point of no
  // return (prefill.h); false leaves all of it to the module (diagnosis).
  bool prefill = true;
  std::function<void(uint64_t done, uint64_t total)> verify_progress;
  std::function<void()> verify_done;  // called once verification is over
  // Called as each phase ends, with its wall-clock duration (for --timings).
  std::function<void(const char* phase, double ms)> phase_done;
  // Drop every capability (and the bounding set) just before the restore:
  // a restorer in a user namespace of its own must not hand the program
  // the capabilities it holds there (RestartWithIds sets it).
  bool drop_capabilities = false;
};

// The exit status of a restorer that was refused before it changed (the
// namespace's report says why).
constexpr int kRestartRefusedExit = 75;

// The cheap checks that need no pass over the memory: kernel build, the
// files the program had open, and the kernel's own validation of the image
// (a dry run). Restart() runs these first, then verifies every checksum
// while it fills memory (prefill.h).
KCR_EXPORT Status CheckRestartable(const Image& image, const RestartOptions& options);

// The calling process becomes the program in the image. Does not return on
// success. Its pid stays the caller's; a multi-threaded image, whose thread
// ids must be its own, needs RestartWithIds() (or a caller that already has
// the image's pid in a pid namespace where it may choose thread ids).
KCR_EXPORT Status Restart(const std::string& path, const RestartOptions& options);

// Restores the program with its own process and thread ids, in a pid
// namespace (and a mount namespace whose /proc shows it) made for it; an
// unprivileged caller makes a user namespace too, mapping only its own ids,
// and the program gets no capability in it. The caller does not become the
// program: it passes signals on (SIGTERM, SIGINT, SIGHUP, SIGUSR1, ...),
// waits, and returns how the program ended in *wait_status (as waitpid).
KCR_EXPORT Status RestartWithIds(const std::string& path, const RestartOptions& options,
                                 int* wait_status);

}  // namespace kcr
