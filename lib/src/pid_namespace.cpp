// RestartWithIds(): a restore in a pid namespace made for it, so that the
// restored program has its own process and thread ids again.
//
//   caller (kcr restart) ─ unshare(NEWPID|NEWNS [|NEWUSER]) ─ fork ─┐
//     waits; forwards signals; returns how the program ended       │
//   init, pid 1 of the new namespace ─ mounts its /proc ───────────┘
//     makes the next pid the image's (ns_last_pid), forks ─┐
//     reaps; forwards signals; reports the program's end    │
//   the restorer, with the image's pid ─ Restart() in place ┘
//
// An unprivileged caller also makes a user namespace in which its own uid
// and gid are mapped to themselves: that lets it choose ids in the new pid
// namespace, and its restorer then drops every capability (in that
// namespace) before the restore, so the program has none, as before.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <kcr/restart.h>

#include <kcr/util/status_format.h>

namespace kcr {

namespace {

// Signals a caller passes on to the program (a job's scancel, a terminal's ^C).
constexpr int kForwarded[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,  SIGUSR1,
                              SIGUSR2, SIGCONT, SIGALRM, SIGWINCH, SIGTSTP};

volatile sig_atomic_t forward_to = 0;

// What the namespace tells its caller, once: how the program ended, or why
// it was never restored.
enum ReportKind : int32_t { kEnded = 1, kRefused = 2 };
struct ReportMessage {
  int32_t kind;
  int32_t value;  // kEnded: the wait status; kRefused: the negative errno
  char text[512];
};

void Report(int fd, ReportKind kind, int value, const std::string& text) {
  ReportMessage m{};
  m.kind = kind;
  m.value = value;
  std::strncpy(m.text, text.c_str(), sizeof(m.text) - 1);
  (void)::write(fd, &m, sizeof(m));
}

void Forward(int sig) {
  if (forward_to > 0)
    ::kill(forward_to, sig);
}

Status WriteFile(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() ||
      ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return SysError("writing {}", path);
  }
  return Status::Ok();
}

// Maps the caller's own ids, and only those, in a new user namespace.
Status EnterUserNamespace() {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0) {
    return SysError(
        "a restore with the image's process ids needs a pid namespace, and this user may not "
        "make one (no user namespaces: kernel.unprivileged_userns_clone=0?); fix: restore as "
        "root, or allow unprivileged user namespaces");
  }
  KCR_RETURN_IF_ERROR(WriteFile("/proc/self/setgroups", "deny"));
  KCR_RETURN_IF_ERROR(WriteFile("/proc/self/uid_map", fmt::format("{} {} 1", uid, uid)));
  KCR_RETURN_IF_ERROR(WriteFile("/proc/self/gid_map", fmt::format("{} {} 1", gid, gid)));
  return Status::Ok();
}

// pid 1 of the new namespace: its own /proc, then the restorer, with the
// image's pid. Returns the restorer's wait status, or a failure.
Status RunInit(const std::string& path, const RestartOptions& options, pid_t image_pid,
               int report_fd, int* wait_status) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return SysError("making the restore's mounts private");
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return SysError("mounting /proc for the restore's pid namespace");
  // The next pid this namespace gives is the image's: fork takes it (nothing
  // else runs in a namespace this new).
  if (image_pid > 1) {
    KCR_RETURN_IF_ERROR(WriteFile("/proc/sys/kernel/ns_last_pid", std::to_string(image_pid - 1)));
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
  if (child == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::setenv("KCR_RESTART_IN_NAMESPACE", "1", 1);
    Status st = Restart(path, options);  // returns only on failure
    Report(report_fd, kRefused, st.code(), st.message());
    ::_exit(kRestartRefusedExit);
  }
  if (child != image_pid) {
    ::kill(child, SIGKILL);
    return Errorf(EADDRINUSE, "the restorer got pid {}, not the image's {}", child, image_pid);
  }
  // Init's duty: reap whatever the program leaves behind, pass signals on.
  for (;;) {
    siginfo_t si;
    if (::sigwaitinfo(&waited, &si) < 0)
      continue;
    if (si.si_signo != SIGCHLD) {
      ::kill(child, si.si_signo);
      continue;
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

}  // namespace

Status RestartWithIds(const std::string& path, const RestartOptions& options, int* wait_status) {
  pid_t image_pid;
  {
    std::unique_ptr<Image> image;
    KCR_RETURN_IF_ERROR(Image::Open(path, &image));
    image_pid = image->header().pid;
    // The cheap refusals here, where their messages reach the caller as they are.
    KCR_RETURN_IF_ERROR(CheckRestartable(*image, options));
  }
  RestartOptions inner = options;
  if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) {
    if (errno != EPERM)
      return SysError("making a pid namespace for the restore");
    KCR_RETURN_IF_ERROR(EnterUserNamespace());
    inner.drop_capabilities = true;
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
      return SysError("making a pid namespace for the restore");
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0)
    return SysError("making a pipe");
  pid_t init = ::fork();
  if (init < 0)
    return SysError("starting the restore's pid namespace");
  if (init == 0) {
    ::close(report[0]);
    int status = 0;
    Status st = RunInit(path, inner, image_pid, report[1], &status);
    if (st.ok())
      Report(report[1], kEnded, status, "");
    else
      Report(report[1], kRefused, st.code(), st.message());
    ::_exit(0);
  }
  ::close(report[1]);
  forward_to = init;
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sa.sa_flags = SA_RESTART;
  for (int sig : kForwarded)
    ::sigaction(sig, &sa, nullptr);
  int init_status = 0;
  while (::waitpid(init, &init_status, 0) < 0 && errno == EINTR) {
  }
  forward_to = 0;
  ReportMessage m{};
  ssize_t n = ::read(report[0], &m, sizeof(m));
  ::close(report[0]);
  if (n != static_cast<ssize_t>(sizeof(m))) {
    return Errorf(EIO, "the restore's pid namespace ended before the program ({})",
                  WIFEXITED(init_status) ? fmt::format("exit {}", WEXITSTATUS(init_status))
                                         : fmt::format("signal {}", WTERMSIG(init_status)));
  }
  m.text[sizeof(m.text) - 1] = 0;
  if (m.kind == kRefused)
    return Status::Error(-m.value, m.text);
  *wait_status = m.value;
  return Status::Ok();
}

}  // namespace kcr
