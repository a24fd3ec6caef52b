#include "dirs.h"

#include <kcr/util/status_format.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kcr::spank {

Status MakeDirs(const std::string& path, mode_t mode) {
  std::string sofar;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    sofar = path.substr(0, pos);
    if (sofar.empty())
      continue;
    if (::mkdir(sofar.c_str(), mode) == 0) {
      ::chmod(sofar.c_str(), mode);  // mkdir's mode went through the umask
      continue;
    }
    if (errno == EEXIST) {
      struct stat st;
      if (::stat(sofar.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        continue;
      return Errorf(ENOTDIR, "{} exists and is not a directory", sofar);
    }
    return SysError("cannot create directory {}", sofar);
  }
  return Status::Ok();
}

Status CheckTrustedDir(const std::string& path, uid_t uid, gid_t gid) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real)
    return SysError("cannot resolve {}", path);
  const std::string resolved = real;
  ::free(real);
  std::string at = "/";
  size_t pos = 0;
  for (;;) {
    struct stat st;
    if (::stat(at.c_str(), &st) != 0)
      return SysError("cannot look at {}", at);
    if (!S_ISDIR(st.st_mode))
      return Errorf(ENOTDIR, "{} is not a directory", at);
    const bool owner_ok = st.st_uid == 0 || st.st_uid == uid;
    const bool sticky = st.st_mode & S_ISVTX;
    const bool others_write = (st.st_mode & S_IWOTH) && !sticky;
    const bool group_write = (st.st_mode & S_IWGRP) && !sticky && st.st_gid != gid;
    if (!owner_ok || others_write || group_write) {
      return Errorf(EPERM,
                    "{} belongs to uid {} (group {}, mode {:o}): others could swap what is "
                    "below it; fix: {}",
                    at, st.st_uid, st.st_gid, st.st_mode & 07777,
                    owner_ok ? "chmod go-w " + at + " (or chmod +t)"
                             : "remove it, or set another image directory");
    }
    if (pos == std::string::npos || at == resolved)
      return Status::Ok();
    pos = resolved.find('/', pos + 1);
    at = resolved.substr(0, pos);
  }
}

FileSystemKind FileSystemOf(const std::string& path) {
  // Magic numbers of linux/magic.h (and Lustre's, GPFS's, BeeGFS's own).
  struct Known {
    unsigned long magic;
    const char* name;
    bool node_local;
  };
  static constexpr Known kKnown[] = {
      {0xEF53, "ext4", true},      {0x58465342, "xfs", true},     {0x9123683E, "btrfs", true},
      {0x01021994, "tmpfs", true}, {0xF2F52010, "f2fs", true},    {0x794c7630, "overlay", true},
      {0x6969, "nfs", false},      {0x0BD00BD0, "lustre", false}, {0x47504653, "gpfs", false},
      {0x00c36400, "ceph", false}, {0x19830326, "beegfs", false}, {0xFF534D42, "cifs", false},
      {0xFE534D42, "smb2", false}, {0x01021997, "9p", false},     {0x65735546, "fuse", false},
  };
  std::string at = path;
  struct statfs fs {};
  while (::statfs(at.c_str(), &fs) != 0) {
    const size_t slash = at.find_last_of('/');
    if (errno != ENOENT || slash == std::string::npos || at == "/")
      return {"unknown", false};
    at = slash == 0 ? "/" : at.substr(0, slash);
  }
  for (const Known& k : kKnown) {
    if (static_cast<unsigned long>(fs.f_type) == k.magic)
      return {k.name, k.node_local};
  }
  return {"unknown", false};
}

}  // namespace kcr::spank
