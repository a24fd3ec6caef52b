// Checkpointing one process of a tree (tree_checkpoint.cpp): held, and
// recorded as a tree's member (KCR_CKPT_TREE: children allowed, pipes and a
// TREE section).
#pragma once

#include <kcr/checkpoint.h>

namespace kcr {

Status CheckpointWithFlags(pid_t pid, const std::string& path, const CheckpointOptions& options,
                           uint32_t extra_flags, CheckpointResult* result);

// Checkpoint() of a tree's member, left held (*hold).
Status CheckpointTreeMember(pid_t pid, const std::string& path, const CheckpointOptions& options,
                            UniqueFd* hold, CheckpointResult* result);

}  // namespace kcr
