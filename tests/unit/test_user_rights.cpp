// ScopedUserRights: a root thread takes a user's file-system ids and drops
// its effective capabilities for a while (the Slurm agent acting for a job's
// owner), and gets everything back.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "user_rights.h"

namespace kcr {
namespace {

uint64_t EffectiveCaps() {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
  ::syscall(SYS_capget, &h, d);
  return d[0].effective | (uint64_t{d[1].effective} << 32);
}

uid_t FsUid() {
  return static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1)));
}

TEST(ScopedUserRights, TakesTheUsersIdsAndNoCapabilityThenGivesThemBack) {
  if (::geteuid() != 0) {
    // Not root (a developer's own run): becoming someone else must fail.
    ScopedUserRights as(::geteuid() + 1, ::getegid());
    EXPECT_FALSE(as.status().ok());
    return;
  }
  uint64_t caps = EffectiveCaps();
  ASSERT_NE(caps, 0u);
  // A thread that already runs keeps root's rights: both are per thread.
  std::promise<void> entered;
  std::promise<uid_t> seen;
  std::thread other([&] {
    entered.get_future().wait();
    seen.set_value(FsUid());
  });
  {
    ScopedUserRights as(65534, 65534);
    EXPECT_TRUE(as.status().ok()) << as.status().message();
    EXPECT_EQ(FsUid(), 65534u);
    EXPECT_EQ(EffectiveCaps(), 0u);
    entered.set_value();
    EXPECT_EQ(seen.get_future().get(), 0u);
  }
  other.join();
  EXPECT_EQ(FsUid(), 0u);
  EXPECT_EQ(EffectiveCaps(), caps);
}

}  // namespace
}  // namespace kcr
