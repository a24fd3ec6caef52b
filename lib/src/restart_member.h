// Restoring one member of a process tree in place (tree_restore.cpp): the
// same restore as Restart(), with some files given by the tree's restore
// and a wait for every other member just before the point of no return.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <kcr/restart.h>
#include <kcr/status.h>
#include "restore_files.h"

namespace kcr {

struct TreeMember {
  ProvidedFiles files;
  // Shared anonymous memory the tree's restore mapped and filled, which
  // this process inherited where its image has it: kept as it is.
  std::vector<kcr_range> kept;
  // Called once everything that can fail cheaply has been checked and
  // prepared, before this process changes: returns when every member of the
  // tree is that far (an error stops this restore).
  std::function<Status()> all_ready;
};

// CheckRestartable(), for a tree's member when `member` is set.
Status CheckRestartableMember(const Image& image, const RestartOptions& options,
                              const TreeMember* member);

// Restart(), for a tree's member when `member` is set. Does not return on
// success.
Status RestartInPlace(const std::string& path, const RestartOptions& options,
                      const TreeMember* member);

}  // namespace kcr
