// Creating the agent's directories (image directories, the spool, the
// catalog's) with an exact mode, as whoever the calling thread is now (see
// AsUser in fs_identity.h).
#pragma once

#include <sys/types.h>

#include <string>

#include <kcr/status.h>

namespace kcr::spank {

// mkdir -p: each directory it creates gets `mode` exactly, whatever the
// umask. An error names the part that cannot be created or is not a
// directory.
Status MakeDirs(const std::string& path, mode_t mode);

// Whether only uid (and root) can change what path names: every directory
// from / down to path is owned by root or uid, and writable by no one else
// unless sticky (/tmp, a 1777 site directory: others cannot rename or
// remove uid's entries) or group-writable by uid's own group gid (a umask
// 002 site's user-private group). Symlinks are followed as the kernel
// would, each one's target checked too. The error names the first
// directory that fails, its owner and mode, and the fix. The rule for the
// agent's image directories and for the images a task restores.
Status CheckTrustedDir(const std::string& path, uid_t uid, gid_t gid);

// The file system that holds path (or its nearest existing ancestor), by
// name ("nfs", "ext4", ...), and whether other nodes may see it: a network
// or cluster file system. Unknown kinds count as shared (nothing is said).
struct FileSystemKind {
  std::string name;
  bool node_local = false;
};
FileSystemKind FileSystemOf(const std::string& path);

}  // namespace kcr::spank
