// RestartTree(): a tree image restored in a pid namespace of its own.
//
// The root's restorer (the namespace's first process after init, with the
// root's pid) makes once what members share: each pipe, with its unread
// data, and each open file two members share. Then the tree is forked as
// it was, parents first and one process at a time (each takes its pid
// through ns_last_pid, so nothing else may fork meanwhile): every process
// takes its session and group, makes its own children, and a zombie ends
// at once with its wait status. Only then do all prepare their restores
// at the same time (verify and fill memory, open files), and none passes
// its point of no return before every one is ready: a refusal anywhere
// ends the namespace, and with it every process, before any has changed.
#include <kcr/tree.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include <kcr/image.h>
#include <kcr/util/status_format.h>
#include "drain_signal.h"
#include "pid_namespace.h"
#include "program_clocks.h"
#include "restart_member.h"
#include "restore_files.h"
#include "tree_manifest.h"

namespace kcr {

namespace {

// A descriptor a member gets from the tree's restore.
struct Needed {
  int fd;
  uint64_t file_id;
  bool pipe;
  uint64_t ino;  // the pipe's
  bool reads;
  uint32_t f_flags;
};

struct MemberFiles {
  std::vector<Needed> needed;
  std::vector<int> inherited;
};

// A SIGCHLD the restore itself caused (a zombie made again) must not reach
// the program, which had it already; one from a member that ends after the
// restore must, so SIGCHLD stays blocked (kept pending) until the program's
// own mask replaces the restorer's.
void DropPendingSigchld() {
  DrainSignal(SIGCHLD);
}

// Waits for the end of a pipe's writers (all closed): returns true on EOF.
bool WaitClosed(int fd) {
  char b;
  ssize_t n;
  while ((n = ::read(fd, &b, 1)) < 0 && errno == EINTR) {
  }
  return n == 0;
}

Status CheckPipeData(const std::string& dir, const TreeManifest& m) {
  for (const TreePipe& p : m.pipes) {
    std::string data;
    KCR_RETURN_IF_ERROR(ReadTreeFile(dir + "/" + p.data, p.capacity, &data));
    if (data.size() != p.bytes || Hash64(data.data(), data.size(), 0) != p.checksum)
      return Errorf(EBADMSG, "corrupt tree image {}: the data of pipe {} differs", dir, p.ino);
  }
  return Status::Ok();
}

Status OpenMemberImage(const std::string& dir, const TreeProcess& p,
                       std::unique_ptr<Image>* image) {
  KCR_RETURN_IF_ERROR(Image::Open(dir + "/" + p.image, image));
  if (!(*image)->has_tree() || (*image)->header().pid != p.pid) {
    return Errorf(EBADMSG, "corrupt tree image {}: {} is not the image of process {}", dir, p.image,
                  p.pid);
  }
  return Status::Ok();
}

class TreeRestore {
 public:
  explicit TreeRestore(std::string dir) : dir_(std::move(dir)) {}
  Status Load(const RestartOptions& options);
  Status RunRoot(const RestartOptions& options, int report_fd);
  pid_t root_pid() const { return manifest_.processes[0].pid; }
  // The latest of the members' clocks (none in older images).
  const std::optional<ProgramClocks>& clocks() const { return clocks_; }

 private:
  const TreeProcess& Proc(int i) const { return manifest_.processes[static_cast<size_t>(i)]; }
  std::string Name(int i) const { return fmt::format("process {} of the tree", Proc(i).pid); }
  Status MakeShared();
  Status MakeSharedMemory(const TreeSharedMemory& sm);
  std::vector<kcr_range> KeepShared(int index) const;
  Status MakePipe(const TreePipe& p);
  Status TakeIds(int index) const;
  Status ForkChildren(int index, const RestartOptions& options, int report_fd);
  [[noreturn]] void RunChild(int index, int built_fd, const RestartOptions& options, int report_fd);
  void RunChildBody(int index, int built_fd, const RestartOptions& options, int report_fd);
  [[noreturn]] static void EndAs(int wait_status);
  TreeMember MemberOf(int index) const;

  std::string dir_;
  TreeManifest manifest_;
  std::vector<std::vector<int>> children_;
  std::vector<MemberFiles> files_;
  std::map<uint64_t, std::pair<int, size_t>> shared_files_;  // file id -> member, fd index
  std::map<uint64_t, int> made_;                             // file id -> descriptor here
  std::map<std::string, uint64_t> sizes_;                    // see ProvidedFiles
  std::vector<std::vector<size_t>> shares_;  // per process: its shared_memory regions
  int live_ = 0;
  std::optional<ProgramClocks> clocks_;
  // The restore's own pipes: start (ends when the tree is made); ready, one
  // per member, a byte when it is at its point of no return (its end when
  // it dies, so the root never waits for a process that is gone); go, a
  // byte per member once all are ready (its end, when the root dies, is no
  // go).
  int start_[2] = {-1, -1}, go_[2] = {-1, -1};
  std::vector<std::array<int, 2>> ready_;
};

Status TreeRestore::Load(const RestartOptions& options) {
  KCR_RETURN_IF_ERROR(ReadTreeManifest(dir_, &manifest_));
  const size_t n = manifest_.processes.size();
  children_.assign(n, {});
  files_.assign(n, {});
  KCR_RETURN_IF_ERROR(CheckPipeData(dir_, manifest_));
  std::map<uint64_t, const TreePipe*> pipes;
  for (const TreePipe& p : manifest_.pipes)
    pipes[p.ino] = &p;
  std::map<uint64_t, int> users;  // file id -> members with it
  std::vector<std::unique_ptr<Image>> images(n);
  std::map<uint64_t, std::string> identities;  // file id -> what it is
  for (size_t i = 0; i < n; i++) {
    const TreeProcess& p = manifest_.processes[i];
    if (p.parent >= 0)
      children_[static_cast<size_t>(p.parent)].push_back(static_cast<int>(i));
    if (p.zombie)
      continue;
    live_++;
    std::unique_ptr<Image>& image = images[i];
    KCR_RETURN_IF_ERROR(OpenMemberImage(dir_, p, &image));
    if (auto clocks = ClocksOf(image->header()))
      clocks_ = clocks_ ? Latest(*clocks_, *clocks) : *clocks;
    std::set<uint64_t> own;
    std::map<int, size_t> index_of;
    for (size_t f = 0; f < image->fds().size(); f++) {
      const kcr_fd& fd = image->fds()[f].fd;
      const kcr_tree_fd& t = image->tree_fds()[f];
      index_of[fd.fd] = f;
      // Of a dup, what it duplicates.
      const kcr_fd& what = fd.kind == KCR_FD_SAME ? image->fds()[index_of.at(fd.same_as)].fd : fd;
      if (what.kind == KCR_FD_INHERIT)
        continue;
      if (what.kind == KCR_FD_PIPE && !pipes.count(what.ino)) {
        // A pipe to a process outside the tree: stdio from the restarter.
        if (fd.fd > 2)
          return Errorf(EBADMSG, "corrupt tree image {}: a pipe at fd {} of {}", dir_, fd.fd,
                        Name(static_cast<int>(i)));
        files_[i].inherited.push_back(fd.fd);
        continue;
      }
      if (fd.kind == KCR_FD_SAME)
        continue;  // shares what its earlier fd gets
      // One open file is one thing wherever it is seen.
      const std::string identity =
          what.kind == KCR_FD_PIPE ? fmt::format("pipe {} {}", fd.ino, fd.f_flags & O_ACCMODE)
                                   : fmt::format("{} {} {}", fd.kind, fd.ino, image->fds()[f].path);
      if (auto [seen, fresh] = identities.try_emplace(t.file_id, identity);
          !fresh && seen->second != identity) {
        return Errorf(EBADMSG, "corrupt tree image {}: fd {} of {} is two open files at once", dir_,
                      fd.fd, Name(static_cast<int>(i)));
      }
      if (what.kind == KCR_FD_PIPE) {
        files_[i].needed.push_back(
            {fd.fd, t.file_id, true, fd.ino, (fd.f_flags & O_ACCMODE) == O_RDONLY, fd.f_flags});
        continue;
      }
      if (fd.kind == KCR_FD_REG) {
        uint64_t& size = sizes_[image->fds()[f].path];
        size = std::max<uint64_t>(size, fd.size);
      }
      if (own.insert(t.file_id).second)
        users[t.file_id]++;
      // Its offset as the last member held saw it: the largest (offsets
      // shared by processes that write or read on only grow).
      auto [where, fresh] = shared_files_.try_emplace(t.file_id, static_cast<int>(i), f);
      if (!fresh && fd.pos > images[static_cast<size_t>(where->second.first)]
                                 ->fds()[where->second.second]
                                 .fd.pos) {
        where->second = {static_cast<int>(i), f};
      }
      files_[i].needed.push_back({fd.fd, t.file_id, false, 0, false, fd.f_flags});
    }
  }
  // Shared memory: each sharer's image has it as the same shared mapping.
  shares_.assign(n, {});
  for (size_t r = 0; r < manifest_.shared_memory.size(); r++) {
    const TreeSharedMemory& sm = manifest_.shared_memory[r];
    uint64_t flags = 0;
    for (int i : sm.processes) {
      const Image& image = *images[static_cast<size_t>(i)];
      auto v = std::find_if(image.vmas().begin(), image.vmas().end(), [&](const VmaRecord& x) {
        return x.vma.start == sm.start && x.vma.end == sm.end && x.vma.kind == KCR_VMA_SHARED_ANON;
      });
      constexpr uint64_t kSame = KCR_VM_READ | KCR_VM_WRITE | KCR_VM_EXEC | KCR_VM_NORESERVE;
      if (v == image.vmas().end() ||
          (i != sm.processes.front() && (v->vma.vm_flags & kSame) != flags)) {
        return Errorf(EBADMSG, "corrupt tree image {}: {} lacks the shared memory at {:#x}", dir_,
                      Name(i), sm.start);
      }
      flags = v->vma.vm_flags & kSame;
      shares_[static_cast<size_t>(i)].push_back(r);
    }
  }
  // Each member's cheap checks (kernel build, files, the module's dry run)
  // are made by that member, all at once: their refusals reach the caller
  // as they are, before any process has changed. Here only the root's, so
  // that a tree that cannot be restored at all (another kernel) is refused
  // before any namespace is made.
  TreeMember sizes;
  sizes.files.sizes = sizes_;
  KCR_RETURN_IF_ERROR(CheckRestartableMember(*images[0], options, &sizes).With(Name(0)));
  // Files only one member has, it opens itself.
  for (auto it = shared_files_.begin(); it != shared_files_.end();) {
    if (users[it->first] < 2)
      it = shared_files_.erase(it);
    else
      ++it;
  }
  for (MemberFiles& m : files_) {
    std::erase_if(m.needed,
                  [&](const Needed& x) { return !x.pipe && !shared_files_.count(x.file_id); });
  }
  return Status::Ok();
}

Status TreeRestore::MakePipe(const TreePipe& p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return SysError("making pipe {}", p.ino);
  UniqueFd r(fds[0]), w(fds[1]);
  if (::fcntl(w.get(), F_SETPIPE_SZ, p.capacity) < static_cast<int>(p.capacity)) {
    return SysError("sizing pipe {} to {} bytes as it was (above fs.pipe-max-size?)", p.ino,
                    p.capacity);
  }
  std::string data;
  KCR_RETURN_IF_ERROR(ReadTreeFile(dir_ + "/" + p.data, p.capacity, &data));
  if (data.size() != p.bytes || Hash64(data.data(), data.size(), 0) != p.checksum)
    return Errorf(EBADMSG, "corrupt tree image {}: the data of pipe {} differs", dir_, p.ino);
  if (!data.empty() &&
      ::write(w.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    return SysError("putting {} bytes back into pipe {}", data.size(), p.ino);
  }
  // Each open file of each end, as the members had them.
  bool any_reader = false, any_writer = false;
  for (const MemberFiles& m : files_) {
    for (const Needed& x : m.needed) {
      if (!x.pipe || x.ino != p.ino || made_.count(x.file_id))
        continue;
      const int end = x.reads ? r.get() : w.get();
      bool& first = x.reads ? any_reader : any_writer;
      int fd = first ? ::open(fmt::format("/proc/self/fd/{}", end).c_str(),
                              (x.reads ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_CLOEXEC)
                     : ::fcntl(end, F_DUPFD_CLOEXEC, 0);
      if (fd < 0)
        return SysError("opening pipe {} again", p.ino);
      first = true;
      ::fcntl(fd, F_SETFL, x.f_flags & O_NONBLOCK);
      made_[x.file_id] = fd;
    }
  }
  return Status::Ok();  // r and w close: each open file made is one of the members'
}

// Mapped at its address in this process (which every process of the tree
// is forked from), filled from the image of the process saved last, each
// chunk checked where it lands.
Status TreeRestore::MakeSharedMemory(const TreeSharedMemory& sm) {
  std::unique_ptr<Image> image;
  KCR_RETURN_IF_ERROR(OpenMemberImage(dir_, Proc(sm.from), &image));
  auto v = std::find_if(image->vmas().begin(), image->vmas().end(), [&](const VmaRecord& x) {
    return x.vma.start == sm.start && x.vma.end == sm.end;
  });
  if (v == image->vmas().end())
    return Errorf(EBADMSG, "corrupt tree image {}: no shared memory at {:#x}", dir_, sm.start);
  const size_t len = sm.end - sm.start;
  const int flags = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE |
                    ((v->vma.vm_flags & KCR_VM_NORESERVE) ? MAP_NORESERVE : 0);
  void* at = ::mmap(reinterpret_cast<void*>(sm.start), len, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (at != reinterpret_cast<void*>(sm.start)) {
    if (at != MAP_FAILED)
      ::munmap(at, len);
    return Errorf(EADDRINUSE,
                  "the restorer's own memory is where the tree's shared memory goes ({:#x}); "
                  "fix: retry (the addresses differ each time)",
                  sm.start);
  }
  for (const PageChunkRef& c : image->chunks()) {
    const uint64_t bytes = uint64_t{c.chunk.nr_pages} * KCR_PAGE_SIZE;
    if (c.chunk.addr + bytes <= sm.start || c.chunk.addr >= sm.end)
      continue;
    if (c.chunk.addr < sm.start || c.chunk.addr + bytes > sm.end)
      return Errorf(EBADMSG, "corrupt tree image {}: a memory chunk straddles {:#x}", dir_,
                    sm.start);
    KCR_RETURN_IF_ERROR(image->VerifyChunk(c, image->bytes_at(c.data_offset)));
    std::memcpy(reinterpret_cast<void*>(c.chunk.addr), image->bytes_at(c.data_offset), bytes);
  }
  int prot = 0;
  prot |= (v->vma.vm_flags & KCR_VM_READ) ? PROT_READ : 0;
  prot |= (v->vma.vm_flags & KCR_VM_WRITE) ? PROT_WRITE : 0;
  prot |= (v->vma.vm_flags & KCR_VM_EXEC) ? PROT_EXEC : 0;
  if (::mprotect(at, len, prot) != 0)
    return SysError("protecting the tree's shared memory at {:#x}", sm.start);
  return Status::Ok();
}

// This process keeps the shared memory its image has, and gives up the rest.
std::vector<kcr_range> TreeRestore::KeepShared(int index) const {
  std::vector<kcr_range> kept;
  const std::vector<size_t>& mine = shares_[static_cast<size_t>(index)];
  for (size_t r = 0; r < manifest_.shared_memory.size(); r++) {
    const TreeSharedMemory& sm = manifest_.shared_memory[r];
    if (std::find(mine.begin(), mine.end(), r) != mine.end())
      kept.push_back({sm.start, sm.end});
    else
      ::munmap(reinterpret_cast<void*>(sm.start), sm.end - sm.start);
  }
  return kept;
}

Status TreeRestore::MakeShared() {
  for (const TreeSharedMemory& sm : manifest_.shared_memory)
    KCR_RETURN_IF_ERROR(MakeSharedMemory(sm));
  for (const TreePipe& p : manifest_.pipes)
    KCR_RETURN_IF_ERROR(MakePipe(p));
  for (const auto& [id, where] : shared_files_) {
    std::unique_ptr<Image> image;
    KCR_RETURN_IF_ERROR(Image::Open(dir_ + "/" + Proc(where.first).image, &image));
    UniqueFd fd;
    KCR_RETURN_IF_ERROR(OpenSavedFile(*image, image->fds()[where.second], &fd));
    made_[id] = fd.release();
  }
  return Status::Ok();
}

TreeMember TreeRestore::MemberOf(int index) const {
  TreeMember m;
  const MemberFiles& f = files_[static_cast<size_t>(index)];
  for (const Needed& x : f.needed)
    m.files.fds.emplace_back(x.fd, made_.at(x.file_id));
  m.files.inherited = f.inherited;
  m.files.sizes = sizes_;
  return m;
}

// Its session and group as recorded: one it leads, or its parent's (made
// already), or a group an earlier process leads. A root in a session or
// group led from outside the tree keeps the restarter's.
Status TreeRestore::TakeIds(int index) const {
  const TreeProcess& p = Proc(index);
  const TreeProcess* parent = p.parent >= 0 ? &Proc(p.parent) : nullptr;
  if (p.sid == p.pid && ::setsid() < 0)
    return SysError("{}: making its session", Name(index));
  if (p.pgid == p.pid) {
    if (::getpgrp() != p.pid && ::setpgid(0, 0) != 0)
      return SysError("{}: making its process group", Name(index));
  } else if (parent && p.pgid != parent->pgid && ::setpgid(0, p.pgid) != 0) {
    return SysError("{}: joining process group {}", Name(index), p.pgid);
  }
  return Status::Ok();
}

[[noreturn]] void TreeRestore::EndAs(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);  // (a core-dump flag is not kept)
    ::prctl(PR_SET_DUMPABLE, 0);      // nor a core_pattern pipe run
    ::signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    ::sigprocmask(SIG_UNBLOCK, &one, nullptr);
    ::kill(::getpid(), sig);
  }
  ::_exit(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 1);
}

[[noreturn]] void TreeRestore::RunChild(int index, int built_fd, const RestartOptions& options,
                                        int report_fd) {
  // Nothing may escape a member unreported.
  try {
    RunChildBody(index, built_fd, options, report_fd);
  } catch (const std::exception& e) {
    ReportRefused(report_fd, Errorf(EIO, "{}: {}", Name(index), e.what()));
  }
  ::_exit(kRestartRefusedExit);
}

void TreeRestore::RunChildBody(int index, int built_fd, const RestartOptions& options,
                               int report_fd) {
  // The root's ends, which only the root writes. Forgotten once closed: this
  // process's own pipes may take their numbers, which its children must not
  // close again.
  if (start_[1] >= 0)
    ::close(std::exchange(start_[1], -1));
  if (go_[1] >= 0)
    ::close(std::exchange(go_[1], -1));
  const TreeProcess& p = Proc(index);
  Status st = TakeIds(index);  // a zombie may lead a group others join
  if (p.zombie)
    EndAs(p.wait_status);
  if (st.ok())
    st = ForkChildren(index, options, report_fd);
  // Its children have theirs: only its own ready end stays.
  for (size_t m = 0; m < ready_.size(); m++) {
    if (static_cast<int>(m) != index && ready_[m][1] >= 0)
      ::close(std::exchange(ready_[m][1], -1));
  }
  DropPendingSigchld();
  if (!st.ok()) {
    ReportRefused(report_fd, st);
    ::_exit(kRestartRefusedExit);
  }
  (void)::write(built_fd, "1", 1);
  ::close(built_fd);
  if (!WaitClosed(start_[0]))
    ::_exit(kRestartRefusedExit);
  TreeMember me = MemberOf(index);
  me.kept = KeepShared(index);
  bool past_barrier = false;
  me.all_ready = [this, index, &past_barrier] {
    char go;
    if (::write(ready_[static_cast<size_t>(index)][1], "1", 1) != 1 || ::read(go_[0], &go, 1) != 1)
      return Status::Error(ECHILD, "the tree's restore was called off");
    past_barrier = true;
    return Status::Ok();
  };
  st = RestartInPlace(dir_ + "/" + p.image, options, &me);
  if (past_barrier) {
    // The others are restored or about to be, and this one's report
    // descriptor is gone: the whole tree ends, visibly, rather than run on
    // without this process.
    ::kill(-1, SIGKILL);
    ::_exit(kRestartRefusedExit);
  }
  ReportRefused(report_fd, st.With(Name(index)));
  ::_exit(kRestartRefusedExit);
}

// Its children in order, each with its pid, each made whole (its own
// children too) before the next is forked.
Status TreeRestore::ForkChildren(int index, const RestartOptions& options, int report_fd) {
  for (int c : children_[static_cast<size_t>(index)]) {
    const TreeProcess& child = Proc(c);
    int built[2];
    if (::pipe2(built, O_CLOEXEC) != 0)
      return SysError("making {}", Name(c));
    UniqueFd built_r(built[0]);
    KCR_RETURN_IF_ERROR(
        WriteProcFile("/proc/sys/kernel/ns_last_pid", std::to_string(child.pid - 1)));
    pid_t got = ::fork();
    if (got < 0) {
      ::close(built[1]);
      return SysError("forking {}", Name(c));
    }
    if (got == 0) {
      built_r.reset();
      RunChild(c, built[1], options, report_fd);
    }
    ::close(built[1]);
    if (got != child.pid) {
      ::kill(got, SIGKILL);
      ::waitpid(got, nullptr, 0);
      return Errorf(EADDRINUSE, "{} got pid {}, not its own", Name(c), got);
    }
    if (child.zombie) {
      siginfo_t si{};
      if (::waitid(P_PID, static_cast<id_t>(got), &si, WEXITED | WNOWAIT) != 0)
        return SysError("making {} a zombie again", Name(c));
      continue;
    }
    char b;
    if (::read(built_r.get(), &b, 1) != 1) {
      int status = 0;
      std::string how = "it did not say why";
      if (::waitpid(got, &status, 0) == got) {
        how = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                  : fmt::format("exit status {}", WEXITSTATUS(status));
      }
      return Errorf(ECHILD, "{} could not be made ({})", Name(c), how);
    }
  }
  return Status::Ok();
}

Status TreeRestore::RunRoot(const RestartOptions& options, int report_fd) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  KCR_RETURN_IF_ERROR(MakeShared());
  if (::pipe2(start_, O_CLOEXEC) != 0 || ::pipe2(go_, O_CLOEXEC) != 0)
    return SysError("making the tree's restore pipes");
  ready_.assign(manifest_.processes.size(), {-1, -1});
  for (size_t i = 1; i < ready_.size(); i++) {
    if (!Proc(static_cast<int>(i)).zombie && ::pipe2(ready_[i].data(), O_CLOEXEC) != 0)
      return SysError("making the tree's restore pipes");
  }
  KCR_RETURN_IF_ERROR(TakeIds(0));
  KCR_RETURN_IF_ERROR(ForkChildren(0, options, report_fd));
  DropPendingSigchld();
  ::close(start_[1]);  // every member prepares now
  for (auto& r : ready_) {
    if (r[1] >= 0)
      ::close(r[1]);
  }
  TreeMember me = MemberOf(0);
  me.kept = KeepShared(0);
  me.all_ready = [this] {
    for (size_t i = 1; i < ready_.size(); i++) {
      char b;
      if (ready_[i][0] >= 0 && ::read(ready_[i][0], &b, 1) != 1) {
        return Status::Error(ECHILD,
                             fmt::format("{} ended before its restore", Name(static_cast<int>(i))));
      }
    }
    const std::string go(static_cast<size_t>(live_ - 1), 'g');
    if (::write(go_[1], go.data(), go.size()) != static_cast<ssize_t>(go.size()))
      return SysError("letting the tree's processes go");
    return Status::Ok();
  };
  return RestartInPlace(dir_ + "/" + Proc(0).image, options, &me);
}

}  // namespace

Status TreeRootImage(const std::string& path, std::string* root_image) {
  TreeManifest m;
  KCR_RETURN_IF_ERROR(ReadTreeManifest(path, &m));
  *root_image = path + "/" + m.processes[0].image;
  return Status::Ok();
}

Status VerifyTreeImage(const std::string& path, size_t* processes) {
  TreeManifest m;
  KCR_RETURN_IF_ERROR(ReadTreeManifest(path, &m));
  KCR_RETURN_IF_ERROR(CheckPipeData(path, m));
  for (const TreeProcess& p : m.processes) {
    if (p.zombie)
      continue;
    std::unique_ptr<Image> image;
    KCR_RETURN_IF_ERROR(OpenMemberImage(path, p, &image));
    KCR_RETURN_IF_ERROR(image->VerifyPages().With(fmt::format("process {}", p.pid)));
  }
  *processes = m.processes.size();
  return Status::Ok();
}

Status RestartTree(const std::string& path, const RestartOptions& options, int* wait_status) {
  auto tree = std::make_shared<TreeRestore>(path);
  KCR_RETURN_IF_ERROR(tree->Load(options));
  return RestartInNamespace(
      tree->root_pid(), tree->clocks(),
      [tree](const RestartOptions& inner, int report_fd) {
        return tree->RunRoot(inner, report_fd);
      },
      options, wait_status);
}

}  // namespace kcr
