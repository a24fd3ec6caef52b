// Who and where: the names kcr records in the catalog and in its logs, read
// the same way by the kcr CLI, the catalog tools and the Slurm agent.
#pragma once

#include <pwd.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <string>

namespace kcr::util {

// This node's short host name ("n01" of "n01.cluster"): Slurm names nodes
// by their short name, and the catalog must agree with it.
inline std::string NodeName() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string name = host;
  return name.substr(0, name.find('.'));
}

// The name of `uid` on this node, or the number as text when the node does
// not know it (a catalog row needs some name either way).
inline std::string UserName(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

// The running kernel's release ("6.1.0-18-amd64"): an image restores only on
// the kernel build that took it, so every checkpoint row records it.
inline std::string KernelRelease() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

}  // namespace kcr::util
