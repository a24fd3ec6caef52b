#include "user_rights.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <kcr/util/status_format.h>

namespace kcr {

namespace {

// The raw system calls: glibc's setgroups/setresuid/setresgid change every
// thread of the process (slurmstepd's included).
int ThreadSetGroups(const std::vector<gid_t>& groups) {
  return static_cast<int>(::syscall(SYS_setgroups, groups.size(), groups.data()));
}
int ThreadSetEgid(gid_t gid) {
  return static_cast<int>(::syscall(SYS_setresgid, -1, gid, -1));
}
int ThreadSetEuid(uid_t uid) {
  return static_cast<int>(::syscall(SYS_setresuid, -1, uid, -1));
}

}  // namespace

ScopedUserRights::ScopedUserRights(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  old_euid_ = ::geteuid();
  old_egid_ = ::getegid();
  int n = ::getgroups(0, nullptr);
  if (n < 0) {
    status_ = SysError("reading this thread's groups");
    return;
  }
  old_groups_.resize(static_cast<size_t>(n));
  if (n > 0 && ::getgroups(n, old_groups_.data()) != n) {
    status_ = SysError("reading this thread's groups");
    return;
  }
  // Groups and gid first: changing them needs the capabilities the new
  // euid takes away.
  if (ThreadSetGroups(groups) != 0) {
    status_ = SysError("taking the groups of uid {}", uid);
    return;
  }
  groups_changed_ = true;
  if (ThreadSetEgid(gid) != 0) {
    status_ = SysError("taking gid {}", gid);
    return;
  }
  gid_changed_ = true;
  if (ThreadSetEuid(uid) != 0) {
    status_ = SysError("taking uid {}", uid);
    return;
  }
  uid_changed_ = true;
}

ScopedUserRights::~ScopedUserRights() {
  // In reverse: the euid first gives back the capabilities the rest needs.
  if (uid_changed_)
    (void)ThreadSetEuid(old_euid_);
  if (gid_changed_)
    (void)ThreadSetEgid(old_egid_);
  if (groups_changed_)
    (void)ThreadSetGroups(old_groups_);
}

}  // namespace kcr
