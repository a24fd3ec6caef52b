// AsUser: while alive, this thread reaches files as the job's user.
//
// The agent runs as root inside slurmstepd but must not create, rename or
// read files in a user's directory with root's rights: a user who swaps a
// directory for a symlink could otherwise make root write or read anywhere.
// setfsuid/setfsgid change only the calling thread's filesystem identity
// (glibc does not broadcast them to other threads, unlike setuid), and keep
// CAP_SYS_ADMIN, which the kcr module's checkpoint ioctl needs.
#pragma once

#include <sys/fsuid.h>
#include <sys/types.h>

namespace kcr::spank {

class AsUser {
 public:
  AsUser(uid_t uid, gid_t gid) {
    old_gid_ = static_cast<gid_t>(::setfsgid(gid));
    old_uid_ = static_cast<uid_t>(::setfsuid(uid));
  }
  ~AsUser() {
    ::setfsuid(old_uid_);
    ::setfsgid(old_gid_);
  }
  AsUser(const AsUser&) = delete;
  AsUser& operator=(const AsUser&) = delete;

  // setfsuid reports no failure; asking again with an invalid id returns the current one.
  static bool Is(uid_t uid) {
    return static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == uid;
  }

 private:
  uid_t old_uid_;
  gid_t old_gid_;
};

}  // namespace kcr::spank
