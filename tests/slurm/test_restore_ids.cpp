// The id maps the agent writes, as root, for a task's restore namespace
// (spank_plugin/restore_ids.h): with real processes and real user
// namespaces on the host (the tests run as root, as the agent does).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "restore_ids.h"

namespace kcr::spank {
namespace {

// A child of this process, in a user namespace of its own or not, that
// waits until it is destroyed.
class Child {
 public:
  explicit Child(bool own_namespace) {
    int ready[2], done[2];
    EXPECT_EQ(::pipe(ready), 0);
    EXPECT_EQ(::pipe(done), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(done[1]);  // so that the parent's close ends the read below
      char c = own_namespace && ::unshare(CLONE_NEWUSER) != 0 ? 'x' : 'k';
      (void)::write(ready[1], &c, 1);
      (void)::read(done[0], &c, 1);
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(done[0]);
    done_ = done[1];
    char c = 0;
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, 'k') << "unshare(CLONE_NEWUSER) failed in the child";
    ::close(ready[0]);
  }
  ~Child() {
    ::close(done_);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  std::string Read(const char* name) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  pid_t pid_ = -1;
  int done_ = -1;
};

// "inside outside count" of the first line of an id map.
std::string FirstRange(const std::string& map) {
  std::istringstream in(map);
  unsigned long a = 0, b = 0, n = 0;
  in >> a >> b >> n;
  return std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(n);
}

TEST(RestoreIds, MapsOnlyTheChildsOwnIdsInItsFreshNamespace) {
  ASSERT_EQ(::geteuid(), 0u) << "the agent runs as root; so must this test";
  Child child(true);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 0);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(FirstRange(child.Read("uid_map")), "0 0 1");
  EXPECT_NE(child.Read("gid_map").find(" 0 "), std::string::npos) << child.Read("gid_map");
  EXPECT_EQ(child.Read("setgroups"), "deny\n");
  // Once mapped, never again (a second request cannot widen them).
  st = MapRestoreIds(child.pid(), ::getpid(), 0);
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("already has id maps"), std::string::npos) << st.message();
}

TEST(RestoreIds, RefusesAProcessThatIsNotTheTasksChild) {
  Child child(true);
  Status st = MapRestoreIds(child.pid(), 1, 0);
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("not a child of the task"), std::string::npos) << st.message();
  EXPECT_EQ(child.Read("uid_map"), "");
}

TEST(RestoreIds, RefusesAChildWithoutANamespaceOfItsOwn) {
  Child child(false);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 0);
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("no user namespace of its own"), std::string::npos) << st.message();
}

TEST(RestoreIds, RefusesAChildOfAnotherUser) {
  Child child(true);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 65534);
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("does not run as the job's user"), std::string::npos) << st.message();
  EXPECT_EQ(child.Read("uid_map"), "");
}

TEST(RestoreIds, RefusesNoProcess) {
  EXPECT_EQ(MapRestoreIds(0, ::getpid(), 0).code(), -EINVAL);
}

}  // namespace
}  // namespace kcr::spank
