// Which file system holds an image directory, as the agent names it when a
// requeue onto another node could not find the images.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

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

// A directory below /tmp (root's, sticky) the test may chmod and chown.
class Scratch {
 public:
  Scratch() {
    std::string t = "/tmp/kcr-trusted-XXXXXX";
    path_ = ::mkdtemp(t.data());
  }
  ~Scratch() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CheckTrustedDir, OwnedByTheUserOrRootAndWritableByNoOneElse) {
  Scratch s;
  const std::string sub = s.path() + "/job";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  const uid_t me = ::getuid();
  const gid_t my_group = ::getgid();
  EXPECT_TRUE(CheckTrustedDir(sub, me, my_group).ok());
  // Writable by others, and not sticky: anyone could swap the job's directory.
  ::chmod(s.path().c_str(), 0777);
  Status st = CheckTrustedDir(sub, me, my_group);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(s.path() + " belongs to uid"), std::string::npos) << st.message();
  // Sticky (like /tmp): others cannot rename or remove what is not theirs.
  ::chmod(s.path().c_str(), 01777);
  EXPECT_TRUE(CheckTrustedDir(sub, me, my_group).ok());
  // Group-writable: only by the user's own group.
  ::chmod(s.path().c_str(), 0775);
  EXPECT_TRUE(CheckTrustedDir(sub, me, my_group).ok());
  EXPECT_FALSE(CheckTrustedDir(sub, me, my_group + 1).ok());
}

TEST(CheckTrustedDir, ADirectoryAnotherUserMadeIsRefused) {
  if (::getuid() != 0)
    GTEST_FAIL() << "this test chowns a directory: run the unit tests as root";
  Scratch s;
  const std::string theirs = s.path() + "/alice", sub = theirs + "/42";
  ASSERT_EQ(::mkdir(theirs.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  ASSERT_EQ(::chown(theirs.c_str(), 4243, 4243), 0);  // mallory made alice's directory
  ASSERT_EQ(::chown(sub.c_str(), 4242, 4242), 0);
  Status st = CheckTrustedDir(sub, 4242, 4242);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(theirs + " belongs to uid 4243"), std::string::npos) << st.message();
  ASSERT_EQ(::chown(theirs.c_str(), 4242, 4242), 0);
  EXPECT_TRUE(CheckTrustedDir(sub, 4242, 4242).ok());
  // Through a symlink: its target is what is checked.
  const std::string link = s.path() + "/link";
  std::filesystem::create_directory_symlink(sub, link);
  EXPECT_TRUE(CheckTrustedDir(link, 4242, 4242).ok());
  ASSERT_EQ(::chown(theirs.c_str(), 4243, 4243), 0);
  EXPECT_FALSE(CheckTrustedDir(link, 4242, 4242).ok());
}

}  // namespace
}  // namespace kcr::spank
