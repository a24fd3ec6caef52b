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

// The file system that holds path (or its nearest existing ancestor), by
// name ("nfs", "ext4", ...), and whether other nodes may see it: a network
// or cluster file system. Unknown kinds count as shared (nothing is said).
struct FileSystemKind {
  std::string name;
  bool node_local = false;
};
FileSystemKind FileSystemOf(const std::string& path);

}  // namespace kcr::spank
