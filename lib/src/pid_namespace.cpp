// RestartWithIds(): a restore in a pid namespace made for it, so that the
// restored program has its own process and thread ids again.
//
//   caller ─ fork ─┐ waits; passes signals on to the program; reports
//                  │ when it runs and how it ended
//   namespace maker ─ unshare(NEWPID [|NEWUSER] [|NEWTIME]) ─ fork ─┐ waits
//   init, pid 1 of the new namespace ─ unshare(NEWNS), its own /proc ─┐
//     makes the next pid the image's (ns_last_pid), forks ─┐ reaps
//   the restorer, with the image's pid ─ Restart() in place ┘
//
// The caller never changes namespaces itself: under Slurm it is the job's
// task, which must stay where slurmstepd and proctrack know it, and a
// library call should not move its caller. Where the caller may not make a
// pid namespace, the maker first makes a user namespace in which the
// caller's own uid and gid are mapped to themselves (by the maker itself,
// or by RestartOptions::map_ids, with the clocks' offsets if any): that
// lets it choose ids in the new pid namespace, and its restorer then drops
// every capability (in that namespace) before the restore, so the program
// has none, as before.
//
// A program whose clocks would jump here (another boot or node) gets a
// time namespace too, made by the maker with the pid namespace
// (program_clocks.h says when and how).
//
// Every process of the namespace reports to the caller on one SEQPACKET
// socket (the maker's request for its id maps is answered on it too). The restorer's first message
// carries its credentials, which the kernel translates into the caller's pid namespace: that is how
// the caller learns the program's pid as it sees it, to signal and watch it.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "pid_namespace.h"
#include "program_clocks.h"

#include <kcr/util/status_format.h>

namespace kcr {

namespace {

// Signals a caller passes on to the program (a job's scancel, a terminal's ^C).
constexpr int kForwarded[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,  SIGUSR1,
                              SIGUSR2, SIGCONT, SIGALRM, SIGWINCH, SIGTSTP};

// The restorer's name until the module gives the restored thread the
// program's: the caller watches for the change.
constexpr char kRestorerName[] = "kcr-restore";

// The program's pid in the caller's namespace, once known and signals are
// passed on; 0 before, and in the namespace's own processes.
volatile sig_atomic_t forward_to = 0;
// The caller (not the namespace's processes) notes a signal that came
// before it could pass it on: a restore it interrupts is not tried again.
volatile sig_atomic_t is_caller = 0;
volatile sig_atomic_t interrupted_by = 0;

// What the namespace tells its caller: the maker needs its id maps written
// (answered with kMapped), the restorer is about to restore (both sent with
// their credentials), then once how the program ended or why it was never
// restored.
enum ReportKind : int32_t { kNeedMaps = 1, kMapped = 2, kStarting = 3, kEnded = 4, kRefused = 5 };
struct ReportMessage {
  int32_t kind;
  int32_t value;  // kEnded: the wait status; kRefused, kMapped: the negative errno or 0
  int32_t ran;    // kEnded: the program ran (had its own name when it ended)
  char text[512];
};

void Report(int fd, ReportKind kind, int value, const std::string& text) {
  ReportMessage m{};
  m.kind = kind;
  m.value = value;
  std::strncpy(m.text, text.c_str(), sizeof(m.text) - 1);
  (void)::send(fd, &m, sizeof(m), MSG_NOSIGNAL);
}

// Receives one report; *sender is the sender's pid in the caller's pid
// namespace. Returns false at the end of the stream (every reporter gone).
bool ReceiveReport(int fd, ReportMessage* m, pid_t* sender) {
  iovec iov{m, sizeof(*m)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  while ((n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof(*m)))
    return false;
  m->text[sizeof(m->text) - 1] = 0;
  *sender = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      *sender = cred.pid;
    }
  }
  return true;
}

// Signals that end a program by default and are how jobs are cancelled:
// one of these before the program runs makes a failed restore final.
bool Cancels(int sig) {
  return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

void Forward(int sig) {
  if (forward_to > 0)
    ::kill(forward_to, sig);
  else if (is_caller && Cancels(sig))
    interrupted_by = sig;
}

std::string NameOf(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/comm", pid));
  std::string name;
  std::getline(in, name);
  return name;
}

// Why the maker's unshare() failed with `error`.
Status NamespaceError(int error, bool with_clocks) {
  if (error == EINVAL && with_clocks) {
    return Errorf(EINVAL,
                  "the program was saved on another boot or node, and this kernel has no time "
                  "namespaces (CONFIG_TIME_NS) to continue its clocks in; fix: restore on a "
                  "kernel with time namespaces");
  }
  return Errorf(error, "making a pid namespace for the restore: {}", std::strerror(error));
}

// A new user namespace in which the caller's own ids, and only those, are
// mapped, and in it the namespaces `flags` names; `clock_offsets`, for a
// new time namespace, set as /proc/PID/timens_offsets takes them. The maps
// and offsets are written by this process, or by the caller when it knows
// how (RestartOptions::map_ids).
Status EnterUserNamespace(const RestartOptions& options, int report_fd, int flags,
                          const std::string& clock_offsets) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0) {
    return SysError(
        "a restore with the image's process ids needs a pid namespace, and this user may not "
        "make one (no user namespaces: kernel.unprivileged_userns_clone=0?); fix: restore as "
        "root, or allow unprivileged user namespaces");
  }
  // Before the maps: a time namespace's offsets are set by whoever writes
  // them, so both are written at once.
  if (::unshare(flags) != 0)
    return NamespaceError(errno, !clock_offsets.empty());
  if (options.map_ids) {
    Report(report_fd, kNeedMaps, 0, clock_offsets);
    ReportMessage answer{};
    pid_t sender;
    if (!ReceiveReport(report_fd, &answer, &sender) || answer.kind != kMapped)
      return Errorf(EIO, "no answer to the request for the user namespace's id maps");
    if (answer.value != 0)
      return Status::Error(-answer.value, answer.text);
  } else {
    KCR_RETURN_IF_ERROR(WriteProcFile("/proc/self/setgroups", "deny"));
    KCR_RETURN_IF_ERROR(WriteProcFile("/proc/self/uid_map", fmt::format("{} {} 1", uid, uid)));
    KCR_RETURN_IF_ERROR(WriteProcFile("/proc/self/gid_map", fmt::format("{} {} 1", gid, gid)));
    if (!clock_offsets.empty())
      KCR_RETURN_IF_ERROR(SetClockOffsets(clock_offsets));
  }
  if (::geteuid() != uid || ::getegid() != gid) {
    return Errorf(EPERM, "the user namespace for the restore maps uid {} gid {} as {} {}", uid, gid,
                  ::geteuid(), ::getegid());
  }
  return Status::Ok();
}

// The restorer: tells the caller who it is, then becomes the program. The
// signals passed on stay blocked until the program's own mask replaces
// this one: one that comes during the restore waits for the program.
[[noreturn]] void RunRestorer(const RestoreBody& body, const RestartOptions& options,
                              const sigset_t& mask, int report_fd) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigset_t blocked = mask;
  for (int sig : kForwarded) {
    ::sigaction(sig, &dfl, nullptr);
    sigaddset(&blocked, sig);
  }
  ::sigprocmask(SIG_SETMASK, &blocked, nullptr);
  ::prctl(PR_SET_NAME, kRestorerName);
  ::setenv("KCR_RESTART_IN_NAMESPACE", "1", 1);
  Report(report_fd, kStarting, 0, "");
  Status st = body(options, report_fd);  // returns only on failure
  Report(report_fd, kRefused, st.code(), st.message());
  ::_exit(kRestartRefusedExit);
}

// pid 1 of the new namespace: its own mounts and /proc, then the restorer,
// with the image's pid. Returns the restorer's wait status and whether the
// program ran, or a failure.
Status RunInit(const RestoreBody& body, const RestartOptions& options, pid_t image_pid,
               int report_fd, int* wait_status, bool* ran) {
  ::prctl(PR_SET_NAME, "kcr-init");
  // Killed with its parent, and the namespace with it (a restore nobody
  // waits for must not run on). Its parent is outside the namespace, so
  // getppid() cannot tell whether that happened already: the maker only
  // ends after init.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::unshare(CLONE_NEWNS) != 0)
    return SysError("making a mount namespace for the restore");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return SysError("making the restore's mounts private");
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return SysError("mounting /proc for the restore's pid namespace");
  // The next pid this namespace gives is the image's: fork takes it (nothing
  // else runs in a namespace this new).
  if (image_pid > 1) {
    KCR_RETURN_IF_ERROR(
        WriteProcFile("/proc/sys/kernel/ns_last_pid", std::to_string(image_pid - 1)));
  }
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  for (int sig : kForwarded)
    sigaddset(&waited, sig);
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &waited, &old);
  pid_t child = ::fork();
  if (child < 0)
    return SysError("starting the restorer");
  if (child == 0)
    RunRestorer(body, options, old, report_fd);
  if (child != image_pid) {
    ::kill(child, SIGKILL);
    return Errorf(EADDRINUSE, "the restorer got pid {}, not the image's {}", child, image_pid);
  }
  // Init's duty: reap whatever the program leaves behind. Signals for the
  // program reach it from the caller (or from whoever signals every
  // process); init only keeps them from ending it.
  for (;;) {
    siginfo_t si;
    if (::sigwaitinfo(&waited, &si) < 0 || si.si_signo != SIGCHLD)
      continue;
    // Before the program is reaped its name tells whether it ran: a program
    // that ends at once must not pass for a failed restore.
    siginfo_t ended{};
    if (::waitid(P_PID, static_cast<id_t>(child), &ended, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        ended.si_pid == child) {
      std::string name = NameOf(child);
      *ran = !name.empty() && name != kRestorerName;
    }
    int status;
    pid_t done;
    while ((done = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (done == child) {
        *wait_status = status;
        return Status::Ok();
      }
    }
  }
}

// The namespace maker: a pid namespace (and a user namespace if it must),
// and init in it. Ends when init does.
[[noreturn]] void RunMaker(const RestoreBody& body, const RestartOptions& options, pid_t image_pid,
                           const std::optional<ProgramClocks>& clocks, int report_fd,
                           pid_t caller) {
  forward_to = 0;
  is_caller = 0;
  ::prctl(PR_SET_NAME, "kcr-nsmaker");
  // Nothing of the caller's but the report socket and stdio goes into the
  // namespace (under Slurm the caller holds its agent connection).
  for (int fd = 3; fd <= report_fd; fd++) {
    if (fd != report_fd)
      ::close(fd);
  }
  ::syscall(SYS_close_range, static_cast<unsigned>(report_fd + 1), ~0U, 0U);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != caller)
    ::_exit(0);
  RestartOptions inner = options;
  inner.restored = nullptr;
  inner.map_ids = nullptr;
  // Set before init, the namespace's first process, enters it.
  const std::string offsets = clocks ? ClockOffsets(*clocks) : "";
  const int flags = CLONE_NEWPID | (clocks ? CLONE_NEWTIME : 0);
  Status st = Status::Ok();
  if (::unshare(flags) == 0) {
    if (clocks)
      st = SetClockOffsets(offsets);
  } else if (errno != EPERM) {
    st = NamespaceError(errno, clocks.has_value());
  } else if (st = EnterUserNamespace(options, report_fd, flags, offsets); st.ok()) {
    inner.drop_capabilities = true;
  }
  pid_t init = st.ok() ? ::fork() : -1;
  if (st.ok() && init < 0)
    st = SysError("starting the restore's pid namespace");
  if (init == 0) {
    int status = 0;
    bool ran = false;
    st = RunInit(body, inner, image_pid, report_fd, &status, &ran);
    if (st.ok()) {
      ReportMessage m{};
      m.kind = kEnded;
      m.value = status;
      m.ran = ran;
      (void)::send(report_fd, &m, sizeof(m), MSG_NOSIGNAL);
    } else {
      Report(report_fd, kRefused, st.code(), st.message());
    }
    ::_exit(0);
  }
  if (!st.ok()) {
    Report(report_fd, kRefused, st.code(), st.message());
    ::_exit(0);
  }
  while (::waitpid(init, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

// Ends the namespace of a restore the caller gives up on: the maker's death
// kills init (PR_SET_PDEATHSIG), and init's everything in the namespace.
void Abandon(pid_t maker) {
  ::kill(maker, SIGKILL);
  while (::waitpid(maker, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

bool SavedOnAnotherBoot(const Image& image) {
  auto clocks = ClocksOf(image.header());
  return clocks && ClocksWouldJump(*clocks);
}

bool MayMakeNamespaces() {
  // Asked of a child, which ends: the namespaces the maker makes, as it
  // makes them (RunMaker): directly, or where that is not allowed in a
  // user namespace of their own (which a kernel that restricts user
  // namespaces may refuse, or leave powerless).
  constexpr int kFlags = CLONE_NEWPID | CLONE_NEWTIME;
  pid_t child = ::fork();
  if (child == 0) {
    ::_exit(::unshare(kFlags) == 0 || (errno == EPERM && ::unshare(CLONE_NEWUSER | kFlags) == 0)
                ? 0
                : 1);
  }
  if (child < 0)
    return false;
  int status = 0;
  pid_t waited;
  while ((waited = ::waitpid(child, &status, 0)) < 0 && errno == EINTR) {
  }
  return waited == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool NeedsNamespaces(const Image& image) {
  // A single-threaded program restores in place too, where its clocks
  // cannot continue: better a clock that jumps than no restore.
  return image.threads().size() > 1 || (SavedOnAnotherBoot(image) && MayMakeNamespaces());
}

Status WriteProcFile(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() ||
      ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return SysError("writing {}", path);
  }
  return Status::Ok();
}

void ReportRefused(int report_fd, const Status& st) {
  Report(report_fd, kRefused, st.code(), st.message());
}

Status RestartWithIds(const std::string& path, const RestartOptions& options, int* wait_status) {
  pid_t image_pid;
  std::optional<ProgramClocks> clocks;
  {
    std::unique_ptr<Image> image;
    KCR_RETURN_IF_ERROR(Image::Open(path, &image));
    image_pid = image->header().pid;
    clocks = ClocksOf(image->header());
    // The cheap refusals here, where their messages reach the caller as they are.
    KCR_RETURN_IF_ERROR(CheckRestartable(*image, options));
  }
  return RestartInNamespace(
      image_pid, clocks, [path](const RestartOptions& inner, int) { return Restart(path, inner); },
      options, wait_status);
}

Status RestartInNamespace(pid_t image_pid, std::optional<ProgramClocks> clocks,
                          const RestoreBody& body, const RestartOptions& options,
                          int* wait_status) {
  if (clocks && !ClocksWouldJump(*clocks))
    clocks.reset();
  int report[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0)
    return SysError("making the restore's report socket");
  UniqueFd reports(report[0]);
  const int on = 1;
  if (::setsockopt(report[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
    ::close(report[1]);
    return SysError("asking for the restorer's credentials");
  }
  // The handlers are in place before the fork, so a signal that comes
  // while the namespace is made ends nobody; until the program's pid is
  // known it is not passed on.
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sa.sa_flags = SA_RESTART;
  struct sigaction saved[std::size(kForwarded)];
  for (size_t i = 0; i < std::size(kForwarded); i++)
    ::sigaction(kForwarded[i], &sa, &saved[i]);
  auto restore_handlers = [&] {
    forward_to = 0;
    is_caller = 0;
    for (size_t i = 0; i < std::size(kForwarded); i++)
      ::sigaction(kForwarded[i], &saved[i], nullptr);
  };
  interrupted_by = 0;
  is_caller = 1;
  const pid_t caller = ::getpid();
  pid_t maker = ::fork();
  if (maker < 0) {
    ::close(report[1]);
    restore_handlers();
    return SysError("starting the restore's pid namespace");
  }
  if (maker == 0) {
    reports.reset();
    RunMaker(body, options, image_pid, clocks, report[1], caller);
  }
  ::close(report[1]);

  pid_t program = 0;
  bool seen_running = false;
  ReportMessage m{};
  bool got_end = false;
  for (;;) {
    // While the restore runs, the program's name is looked at every 10 ms:
    // the module renames it as it restores its thread, after the memory.
    pollfd p{reports.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, program && !seen_running ? 10 : -1);
    if (ready < 0 && errno != EINTR)
      break;
    if (program && !seen_running) {
      std::string name = NameOf(program);
      if (!name.empty() && name != kRestorerName) {
        seen_running = true;
        if (options.restored)
          options.restored(program, name, clocks.has_value());
      }
    }
    if (ready <= 0)
      continue;
    pid_t sender = 0;
    ReportMessage r{};
    if (!ReceiveReport(reports.get(), &r, &sender))
      break;
    if (r.kind == kStarting) {
      program = sender;
      if (options.forward_signals) {
        forward_to = program;
        // What came while the namespace was made: the restorer keeps it
        // blocked, and the program gets it once it runs.
        if (interrupted_by)
          ::kill(program, interrupted_by);
      }
      continue;
    }
    if (r.kind == kNeedMaps) {
      Status mapped = sender == maker && options.map_ids
                          ? options.map_ids(sender, r.text)
                          : Errorf(EPERM, "unexpected request for id maps from pid {}", sender);
      ReportMessage answer{};
      answer.kind = kMapped;
      answer.value = mapped.ok() ? 0 : mapped.code();
      std::strncpy(answer.text, mapped.message().c_str(), sizeof(answer.text) - 1);
      (void)::send(reports.get(), &answer, sizeof(answer), MSG_NOSIGNAL);
      continue;
    }
    m = r;
    got_end = true;
    break;
  }
  // A refusal may come from any process of the namespace (a tree's member)
  // while the others wait: the namespace ends with it.
  if (!got_end || m.kind == kRefused)
    Abandon(maker);
  else
    while (::waitpid(maker, nullptr, 0) < 0 && errno == EINTR) {
    }
  restore_handlers();
  if (got_end && m.kind == kEnded && m.ran && !seen_running) {
    seen_running = true;  // it ran, and ended before it was looked at
    if (options.restored)
      options.restored(program, "", clocks.has_value());
  }
  Status failed = Status::Ok();
  if (!got_end) {
    failed = Errorf(EIO, "the restore's pid namespace ended before the program did");
  } else if (m.kind == kRefused) {
    failed = Status::Error(-m.value, m.text);
  } else if (!seen_running && WIFSIGNALED(m.value)) {
    // The module kills a restorer that fails past its point of no return;
    // the caller is untouched and may try another image.
    failed = Errorf(EIO,
                    "the restore failed past its point of no return (the restorer was killed by "
                    "signal {} before the program ran; the kernel log says why)",
                    WTERMSIG(m.value));
  } else if (!seen_running && WIFEXITED(m.value) && WEXITSTATUS(m.value) == kRestartRefusedExit) {
    // A failure after the restorer had given up its descriptors, whose
    // report went with them.
    failed = Errorf(EIO,
                    "the restore failed after the restorer had changed, before the program ran "
                    "(its report was lost with its descriptors)");
  }
  if (!failed.ok()) {
    const int sig = interrupted_by;
    if (sig) {
      return Errorf(ECANCELED,
                    "the restore was interrupted by signal {} ({}) before the program "
                    "ran ({})",
                    sig, ::strsignal(sig), failed.message());
    }
    return failed;
  }
  *wait_status = m.value;
  return Status::Ok();
}

}  // namespace kcr
