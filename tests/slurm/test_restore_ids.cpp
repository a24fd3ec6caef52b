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

// A child of this process, in a user namespace of its own or not (and
// with a time namespace made in it for its children), that waits until it
// is destroyed.
class Child {
 public:
  explicit Child(bool own_namespace, bool time_namespace = false) {
    int ready[2], done[2];
    EXPECT_EQ(::pipe(ready), 0);
    EXPECT_EQ(::pipe(done), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(done[1]);  // so that the parent's close ends the read below
      char c = own_namespace && ::unshare(CLONE_NEWUSER) != 0 ? 'x' : 'k';
      if (time_namespace && ::unshare(CLONE_NEWTIME) != 0)
        c = 'x';
      (void)::write(ready[1], &c, 1);
      (void)::read(done[0], &c, 1);
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(done[0]);
    done_ = done[1];
    char c = 0;
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, 'k') << "unshare() failed in the child";
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
  Status st = MapRestoreIds(child.pid(), ::getpid(), 0, "");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(FirstRange(child.Read("uid_map")), "0 0 1");
  EXPECT_NE(child.Read("gid_map").find(" 0 "), std::string::npos) << child.Read("gid_map");
  EXPECT_EQ(child.Read("setgroups"), "deny\n");
  // Once mapped, never again (a second request cannot widen them).
  st = MapRestoreIds(child.pid(), ::getpid(), 0, "");
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("already has id maps"), std::string::npos) << st.message();
}

TEST(RestoreIds, RefusesAProcessThatIsNotTheTasksChild) {
  Child child(true);
  Status st = MapRestoreIds(child.pid(), 1, 0, "");
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("not a child of the task"), std::string::npos) << st.message();
  EXPECT_EQ(child.Read("uid_map"), "");
}

TEST(RestoreIds, RefusesAChildWithoutANamespaceOfItsOwn) {
  Child child(false);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 0, "");
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("no user namespace of its own"), std::string::npos) << st.message();
}

TEST(RestoreIds, RefusesAChildOfAnotherUser) {
  Child child(true);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 65534, "");
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("does not run as the job's user"), std::string::npos) << st.message();
  EXPECT_EQ(child.Read("uid_map"), "");
}

TEST(RestoreIds, RefusesNoProcess) {
  EXPECT_EQ(MapRestoreIds(0, ::getpid(), 0, "").code(), -EINVAL);
}

// "SEC NSEC" of CLOCK's line of a /proc/PID/timens_offsets.
std::string OffsetOf(const std::string& offsets, const std::string& clock) {
  std::istringstream lines(offsets);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name;
    long long sec = 0, nsec = 0;
    if (fields >> name >> sec >> nsec && name == clock)
      return std::to_string(sec) + " " + std::to_string(nsec);
  }
  return "";
}

TEST(RestoreIds, SetsTheClocksOfTheChildsNewTimeNamespace) {
  Child child(true, true);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 0, "monotonic:86400:5,boottime:-3:999999999");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(FirstRange(child.Read("uid_map")), "0 0 1");
  EXPECT_EQ(OffsetOf(child.Read("timens_offsets"), "monotonic"), "86400 5");
  EXPECT_EQ(OffsetOf(child.Read("timens_offsets"), "boottime"), "-3 999999999");
}

TEST(RestoreIds, RefusesClocksForAChildWithoutATimeNamespace) {
  Child child(true);
  Status st = MapRestoreIds(child.pid(), ::getpid(), 0, "monotonic:1:0,boottime:1:0");
  EXPECT_EQ(st.code(), -EPERM);
  EXPECT_NE(st.message().find("no time namespace"), std::string::npos) << st.message();
  EXPECT_EQ(child.Read("uid_map"), "") << "nothing is written when anything is refused";
}

TEST(RestoreIds, ClockOffsetsAreTheTwoClocksOnceEachInRange) {
  std::string offsets;
  ASSERT_TRUE(ParseClockOffsets("boottime:2:0,monotonic:-1:7", &offsets).ok());
  EXPECT_EQ(offsets, "boottime 2 0\nmonotonic -1 7\n");
  for (const char* bad :
       {"", "monotonic:1:0", "monotonic:1:0,monotonic:1:0", "realtime:1:0,boottime:1:0",
        "monotonic:1:1000000000,boottime:1:0", "monotonic:1:-1,boottime:1:0",
        "monotonic:1:0x,boottime:1:0", "monotonic:99999999999:0,boottime:1:0",
        "monotonic 1 0,boottime:1:0", "monotonic:1:0,boottime:1:0,"}) {
    EXPECT_EQ(ParseClockOffsets(bad, &offsets).code(), -EINVAL) << bad;
  }
}

}  // namespace
}  // namespace kcr::spank
