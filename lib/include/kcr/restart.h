// Restarting: the calling process becomes the one in the image.
#pragma once

#include <kcr/export.h>

#include <sys/types.h>

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
  // RestartWithIds() only. Called once the program runs again (its main
  // thread has taken its own name), with its pid as the caller sees it,
  // that name, and whether its clocks continued from the checkpoint in a
  // time namespace (it was saved on another boot or node); a program that
  // ends before it is seen running is not reported.
  std::function<void(pid_t program, const std::string& name, bool clocks_continued)> restored;
  // RestartWithIds() only: pass the caller's signals on to the program
  // (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, ...). Where whoever signals
  // the caller also signals the program (a terminal's process group,
  // Slurm's proctrack), it gets those twice; false passes nothing on. A
  // SIGTERM, SIGINT, SIGHUP or SIGQUIT before the program runs turns a
  // failed restore into ECANCELED: the caller should not try another image.
  bool forward_signals = true;
  // RestartWithIds() only, where it must make a user namespace: writes the
  // id maps of that namespace for `process`, a child of the caller already
  // in it, and when `clock_offsets` is not empty (a program saved on another
  // boot) writes them to its /proc/PID/timens_offsets: `process` has just
  // made the time namespace the program's clocks continue in. Unset, the
  // process writes its own, mapping its uid and gid to themselves; that
  // needs it dumpable, which the child of a process that changed its
  // credentials (slurmstepd's task) is not, and making it dumpable would
  // show the memory it inherited. An error is passed on.
  std::function<Status(pid_t process, const std::string& clock_offsets)> map_ids;
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

// Whether the image's program must be restored with RestartWithIds(): a
// multi-threaded one, whose thread ids glibc keeps in its memory, or one
// saved on another boot or node, whose clocks continue only in a time
// namespace, where this process may make namespaces (a single-threaded
// one restores in place otherwise, its clocks jumping).
KCR_EXPORT bool NeedsNamespaces(const Image& image);

// Whether this process may make the namespaces of RestartWithIds(): it is
// root, or may make a user namespace.
KCR_EXPORT bool MayMakeNamespaces();

// Whether the image's program read other clocks than this boot's (it was
// saved on another boot or node, or in a time namespace): restored, its
// CLOCK_MONOTONIC and CLOCK_BOOTTIME continue from their values at the
// checkpoint, in a time namespace. False for an image too old to say.
KCR_EXPORT bool SavedOnAnotherBoot(const Image& image);

// Restores the program with its own process and thread ids, in a pid
// namespace (and a mount namespace whose /proc shows it) made for it, and
// with its own clocks where they would jump (in a time namespace); where
// the caller may not make one, a user namespace too, mapping only its own
// ids, and the program gets no capability in it. The caller stays in its
// own namespaces and does not become the program: it passes signals on
// (SIGTERM, SIGINT, SIGHUP, SIGUSR1, ...; see forward_signals), waits, and
// returns how the program ended in *wait_status (as waitpid). An error means
// the program never ran: the caller may try another image.
KCR_EXPORT Status RestartWithIds(const std::string& path, const RestartOptions& options,
                                 int* wait_status);

}  // namespace kcr
