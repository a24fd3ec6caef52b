#include "restore_ids.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <kcr/unique_fd.h>
#include <kcr/util/status_format.h>

namespace kcr::spank {

namespace {

// The ids of one line of /proc/PID/status ("Uid:", "Gid:", "Groups:"), as
// the agent's (the initial) user namespace sees them.
std::vector<unsigned long> StatusIds(const std::string& status, const std::string& key) {
  std::istringstream lines(status);
  std::vector<unsigned long> ids;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) != 0)
      continue;
    std::istringstream fields(line.substr(key.size()));
    for (unsigned long id; fields >> id;)
      ids.push_back(id);
  }
  return ids;
}

// Everything is read and written through one descriptor of /proc/PID: if
// the process ends and its pid is reused meanwhile, these fail rather than
// reach the new process.
Status WriteProcFile(int proc_dir, pid_t pid, const char* name, const std::string& text) {
  UniqueFd fd(::openat(proc_dir, name, O_WRONLY | O_CLOEXEC));
  if (!fd.valid() ||
      ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return SysError("writing /proc/{}/{}", pid, name);
  }
  return Status::Ok();
}

std::string ReadProcFile(int proc_dir, const char* name) {
  UniqueFd fd(::openat(proc_dir, name, O_RDONLY | O_CLOEXEC));
  std::string text;
  char buf[4096];
  ssize_t n;
  while (fd.valid() && (n = ::read(fd.get(), buf, sizeof(buf))) > 0)
    text.append(buf, static_cast<size_t>(n));
  return text;
}

// The time namespace `process` made for its children must be new (not the
// one it is in) and belong to its user namespace (`user`, already checked
// to be the job user's own, fresh one).
Status CheckFreshTimeNamespace(int proc_dir, pid_t process, const struct stat& user) {
  UniqueFd next(::openat(proc_dir, "ns/time_for_children", O_RDONLY | O_CLOEXEC));
  UniqueFd now(::openat(proc_dir, "ns/time", O_RDONLY | O_CLOEXEC));
  struct stat next_st, now_st;
  if (!next.valid() || !now.valid() || ::fstat(next.get(), &next_st) != 0 ||
      ::fstat(now.get(), &now_st) != 0) {
    return SysError("looking at pid {}'s time namespaces", process);
  }
  if (next_st.st_ino == now_st.st_ino && next_st.st_dev == now_st.st_dev)
    return Errorf(EPERM, "pid {} has made no time namespace", process);
  UniqueFd owner(::ioctl(next.get(), NS_GET_USERNS));
  struct stat owner_st;
  if (!owner.valid() || ::fstat(owner.get(), &owner_st) != 0 || owner_st.st_ino != user.st_ino ||
      owner_st.st_dev != user.st_dev) {
    return Errorf(EPERM, "pid {}'s new time namespace is not its own user namespace's", process);
  }
  return Status::Ok();
}

// The kernel takes at most this many lines in one id map.
constexpr size_t kMaxMapLines = 340;

}  // namespace

Status ParseClockOffsets(const std::string& clocks, std::string* offsets) {
  // Beyond this the kernel refuses an offset (KTIME_SEC_MAX / 2).
  constexpr long long kMaxSeconds = 4611686018LL;
  if (!clocks.empty() && clocks.back() == ',')
    return Errorf(EINVAL, "bad clock offsets '{}'", clocks);
  std::set<std::string> seen;
  std::string text;
  std::istringstream entries(clocks);
  for (std::string entry; std::getline(entries, entry, ',');) {
    char name[16] = {};
    long long sec = 0, nsec = 0;
    int used = 0;
    if (std::sscanf(entry.c_str(), "%15[a-z]:%lld:%lld%n", name, &sec, &nsec, &used) != 3 ||
        static_cast<size_t>(used) != entry.size() ||
        (std::string(name) != "monotonic" && std::string(name) != "boottime") ||
        !seen.insert(name).second || nsec < 0 || nsec >= 1000000000LL || sec > kMaxSeconds ||
        sec < -kMaxSeconds) {
      return Errorf(EINVAL, "bad clock offsets '{}'", clocks);
    }
    text += fmt::format("{} {} {}\n", name, sec, nsec);
  }
  if (seen.size() != 2)
    return Errorf(EINVAL, "bad clock offsets '{}': monotonic and boottime, once each", clocks);
  *offsets = text;
  return Status::Ok();
}

Status MapRestoreIds(pid_t process, pid_t task, uid_t owner, const std::string& clocks) {
  if (process <= 1)
    return Errorf(EINVAL, "no process named");
  std::string offsets;
  if (!clocks.empty())
    KCR_RETURN_IF_ERROR(ParseClockOffsets(clocks, &offsets));
  UniqueFd dir(
      ::open(fmt::format("/proc/{}", process).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid())
    return SysError("looking at pid {}", process);
  const std::string status = ReadProcFile(dir.get(), "status");
  const std::vector<unsigned long> parent = StatusIds(status, "PPid:");
  if (parent.size() != 1 || static_cast<pid_t>(parent[0]) != task)
    return Errorf(EPERM, "pid {} is not a child of the task (pid {})", process, task);
  const std::vector<unsigned long> uids = StatusIds(status, "Uid:");
  const std::vector<unsigned long> gids = StatusIds(status, "Gid:");
  if (uids.size() != 4 || gids.size() != 4)
    return Errorf(ESRCH, "pid {} is gone", process);
  for (unsigned long uid : uids) {
    if (uid != owner)
      return Errorf(EPERM, "pid {} does not run as the job's user (uid {})", process, owner);
  }
  UniqueFd ns(::openat(dir.get(), "ns/user", O_RDONLY | O_CLOEXEC));
  struct stat theirs, ours;
  if (!ns.valid() || ::fstat(ns.get(), &theirs) != 0 || ::stat("/proc/self/ns/user", &ours) != 0)
    return SysError("looking at pid {}'s user namespace", process);
  if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
    return Errorf(EPERM, "pid {} has made no user namespace of its own", process);
  uid_t ns_owner = 0;
  if (::ioctl(ns.get(), NS_GET_OWNER_UID, &ns_owner) != 0 || ns_owner != owner)
    return Errorf(EPERM, "pid {}'s user namespace is not the job user's", process);
  if (!ReadProcFile(dir.get(), "uid_map").empty() || !ReadProcFile(dir.get(), "gid_map").empty())
    return Errorf(EPERM, "pid {}'s user namespace already has id maps", process);
  // Its groups: the effective gid and the supplementary ones, each to itself.
  std::set<unsigned long> groups{gids[1]};
  for (unsigned long g : StatusIds(status, "Groups:"))
    groups.insert(g);
  // Consecutive groups make one line: the kernel takes at most 340.
  std::string gid_map;
  size_t lines = 0;
  for (auto it = groups.begin(); it != groups.end();) {
    unsigned long first = *it, count = 1;
    for (++it; it != groups.end() && *it == first + count; ++it)
      count++;
    gid_map += fmt::format("{} {} {}\n", first, first, count);
    lines++;
  }
  if (lines > kMaxMapLines) {
    return Errorf(E2BIG,
                  "the job's user is in {} groups in {} ranges; a user namespace maps at most "
                  "{} ranges, so no program can be restored in namespaces of its own for this "
                  "user (a multi-threaded one, a tree, or one saved on another boot)",
                  groups.size(), lines, kMaxMapLines);
  }
  if (!offsets.empty())
    KCR_RETURN_IF_ERROR(CheckFreshTimeNamespace(dir.get(), process, theirs));
  KCR_RETURN_IF_ERROR(WriteProcFile(dir.get(), process, "setgroups", "deny"));
  KCR_RETURN_IF_ERROR(
      WriteProcFile(dir.get(), process, "uid_map", fmt::format("{} {} 1\n", owner, owner)));
  KCR_RETURN_IF_ERROR(WriteProcFile(dir.get(), process, "gid_map", gid_map));
  if (offsets.empty())
    return Status::Ok();
  return WriteProcFile(dir.get(), process, "timens_offsets", offsets);
}

}  // namespace kcr::spank
