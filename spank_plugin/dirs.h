// Creating the agent's directories (image directories, the spool, the
// catalog's) with an exact mode, as whoever the calling thread is now (see
// AsUser in fs_identity.h).
#pragma once

#include <sys/types.h>

#include <string>

namespace kcr::spank {

// mkdir -p: each directory it creates gets `mode` exactly, whatever the
// umask. False with *why when a part cannot be created or is not a directory.
bool MakeDirs(const std::string& path, mode_t mode, std::string* why);

}  // namespace kcr::spank
