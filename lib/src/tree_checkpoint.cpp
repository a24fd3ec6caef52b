// CheckpointTree(): a process and all its descendants, each held from its
// own checkpoint until every one is saved.
//
// Held processes run no instruction, so holding them one after another,
// parents first, still gives one moment of the whole tree: a held parent
// cannot fork, so once it is held its children are all the children it will
// have. What processes share is looked at only once all are held: the pipes
// between them (their unread data copied out with tee(2), which leaves it
// in the pipe), the open files two of them share (the same file_id in their
// TREE sections), and anonymous memory they share (refused: not yet saved).
#include <kcr/tree.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include <kcr/image.h>
#include <kcr/image_check.h>
#include <kcr/util/clock.h>
#include <kcr/util/status_format.h>
#include "checkpoint_member.h"
#include "tree_manifest.h"
#include "user_rights.h"

namespace kcr {

namespace {

uint64_t NowNs() {
  return util::MonotonicNs();
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  const std::string task_dir = fmt::format("/proc/{}/task", pid);
  DIR* d = ::opendir(task_dir.c_str());
  if (!d)
    return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.')
      continue;
    std::ifstream in(task_dir + "/" + e->d_name + "/children");
    pid_t child;
    while (in >> child)
      out.push_back(child);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// The fields of /proc/PID/stat after the command name (field 3 on).
std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  auto paren = line.rfind(')');
  if (paren == std::string::npos)
    return fields;
  std::istringstream rest(line.substr(paren + 1));
  std::string f;
  while (rest >> f)
    fields.push_back(f);
  return fields;
}

// Field 52, exit_code: a zombie's wait status (shown to who may ptrace it).
bool ZombieStatus(pid_t pid, int* wait_status) {
  std::vector<std::string> f = StatFields(pid);
  if (f.empty() || f[0] != "Z")
    return false;
  *wait_status = f.size() >= 50 ? std::atoi(f[49].c_str()) : 0;
  return true;
}

// An id in each pid namespace, outermost first: /proc/PID/status's
// "NSpid:", "NSpgid:" or "NSsid:".
std::vector<pid_t> NsIds(pid_t pid, const std::string& key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  std::vector<pid_t> ids;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0)
      continue;
    std::istringstream ls(line.substr(key.size()));
    pid_t id;
    while (ls >> id)
      ids.push_back(id);
  }
  return ids;
}

// A numbered field of /proc/PID/stat (as proc(5) numbers them, from 3).
long StatField(pid_t pid, size_t field) {
  std::vector<std::string> f = StatFields(pid);
  return field >= 3 && f.size() > field - 3 ? std::atol(f[field - 3].c_str()) : -1;
}

// Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS), by the inode of its
// shmem file, with the first address it is mapped at.
std::map<uint64_t, std::string> SharedAnon(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/maps", pid));
  std::map<uint64_t, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("/dev/zero (deleted)") == std::string::npos)
      continue;
    std::istringstream ls(line);
    std::string range, perms, offset, dev;
    uint64_t ino = 0;
    ls >> range >> perms >> offset >> dev >> ino;
    if (perms.size() == 4 && perms[3] == 's')
      out.emplace(ino, range);
  }
  return out;
}

struct Member {
  pid_t seen_as = 0;  // in the caller's pid namespace
  int parent = -1;
  bool zombie = false;
  int wait_status = 0;
  std::vector<pid_t> ns_pids;
  // As the tree's own pid namespace shows them (0: a process outside it).
  pid_t pid = 0, ppid = 0, pgid = 0, sid = 0;
  std::string image;  // file name within the tree image
  UniqueFd hold;
  std::unique_ptr<Image> saved;
  std::vector<int> children;
};

// An end of a pipe, as one member's fd has it.
struct PipeEnd {
  int member;
  int fd;
  bool reads;
  uint64_t file_id;
};

class TreeCheckpoint {
 public:
  TreeCheckpoint(const std::string& path, const CheckpointOptions& options)
      : path_(path), options_(options) {}
  ~TreeCheckpoint() { Discard(); }

  Status Run(pid_t root, TreeCheckpointResult* result, std::vector<UniqueFd>* holds);

 private:
  Status MakeTempDir();
  Status HoldAll(pid_t root);
  Status HoldOne(int index);
  bool EndedDuringHold(int index);
  Status AddChildren(int index);
  void Zombie(Member* m);
  Status CheckLeavers();
  Status CheckNamespaces();
  Status CheckIds();
  Status SharedMemory(TreeManifest* manifest, const std::map<int, int>& position);
  Status SavePipes(TreeManifest* manifest);
  Status SavePipeData(const PipeEnd* reader, const PipeEnd& any, TreePipe* pipe);
  void Order(int index, std::vector<int>* order) const;
  Status Publish(const TreeManifest& manifest);
  std::string Name(int index) const;
  Status AsUser(const std::function<Status()>& step);
  void Discard();

  std::string path_;
  CheckpointOptions options_;
  std::string tmp_;
  std::vector<Member> members_;
  std::set<pid_t> known_;  // members_, as the caller sees them
  TreeCheckpointResult result_;
  uint64_t first_hold_ns_ = 0;
};

std::string TreeCheckpoint::Name(int index) const {
  const Member& m = members_[static_cast<size_t>(index)];
  pid_t inner = m.ns_pids.empty() ? m.seen_as : m.ns_pids.back();
  return inner == m.seen_as ? fmt::format("process {}", m.seen_as)
                            : fmt::format("process {} (pid {} in its namespace)", m.seen_as, inner);
}

Status TreeCheckpoint::MakeTempDir() {
  std::string tmpl = path_ + ".tmp-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    int e = errno;
    return Errorf(e, "cannot create the tree image beside {}: {}{}", path_, std::strerror(e),
                  e == EACCES ? "; fix: choose a directory you can write" : "");
  }
  tmp_ = tmpl;
  return Status::Ok();
}

void TreeCheckpoint::Discard() {
  if (!tmp_.empty()) {
    (void)AsUser([&] {
      std::error_code ec;
      std::filesystem::remove_all(tmp_, ec);
      return Status::Ok();
    });
    tmp_.clear();
  }
  for (Member& m : members_)
    m.hold.reset();  // each runs on
}

// A zombie's ids, from /proc (a zombie has no image).
void TreeCheckpoint::Zombie(Member* m) {
  m->zombie = true;
  m->image.clear();
  result_.zombies++;
  auto innermost = [&](const std::string& key) {
    std::vector<pid_t> ids = NsIds(m->seen_as, key);
    return ids.size() == m->ns_pids.size() && !ids.empty() ? ids.back() : 0;
  };
  m->pid = innermost("NSpid:");
  m->pgid = innermost("NSpgid:");
  m->sid = innermost("NSsid:");
}

Status TreeCheckpoint::HoldOne(int index) {
  Member& m = members_[static_cast<size_t>(index)];
  m.ns_pids = NsIds(m.seen_as, "NSpid:");
  known_.insert(m.seen_as);
  if (ZombieStatus(m.seen_as, &m.wait_status)) {
    Zombie(&m);
    return Status::Ok();
  }
  // A child made by clone() to signal its end with another signal than
  // SIGCHLD (waited for with __WCLONE) would come back as an ordinary one.
  if (index > 0) {
    long exit_signal = StatField(m.seen_as, 38);
    if (exit_signal >= 0 && exit_signal != SIGCHLD) {
      return Errorf(EOPNOTSUPP,
                    "{} was made by clone() to signal its end to its parent with signal {}, "
                    "not SIGCHLD, which kcr cannot make again; nothing was saved",
                    Name(index), exit_signal);
    }
  }
  m.image = fmt::format("process-{}.kcr", index);
  CheckpointOptions one;
  one.privileged = options_.privileged;
  one.as_user = options_.as_user;
  CheckpointResult r;
  Status st = CheckpointTreeMember(m.seen_as, tmp_ + "/" + m.image, one, &m.hold, &r);
  if (!st.ok()) {
    // It ended meanwhile: its parent, held, has not reaped it.
    if (index > 0 && st.code() == -ESRCH) {
      if (EndedDuringHold(index))
        return Status::Ok();
      if (::kill(m.seen_as, 0) != 0 && errno == ESRCH) {
        return Errorf(EAGAIN, "{} ended and was reaped as the tree was held; nothing was saved",
                      Name(index));
      }
    }
    return st.With(fmt::format("{} of the tree of process {} cannot be saved, so none is",
                               Name(index), members_[0].seen_as));
  }
  if (!first_hold_ns_)
    first_hold_ns_ = NowNs() - r.freeze_ns - r.write_ns;
  result_.image_bytes += r.image_bytes;
  result_.pages_saved += r.pages_saved;
  result_.write_ns += r.write_ns;
  // In the user's directory: read as the user, never through a link the
  // user put there.
  KCR_RETURN_IF_ERROR(AsUser([&] { return Image::Open(tmp_ + "/" + m.image, &m.saved); }));
  m.pid = m.saved->header().pid;
  m.ppid = m.saved->tree_place().ppid;
  m.pgid = m.saved->tree_place().pgid;
  m.sid = m.saved->tree_place().sid;
  // The process held is the parent's child that was listed, not one that
  // took its pid after it ended (a parent ignoring SIGCHLD reaps at once).
  if (index > 0) {
    const Member& parent = members_[static_cast<size_t>(m.parent)];
    if (m.ppid != parent.pid) {
      return Errorf(EAGAIN,
                    "{} is no longer the child of {} (it ended and its pid was taken?); "
                    "nothing was saved; fix: retry",
                    Name(index), Name(m.parent));
    }
  }
  return AddChildren(index);
}

// A child that was exiting as it was held: its end takes a moment to
// finish (exit_notify makes it a zombie last), and its parent, held, cannot
// reap it, unless the parent ignores SIGCHLD, and then it is gone. Gone, it
// was never part of this moment of the tree: the whole tree is tried again.
bool TreeCheckpoint::EndedDuringHold(int index) {
  Member& m = members_[static_cast<size_t>(index)];
  constexpr auto kExitTakes = std::chrono::seconds(2);
  const auto until = std::chrono::steady_clock::now() + kExitTakes;
  while (std::chrono::steady_clock::now() < until) {
    if (ZombieStatus(m.seen_as, &m.wait_status)) {
      Zombie(&m);
      return true;
    }
    if (::kill(m.seen_as, 0) != 0 && errno == ESRCH)
      return false;
    ::usleep(1000);
  }
  return false;
}

// Held, a process forks no more: what it has now are all its children.
Status TreeCheckpoint::AddChildren(int index) {
  for (pid_t child : ChildrenOf(members_[static_cast<size_t>(index)].seen_as)) {
    if (known_.count(child))
      continue;
    if (members_.size() >= kMaxTreeProcesses) {
      return Errorf(E2BIG,
                    "the tree of process {} has more than {} processes, which kcr "
                    "does not save",
                    members_[0].seen_as, kMaxTreeProcesses);
    }
    known_.insert(child);
    Member c;
    c.seen_as = child;
    c.parent = index;
    members_.push_back(std::move(c));
    members_[static_cast<size_t>(index)].children.push_back(static_cast<int>(members_.size() - 1));
  }
  return Status::Ok();
}

Status TreeCheckpoint::HoldAll(pid_t root) {
  Member r;
  r.seen_as = root;
  members_.push_back(std::move(r));
  if (ZombieStatus(root, &members_[0].wait_status))
    return Errorf(ESRCH, "cannot checkpoint process {}: it has ended", root);
  size_t held = 0;
  for (;;) {
    for (; held < members_.size(); held++)
      KCR_RETURN_IF_ERROR(HoldOne(static_cast<int>(held)));
    // All held: a subreaper among them may have been given orphans since
    // its children were listed. Until none appears.
    for (size_t i = 0; i < members_.size(); i++) {
      if (!members_[i].zombie)
        KCR_RETURN_IF_ERROR(AddChildren(static_cast<int>(i)));
    }
    if (held == members_.size())
      return Status::Ok();
  }
}

// A process that left the tree (a double fork) but stayed in a session one
// of the tree's processes leads is named, not left behind: kcr saves a tree
// whole.
Status TreeCheckpoint::CheckLeavers() {
  // Sessions only: a process group may hold processes that never were the
  // tree's (Slurm puts a node's tasks of a step in task 0's group).
  std::set<long> sessions;
  for (const Member& m : members_) {
    if (!m.zombie && StatField(m.seen_as, 6) == m.seen_as)
      sessions.insert(m.seen_as);
  }
  if (sessions.empty())
    return Status::Ok();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
      continue;
    const pid_t pid = std::atoi(name.c_str());
    if (known_.count(pid))
      continue;
    std::vector<std::string> f = StatFields(pid);
    if (f.size() < 4 || f[0] == "Z")
      continue;
    const long session = std::atol(f[3].c_str());
    if (sessions.count(session)) {
      std::ifstream comm(fmt::format("/proc/{}/comm", pid));
      std::string what;
      std::getline(comm, what);
      return Errorf(EOPNOTSUPP,
                    "process {} ({}) is in the session of process {} but not below it: it "
                    "left the tree (a double fork?); kcr saves a tree whole, never in part; "
                    "nothing was saved",
                    pid, what, session);
    }
  }
  return Status::Ok();
}

// Every process in the root's pid namespace: the image's ids are the ones
// seen there.
Status TreeCheckpoint::CheckNamespaces() {
  const size_t depth = members_[0].ns_pids.size();
  for (size_t i = 1; i < members_.size(); i++) {
    if (members_[i].ns_pids.size() != depth) {
      return Errorf(EOPNOTSUPP,
                    "{} runs in a pid namespace of its own, which kcr cannot save; nothing "
                    "was saved",
                    Name(static_cast<int>(i)));
    }
  }
  return Status::Ok();
}

// A restore makes each process's session and group as it forks the tree:
// a process leads its own, or has its parent's, or joins a group whose
// leader was made before it.
Status TreeCheckpoint::CheckIds() {
  std::vector<int> order;
  Order(0, &order);
  std::set<pid_t> made;
  for (int i : order) {
    const Member& m = members_[static_cast<size_t>(i)];
    if (m.pid <= 0)
      return Errorf(EOPNOTSUPP, "{} has no pid in the tree's namespace", Name(i));
    made.insert(m.pid);
    if (m.parent < 0)
      continue;
    const Member& p = members_[static_cast<size_t>(m.parent)];
    if (m.sid != p.sid && m.sid != m.pid) {
      return Errorf(EOPNOTSUPP,
                    "{} is in session {}, which it does not lead and its parent is not in; "
                    "kcr cannot make that again; nothing was saved",
                    Name(i), m.sid);
    }
    if (m.pgid != p.pgid && m.pgid != m.pid && !made.count(m.pgid)) {
      return Errorf(EOPNOTSUPP,
                    "{} is in process group {}, whose leader is not in the tree (ended?); kcr "
                    "cannot make that group again; nothing was saved",
                    Name(i), m.pgid);
    }
  }
  return Status::Ok();
}

// Anonymous memory two processes share (MAP_SHARED across fork) is saved
// in each one's image; the tree's restore maps it once, shared again, with
// the contents of the process held last, when no process could write it
// any more. It must be mapped at the same addresses in each.
Status TreeCheckpoint::SharedMemory(TreeManifest* manifest, const std::map<int, int>& position) {
  struct Sharing {
    std::string range;
    std::vector<int> members;
  };
  std::map<uint64_t, Sharing> by_inode;
  for (size_t i = 0; i < members_.size(); i++) {
    if (members_[i].zombie)
      continue;
    for (const auto& [ino, range] : SharedAnon(members_[i].seen_as)) {
      Sharing& s = by_inode[ino];
      if (!s.members.empty() && s.range != range) {
        return Errorf(EOPNOTSUPP,
                      "{} and {} share anonymous memory (MAP_SHARED) at different addresses "
                      "({} and {}), which kcr cannot restore; nothing was saved",
                      Name(s.members.front()), Name(static_cast<int>(i)), s.range, range);
      }
      s.range = range;
      s.members.push_back(static_cast<int>(i));
    }
  }
  for (const auto& [ino, s] : by_inode) {
    if (s.members.size() < 2)
      continue;
    TreeSharedMemory sm;
    if (std::sscanf(s.range.c_str(), "%" SCNx64 "-%" SCNx64, &sm.start, &sm.end) != 2)
      return Errorf(EIO, "reading the mapping {} of {}", s.range, Name(s.members.front()));
    for (int i : s.members)
      sm.processes.push_back(position.at(i));
    // Processes are held in the order of members_.
    sm.from = position.at(*std::max_element(s.members.begin(), s.members.end()));
    manifest->shared_memory.push_back(std::move(sm));
  }
  return Status::Ok();
}

// The unread bytes of a pipe, copied with tee(2): the pipe keeps them.
Status TreeCheckpoint::SavePipeData(const PipeEnd* reader, const PipeEnd& any, TreePipe* pipe) {
  const PipeEnd& end = reader ? *reader : any;
  const Member& m = members_[static_cast<size_t>(end.member)];
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, m.seen_as, 0)));
  if (!pidfd.valid())
    return SysError("opening {} for its pipe (pidfd_open)", Name(end.member));
  UniqueFd theirs(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), end.fd, 0)));
  if (!theirs.valid())
    return SysError("reading the pipe at fd {} of {} (pidfd_getfd)", end.fd, Name(end.member));
  // Still that pipe of that process (held: it cannot have closed it; had it
  // been killed and its pid taken, this would be another's descriptor).
  struct stat st;
  if (::fstat(theirs.get(), &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_ino != pipe->ino) {
    return Errorf(EAGAIN,
                  "fd {} of {} is no longer the pipe it saved (it ended?); nothing was "
                  "saved; fix: retry",
                  end.fd, Name(end.member));
  }
  int capacity = ::fcntl(theirs.get(), F_GETPIPE_SZ);
  if (capacity <= 0)
    return SysError("the size of the pipe at fd {} of {}", end.fd, Name(end.member));
  int copy[2];
  if (::pipe2(copy, O_CLOEXEC | O_NONBLOCK) != 0)
    return SysError("making a pipe");
  UniqueFd copy_r(copy[0]), copy_w(copy[1]);
  if (::fcntl(copy_w.get(), F_SETPIPE_SZ, capacity) < capacity)
    return SysError("sizing a pipe to copy {} bytes", capacity);
  std::string data;
  ssize_t n =
      !reader ? 0
              : ::tee(theirs.get(), copy_w.get(), static_cast<size_t>(capacity), SPLICE_F_NONBLOCK);
  if (n < 0 && errno != EAGAIN)
    return SysError("copying the data in the pipe at fd {} of {}", end.fd, Name(end.member));
  copy_w.reset();
  char buf[65536];
  ssize_t got;
  while ((got = ::read(copy_r.get(), buf, sizeof(buf))) > 0)
    data.append(buf, static_cast<size_t>(got));
  pipe->capacity = static_cast<uint32_t>(capacity);
  pipe->bytes = data.size();
  pipe->checksum = Hash64(data.data(), data.size(), 0);
  pipe->data = fmt::format("pipe-{}", pipe->ino);
  // Copied with this caller's own rights (pidfd_getfd() asks for the real
  // ids' right to attach, which the user's checkpoints of every member have
  // just shown); written as the user, like the rest of the image.
  const std::string file = tmp_ + "/" + pipe->data;
  return AsUser([&] {
    UniqueFd out(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out.valid() ||
        ::write(out.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
        ::fsync(out.get()) != 0) {
      return SysError("writing {}", file);
    }
    return Status::Ok();
  });
}

// A pipe is the tree's when every open file of each end is a member's;
// another is a pipe to a process outside, which a restore gives from the
// restarter only at stdio (fd 0-2), as for any stdio kcr cannot save.
Status TreeCheckpoint::SavePipes(TreeManifest* manifest) {
  struct Ends {
    std::vector<PipeEnd> ends;
    std::set<uint64_t> readers, writers;  // file ids
    uint32_t open_readers = 0, open_writers = 0;
  };
  std::map<uint64_t, Ends> pipes;
  for (size_t i = 0; i < members_.size(); i++) {
    if (members_[i].zombie)
      continue;
    const Image& img = *members_[i].saved;
    for (size_t f = 0; f < img.fds().size(); f++) {
      const kcr_fd& fd = img.fds()[f].fd;
      const kcr_tree_fd& t = img.tree_fds()[f];
      if (!S_ISFIFO(fd.mode) || (t.pipe_readers == 0 && t.pipe_writers == 0))
        continue;  // not an anonymous pipe (a FIFO's file has no counts)
      if ((fd.f_flags & O_ACCMODE) == O_RDWR) {
        return Errorf(EOPNOTSUPP,
                      "fd {} of {} opens a pipe for reading and writing at once, which kcr "
                      "cannot save; nothing was saved",
                      fd.fd, Name(static_cast<int>(i)));
      }
      Ends& e = pipes[fd.ino];
      const bool reads = (fd.f_flags & O_ACCMODE) == O_RDONLY;
      e.ends.push_back({static_cast<int>(i), fd.fd, reads, t.file_id});
      (reads ? e.readers : e.writers).insert(t.file_id);
    }
  }
  for (auto& [ino, e] : pipes) {
    // Counted again now that every process is held: one that held an end
    // may have ended after another's image counted it.
    const PipeEnd& any = e.ends.front();
    kcr_hold_pipe now{};
    now.fd = any.fd;
    if (::ioctl(members_[static_cast<size_t>(any.member)].hold.get(), KCR_IOC_HOLD_PIPE, &now) != 0)
      return SysError("counting the open files of the pipe at fd {} of {}", any.fd,
                      Name(any.member));
    e.open_readers = now.readers;
    e.open_writers = now.writers;
    if (e.readers.size() == e.open_readers && e.writers.size() == e.open_writers) {
      TreePipe p;
      p.ino = ino;
      // Read through a read end; with none left, nobody can read the data.
      auto reader =
          std::find_if(e.ends.begin(), e.ends.end(), [](const PipeEnd& end) { return end.reads; });
      KCR_RETURN_IF_ERROR(
          SavePipeData(reader != e.ends.end() ? &*reader : nullptr, e.ends.front(), &p));
      manifest->pipes.push_back(std::move(p));
      continue;
    }
    for (const PipeEnd& end : e.ends) {
      if (end.fd > 2) {
        return Errorf(EOPNOTSUPP,
                      "fd {} of {} is a pipe to a process outside the tree, which kcr cannot "
                      "save; nothing was saved",
                      end.fd, Name(end.member));
      }
    }
  }
  result_.pipes = manifest->pipes.size();
  return Status::Ok();
}

void TreeCheckpoint::Order(int index, std::vector<int>* order) const {
  order->push_back(index);
  for (int c : members_[static_cast<size_t>(index)].children)
    Order(c, order);
}

// The directory replaces whatever is at the path in one step: the old tree
// image (or image file) stays whole until then.
Status TreeCheckpoint::Publish(const TreeManifest& manifest) {
  KCR_RETURN_IF_ERROR(WriteTreeManifest(tmp_, manifest));
  UniqueFd dir(::open(tmp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) != 0)
    return SysError("syncing {}", tmp_);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    if (errno != EEXIST && errno != ENOTEMPTY && errno != EISDIR && errno != ENOTDIR)
      return SysError("renaming {} to {}", tmp_, path_);
    // Only an earlier image is replaced: never a directory of other files.
    if (!IsTreeImage(path_) && !ReadImageHeader(path_).is_image) {
      return Errorf(EEXIST, "{} exists and is not a kcr image; fix: choose another name", path_);
    }
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) != 0)
      return SysError("replacing {} with {}", path_, tmp_);
    // tmp_ now names the old one, which Discard() removes.
  } else {
    tmp_.clear();
  }
  std::string parent = std::filesystem::path(path_).parent_path().string();
  UniqueFd pdir(::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (pdir.valid())
    ::fsync(pdir.get());
  return Status::Ok();
}

// What the tree image itself is made of (its directory, the pipes' data,
// tree.json) is created as the user a checkpoint acts for, like its images.
Status TreeCheckpoint::AsUser(const std::function<Status()>& step) {
  std::optional<ScopedUserRights> rights;
  if (options_.as_user) {
    rights.emplace(options_.as_user->uid, options_.as_user->gid, options_.as_user->groups);
    KCR_RETURN_IF_ERROR(rights->status());
  }
  return step();
}

Status TreeCheckpoint::Run(pid_t root, TreeCheckpointResult* result, std::vector<UniqueFd>* holds) {
  KCR_RETURN_IF_ERROR(AsUser([&] { return MakeTempDir(); }));
  KCR_RETURN_IF_ERROR(HoldAll(root));
  KCR_RETURN_IF_ERROR(CheckNamespaces());
  KCR_RETURN_IF_ERROR(CheckLeavers());
  KCR_RETURN_IF_ERROR(CheckIds());
  TreeManifest manifest;
  KCR_RETURN_IF_ERROR(SavePipes(&manifest));
  std::vector<int> order;
  Order(0, &order);
  std::map<int, int> position;
  for (size_t i = 0; i < order.size(); i++)
    position[order[i]] = static_cast<int>(i);
  KCR_RETURN_IF_ERROR(SharedMemory(&manifest, position));
  for (int i : order) {
    const Member& m = members_[static_cast<size_t>(i)];
    TreeProcess p;
    p.parent = m.parent < 0 ? -1 : position[m.parent];
    p.zombie = m.zombie;
    p.wait_status = m.wait_status;
    p.image = m.image;
    p.pid = m.pid;
    p.pgid = m.pgid;
    p.sid = m.sid;
    manifest.processes.push_back(std::move(p));
  }
  result_.header_checksum = members_[0].saved->header().checksum;
  for (Member& m : members_)
    m.saved.reset();
  KCR_RETURN_IF_ERROR(AsUser([&] { return Publish(manifest); }));
  result_.freeze_ns = NowNs() - first_hold_ns_;
  for (const Member& m : members_)
    result_.processes.push_back(m.seen_as);
  if (options_.kill) {
    // Killed through their holds, before the holds go: those very processes.
    for (Member& m : members_) {
      if (m.hold.valid())
        KCR_RETURN_IF_ERROR(KillHeld(m.hold.get())
                                .With(fmt::format("tree image {} is complete, but some of its "
                                                  "processes run on",
                                                  path_)));
    }
  }
  if (holds) {
    for (Member& m : members_) {
      if (m.hold.valid())
        holds->push_back(std::move(m.hold));
    }
  }
  Discard();  // the old image, if replaced; every hold left goes
  *result = result_;
  return Status::Ok();
}

}  // namespace

bool HasChildren(pid_t pid) {
  return !ChildrenOf(pid).empty();
}

Status CheckpointTree(pid_t pid, const std::string& path, const CheckpointOptions& options,
                      TreeCheckpointResult* result, std::vector<UniqueFd>* holds) {
  if (options.stop || options.hold)
    return Status::Error(EINVAL,
                         "a tree is checkpointed to run on or to be killed, not stopped "
                         "or held");
  // EAGAIN: the tree changed as it was held (a child ended and was reaped
  // at once, a pid was taken again); nothing was saved, and all runs on.
  constexpr int kTries = 3;
  TreeCheckpointResult r;
  for (int attempt = 1;; attempt++) {
    TreeCheckpoint tree(path, options);
    Status st = tree.Run(pid, &r, holds);
    if (st.ok())
      break;
    if (st.code() != -EAGAIN || attempt == kTries)
      return st;
    r = TreeCheckpointResult{};
  }
  if (result)
    *result = r;
  return Status::Ok();
}

Status CheckpointProcessOrTree(pid_t pid, const std::string& path, const CheckpointOptions& options,
                               AnyCheckpointResult* result, std::vector<UniqueFd>* holds) {
  AnyCheckpointResult r;
  CheckpointOptions single = options;
  single.hold = nullptr;
  r.tree = HasChildren(pid);
  Status st = Status::Ok();
  if (!r.tree) {
    UniqueFd one;
    single.hold = holds ? &one : nullptr;
    st = Checkpoint(pid, path, single, &r.process);
    if (one.valid())
      holds->push_back(std::move(one));
    // It forked its first child after the look: the module refused it as a tree.
    r.tree = !st.ok() && st.code() == -EOPNOTSUPP && HasChildren(pid);
  }
  if (r.tree) {
    single.hold = nullptr;
    if (single.stop) {
      return Errorf(EINVAL,
                    "process {} has children, and --stop is for one process; use --kill, or "
                    "nothing to let the tree run on",
                    pid);
    }
    st = CheckpointTree(pid, path, single, &r.processes, holds);
  }
  if (st.ok() && result)
    *result = r;
  return st;
}

bool IsTreeImage(const std::string& path) {
  struct stat st;
  return ::stat((path + "/" + kTreeManifest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace kcr
