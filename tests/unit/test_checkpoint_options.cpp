// What libkcr refuses before it asks the module anything: these hold on any
// machine, module loaded or not.
#include <gtest/gtest.h>
#include <kcr/kcr.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <kcr/checkpoint.h>

namespace {

TEST(CheckpointOptions, AtMostOneOfKillStopHold) {
  kcr::UniqueFd hold;
  kcr::CheckpointOptions kill_and_hold;
  kill_and_hold.kill = true;
  kill_and_hold.hold = &hold;
  kcr::CheckpointOptions kill_and_stop;
  kill_and_stop.kill = true;
  kill_and_stop.stop = true;
  for (const auto* o : {&kill_and_hold, &kill_and_stop}) {
    kcr::Status st = kcr::Checkpoint(::getpid(), "/nonexistent/x.kcr", *o, nullptr);
    EXPECT_EQ(st.code(), -EINVAL);
    EXPECT_NE(st.message().find("only one"), std::string::npos) << st.message();
  }
  EXPECT_FALSE(hold.valid());
}

TEST(CheckpointOptions, HoldNeedsAPlaceForItsDescriptor) {
  kcr_error err{};
  EXPECT_EQ(kcr_checkpoint_hold(::getpid(), "/nonexistent/x.kcr", nullptr, nullptr, nullptr, &err),
            -EINVAL);
  EXPECT_NE(std::string(err.message).find("hold descriptor"), std::string::npos) << err.message;
}

TEST(CheckpointOptions, HoldRefusesKillAndLeavesNoDescriptor) {
  kcr_checkpoint_options options{};
  options.kill = 1;
  int hold = 42;
  kcr_error err{};
  EXPECT_EQ(kcr_checkpoint_hold(::getpid(), "/nonexistent/x.kcr", &options, nullptr, &hold, &err),
            -EINVAL);
  EXPECT_EQ(hold, -1);
  EXPECT_NE(std::string(err.message).find("only one"), std::string::npos) << err.message;
}

TEST(CheckpointOptions, HoldKillNeedsAHold) {
  kcr_error err{};
  EXPECT_EQ(kcr_hold_kill(-1, &err), -EBADF);
  EXPECT_NE(std::string(err.message).find("killing the held process"), std::string::npos)
      << err.message;
}

}  // namespace

namespace {

TEST(CheckpointOptions, ActingForAUserCannotBePrivileged) {
  kcr::CheckpointOptions o;
  o.privileged = true;
  o.as_user = kcr::CheckpointOptions::User{65534, 65534, {}};
  kcr::Status st = kcr::Checkpoint(::getpid(), "/nonexistent/x.kcr", o, nullptr);
  EXPECT_EQ(st.code(), -EINVAL);
  EXPECT_NE(st.message().find("cannot be privileged"), std::string::npos) << st.message();
}

}  // namespace
