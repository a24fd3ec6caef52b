// Which file system holds an image directory, as the agent names it when a
// requeue onto another node could not find the images.
#include <gtest/gtest.h>

#include <sys/vfs.h>

#include "dirs.h"

namespace kcr::spank {
namespace {

constexpr unsigned long kTmpfsMagic = 0x01021994;
constexpr unsigned long kProcMagic = 0x9fa0;

bool Is(const char* path, unsigned long magic) {
  struct statfs fs {};
  return ::statfs(path, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == magic;
}

TEST(FileSystemOf, ADirectoryNotMadeYetIsJudgedByItsParent) {
  if (!Is("/dev/shm", kTmpfsMagic))
    GTEST_FAIL() << "this test needs /dev/shm to be a tmpfs, as on Debian";
  const FileSystemKind fs = FileSystemOf("/dev/shm/kcr-no-such-dir/job/42");
  EXPECT_EQ(fs.name, "tmpfs");
  EXPECT_TRUE(fs.node_local);
}

TEST(FileSystemOf, AnUnknownKindIsNotCalledLocal) {
  ASSERT_TRUE(Is("/proc", kProcMagic));
  const FileSystemKind fs = FileSystemOf("/proc/self");
  EXPECT_EQ(fs.name, "unknown");
  EXPECT_FALSE(fs.node_local);
}

}  // namespace
}  // namespace kcr::spank
