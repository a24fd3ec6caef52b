// ScopedUserRights: the calling thread acts with a user's rights for a while.
#pragma once

#include <linux/capability.h>
#include <sys/types.h>

#include "status.h"

namespace kcr {

// On the calling thread only (file-system ids and capabilities are per
// thread in the kernel, and glibc does not spread setfsuid/capset to other
// threads): the file-system uid and gid become the user's, and no capability
// is effective. The kernel then decides for this thread what it would decide
// for the user: opening a process's /proc/PID/mem (ptrace's rule) and
// creating files. The permitted set stays, so everything is taken back when
// the object goes. Only meaningful for a privileged caller.
class ScopedUserRights {
 public:
  ScopedUserRights(uid_t uid, gid_t gid);
  ~ScopedUserRights();
  ScopedUserRights(const ScopedUserRights&) = delete;
  ScopedUserRights& operator=(const ScopedUserRights&) = delete;

  const Status& status() const { return status_; }

 private:
  Status status_;
  bool caps_dropped_ = false;
  uid_t old_uid_ = 0;
  gid_t old_gid_ = 0;
  __user_cap_data_struct saved_[_LINUX_CAPABILITY_U32S_3] = {};
};

}  // namespace kcr
