// RestoreThreads: the restorer's other threads, one for each thread of a
// multi-threaded image.
//
// The module restores a thread group only from a restorer that has exactly
// the image's threads, each with its image thread's id (glibc caches thread
// ids: mutex owners, pthread_kill). So the restorer, running as the image's
// process id in a pid namespace where it may choose ids, starts each other
// thread with clone3(set_tid), sets its scheduling, and lets it enter
// KCR_IOC_RESTORE_THREAD, where it waits for the main thread's restore to
// hand it its record.
//
// The threads run no library code: they share the main thread's TLS (no
// CLONE_SETTLS), so they make only raw system calls, on small stacks of
// their own.
#pragma once

#include <kcr/image.h>
#include <kcr/status.h>

#include <memory>

namespace kcr {

class RestoreThreads {
 public:
  struct Options {
    int device = -1;                 // /dev/kcr, for KCR_IOC_RESTORE_THREAD
    bool drop_capabilities = false;  // each thread drops every capability first
  };

  // Starts threads 1..n-1 of the image (none for a single-threaded one) and
  // gives each its scheduling; they wait until Go() or destruction. The
  // calling thread must have every signal blocked: the threads inherit the
  // mask, so that their own pending signals wait for the restore.
  static Status Start(const Image& image, const Options& options,
                      std::unique_ptr<RestoreThreads>* out);
  // The threads queue their own pending signals and enter the module; the
  // caller's KCR_IOC_RESTORE must follow (it gathers them).
  void Go();
  // Threads that never restored exit, and their stacks are freed.
  ~RestoreThreads();

  RestoreThreads(const RestoreThreads&) = delete;
  RestoreThreads& operator=(const RestoreThreads&) = delete;

  struct Shared;  // what the main thread and the threads share (restore_threads.cpp)

 private:
  RestoreThreads() = default;
  Shared* shared_ = nullptr;
};

// Sets a thread's scheduling (policy, priority, niceness, CPUs) from its
// image record: CPUs within the caller's own allowed set (a new allocation
// may have others), all of them if none is left.
Status RestoreScheduling(pid_t tid, const kcr_thread& thread);

// Queues the image's signals pending for one thread on the calling thread
// (it must block them all): no exported kernel call can do it from the
// module. RemovePendingSignals() takes them back if the restore is refused.
Status QueuePendingSignals(const Image& image, uint32_t thread_index);
void RemovePendingSignals(const Image& image, uint32_t thread_index);

}  // namespace kcr
