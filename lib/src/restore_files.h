// The restore side of open files, cwd, umask and rlimits. The dump side is in
// the module (kmod/kcr_files.c): only user space can place a file at an exact
// descriptor number, so this half lives here.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <kcr/image.h>
#include <kcr/status.h>
#include <kcr/unique_fd.h>

namespace kcr {

struct ProvidedFiles;

// Non-destructive: every file the program had open must still be there, and a
// file it wrote must not have grown since (unless rollback is allowed).
Status CheckFiles(const Image& image, bool rollback_files, const ProvidedFiles* provided = nullptr);

// Opens every file of the image (recreating deleted ones), truncating grown
// files when rollback is allowed, and takes the locks of open files again
// (flock, OFD; POSIX locks are probed); nothing of the caller changes yet.
struct OpenedFiles {
  std::vector<std::pair<int, UniqueFd>> by_target;  // target fd -> opened file
  // The image's memfds made again (Image::memfds() order), for its fds and
  // for the module to map (kcr_restore_args.memfds).
  std::vector<UniqueFd> memfds;
};

// What a tree's member gets from the tree's restore instead of opening it
// itself (tree_restore.cpp): the open files made once for the whole tree
// (pipes, files two members share), as target fd -> a descriptor of this
// process; and the fds taken from the restarter as they are (a pipe to a
// process outside the tree, at fd 0-2, like any stdio kcr cannot save).
// sizes: each regular file's size at the tree's checkpoint, by path. The
// members were saved one after another, and one may have written a file
// after another's image recorded its size; the tree's moment is the last
// member's, whose size is the largest.
struct ProvidedFiles {
  std::vector<std::pair<int, int>> fds;
  std::vector<int> inherited;
  std::map<std::string, uint64_t> sizes;
};

Status OpenFiles(const Image& image, bool rollback_files, const ProvidedFiles* provided,
                 OpenedFiles* opened);

// Opens one file of the image as OpenFiles() does (not KCR_FD_SAME,
// KCR_FD_INHERIT or KCR_FD_PIPE): for a tree's restore, which opens the
// files its members share once.
Status OpenSavedFile(const Image& image, const FdRecord& rec, UniqueFd* out);

// Point of no return for the caller's descriptors: afterwards it holds exactly
// the image's descriptors plus `keep` (moved above them; updated in place),
// and the program's POSIX locks.
Status InstallFiles(const Image& image, const ProvidedFiles* provided, OpenedFiles* opened,
                    std::vector<int*> keep);

// cwd, umask and resource limits (limits the caller may not raise are left).
Status RestoreFsState(const Image& image);

}  // namespace kcr
