// ScopedUserRights: a root thread takes a user's ids and groups, and so loses
// its effective capabilities, for a while (the Slurm agent acting for a job's
// owner), and gets everything back; the process's other threads never see it.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <vector>

#include "user_rights.h"

namespace kcr {
namespace {

uint64_t EffectiveCaps() {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
  ::syscall(SYS_capget, &h, d);
  return d[0].effective | (uint64_t{d[1].effective} << 32);
}

std::vector<gid_t> Groups() {
  std::vector<gid_t> g(static_cast<size_t>(::getgroups(0, nullptr)));
  if (!g.empty())
    ::getgroups(static_cast<int>(g.size()), g.data());
  return g;
}

TEST(ScopedUserRights, TakesTheUsersIdsAndGroupsAndNoCapabilityThenGivesThemBack) {
  if (::geteuid() != 0) {
    // Not root (a developer's own run): becoming someone else must fail.
    ScopedUserRights as(::geteuid() + 1, ::getegid(), {});
    EXPECT_FALSE(as.status().ok());
    return;
  }
  const uint64_t caps = EffectiveCaps();
  const std::vector<gid_t> groups = Groups();
  ASSERT_NE(caps, 0u);
  // A thread that already runs keeps root's rights: credentials are per thread.
  std::promise<void> entered;
  std::promise<uid_t> seen;
  std::thread other([&] {
    entered.get_future().wait();
    seen.set_value(::geteuid());
  });
  {
    ScopedUserRights as(65534, 65534, {100, 65534});
    EXPECT_TRUE(as.status().ok()) << as.status().message();
    EXPECT_EQ(::geteuid(), 65534u);
    EXPECT_EQ(::getegid(), 65534u);
    EXPECT_EQ(::getuid(), 0u);                              // the real uid stays: the way back
    EXPECT_EQ(Groups(), (std::vector<gid_t>{100, 65534}));  // the kernel sorts them
    EXPECT_EQ(EffectiveCaps(), 0u);
    entered.set_value();
    EXPECT_EQ(seen.get_future().get(), 0u);
  }
  other.join();
  EXPECT_EQ(::geteuid(), 0u);
  EXPECT_EQ(::getegid(), 0u);
  EXPECT_EQ(Groups(), groups);
  EXPECT_EQ(EffectiveCaps(), caps);
}

}  // namespace
}  // namespace kcr
