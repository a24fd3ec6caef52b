// Whose step an agent serves: filled in by the backend from SPANK items in
// slurmstepd, read by every part of the agent.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kcr::spank {

struct StepIdentity {
  std::uint32_t job = 0;
  std::uint32_t step = 0;
  uid_t uid = 0;  // the job's user: checkpoints act as this user
  gid_t gid = 0;
  std::vector<gid_t> groups;  // the job's supplementary groups
  std::string user;
  std::string node;
};

}  // namespace kcr::spank
