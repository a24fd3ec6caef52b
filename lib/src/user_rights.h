// ScopedUserRights: the calling thread acts as another user for a while.
#pragma once

#include <sys/types.h>

#include <vector>

#include <kcr/status.h>

namespace kcr {

// For a privileged caller (root: the Slurm agent acting for a job's owner).
// On the calling thread only — credentials are per thread in the kernel, and
// raw system calls, unlike glibc's wrappers, do not spread them to the
// process's other threads — the effective and file-system uid and gid and the
// supplementary groups become the user's. The kernel then decides for this
// thread what it decides for that user: opening a process's /proc/PID/mem
// (ptrace's rule, including which user namespaces it owns), creating files.
// Changing the effective uid from root clears the effective capabilities;
// the real and saved uid stay, so everything is taken back when the object
// goes.
class ScopedUserRights {
 public:
  ScopedUserRights(uid_t uid, gid_t gid, const std::vector<gid_t>& groups);
  ~ScopedUserRights();
  ScopedUserRights(const ScopedUserRights&) = delete;
  ScopedUserRights& operator=(const ScopedUserRights&) = delete;

  const Status& status() const { return status_; }

 private:
  Status status_;
  bool groups_changed_ = false, gid_changed_ = false, uid_changed_ = false;
  uid_t old_euid_ = 0;
  gid_t old_egid_ = 0;
  std::vector<gid_t> old_groups_;
};

}  // namespace kcr
