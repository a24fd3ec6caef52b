#include "user_rights.h"

#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kcr {

namespace {

int CapGet(__user_cap_data_struct* data) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  return static_cast<int>(::syscall(SYS_capget, &h, data));
}

int CapSet(const __user_cap_data_struct* data) {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  return static_cast<int>(::syscall(SYS_capset, &h, data));
}

}  // namespace

ScopedUserRights::ScopedUserRights(uid_t uid, gid_t gid) {
  if (CapGet(saved_) != 0) {
    status_ = SysError("reading this thread's capabilities");
    return;
  }
  // Ids first: changing them needs CAP_SETUID/CAP_SETGID, dropped next.
  old_gid_ = static_cast<gid_t>(::setfsgid(gid));
  old_uid_ = static_cast<uid_t>(::setfsuid(uid));
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
    none[i] = saved_[i];
    none[i].effective = 0;
  }
  if (CapSet(none) != 0) {
    status_ = SysError("dropping this thread's capabilities");
    return;
  }
  caps_dropped_ = true;
  // setfsuid reports no failure; asking again with an invalid id returns the current one.
  if (static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != uid ||
      static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) != gid) {
    status_ = Status::Errorf(EPERM, "cannot act as uid {} gid {} (not privileged)", uid, gid);
  }
}

ScopedUserRights::~ScopedUserRights() {
  // Capabilities first: setting the ids back needs CAP_SETUID/CAP_SETGID.
  if (caps_dropped_)
    (void)CapSet(saved_);
  ::setfsuid(old_uid_);
  ::setfsgid(old_gid_);
}

}  // namespace kcr
