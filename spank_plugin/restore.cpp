#include "restore.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include <kcr/image.h>
#include <kcr/restart.h>
#include <kcr/slurm_request.h>
#include <kcr/tree.h>
#include "dirs.h"
#include "kcr/util/image_files.h"
#include "kcr/util/status_format.h"
#include "log.h"

namespace kcr::spank {

namespace {

namespace verb = slurm::verb;
namespace field = slurm::field;

struct Candidate {
  std::int64_t id = 0;
  std::string image;
  std::string trigger;
};

bool SameFile(int fd, const struct stat& before) {
  struct stat now;
  return ::fstat(fd, &now) == 0 && now.st_ino == before.st_ino && now.st_dev == before.st_dev;
}

// A fresh start writes the task's whole output again; what the earlier runs
// left in its output files (regular files opened for append) would be there twice.
void EmptyOutputFiles() {
  for (int fd : {1, 2}) {
    struct stat st;
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(flags & O_APPEND)) {
      continue;
    }
    if (st.st_size > 0 && ::ftruncate(fd, 0) == 0) {
      Info("task output (fd {}) emptied: the program starts again from the beginning", fd);
    }
  }
}

// Only the job's user's own image is restored in its job: one that another
// user could have made, changed or swapped (someone who made a directory
// of the user's image_dir first) would run that user's program as this
// one. The image is the user's, writable by no one else, not a symlink,
// and every directory above it is trusted (dirs.h), so that nobody else
// can swap it between this check and the restore's open. Runs as the job's
// user. Nothing at all there: Restart() says why.
Status CheckOwnImage(const std::string& image_path) {
  struct stat st;
  if (::lstat(image_path.c_str(), &st) != 0)
    return Status::Ok();
  if (!util::ImageOwnedOnlyBy(st, ::getuid())) {
    return Errorf(EPERM,
                  "image {} is not this job's user's own (owner uid {}, mode {:o}{}): not "
                  "restored",
                  image_path, st.st_uid, st.st_mode & 07777,
                  S_ISLNK(st.st_mode) ? ", a symlink" : "");
  }
  const size_t slash = image_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : image_path.substr(0, slash);
  return CheckTrustedDir(dir.empty() ? "/" : dir, ::getuid(), ::getgid())
      .With(fmt::format("image {} not restored", image_path));
}

// An image that cannot be read goes to Restart(), which says why.
bool NeedsNamespaces(const std::string& image_path) {
  std::unique_ptr<Image> image;
  return Image::Open(image_path, &image).ok() && kcr::NeedsNamespaces(*image);
}

// /proc/PID/timens_offsets' lines ("monotonic 12 345\n...") as the
// protocol's clocks= field ("monotonic:12:345,..."), which the agent checks
// and writes back as lines (restore_ids.h).
std::string ClocksField(const std::string& clock_offsets) {
  std::string field;
  for (char c : clock_offsets) {
    if (c == ' ')
      field += ':';
    else if (c == '\n')
      field += ',';
    else
      field += c;
  }
  while (!field.empty() && field.back() == ',')
    field.pop_back();
  return field;
}

// A multi-threaded program needs its own thread ids (glibc keeps them in
// its threads' memory), a tree its processes' ids, and a program saved on
// another boot its clocks: it is restored in namespaces of its own, below
// this task process, which stays the Slurm task. The task tells the agent
// the program's pid once it runs (the agent checkpoints that process from
// then on), waits, and ends as the program ends, so its exit code is the
// job's. Returns only when the program never ran.
Status RestoreWithIds(slurm::LineSocket& agent, const Candidate& c, RestartOptions options) {
  // Signals are passed on: some reach only the task (`scancel -b`,
  // `--signal=B:...`). Those proctrack sends to every process of the task
  // (scancel, the time limit) reach the program twice (docs/slurm.md).
  // This process changed its credentials (slurmstepd made it the user's),
  // so it and its children are not dumpable, and may not write their own
  // user namespace's id maps: the agent writes them (restore_ids.h).
  options.map_ids = [&](pid_t process, const std::string& clock_offsets) -> Status {
    slurm::Fields fields{{field::kPid, std::to_string(process)}};
    if (!clock_offsets.empty())
      fields.emplace_back(field::kClocks, ClocksField(clock_offsets));
    Status st = agent.Send(slurm::FormatMessage(verb::kMapIds, fields));
    std::optional<std::string> line;
    if (st.ok())
      st = agent.Receive(std::chrono::seconds(120), &line);
    if (!st.ok())
      return st.With("asking the agent to map the restore's user namespace");
    if (!line)
      return Status::Error(EPIPE, "the agent closed the connection");
    slurm::Message m = slurm::ParseMessage(*line);
    if (m.verb == verb::kMapped)
      return Status::Ok();
    return Status::Error(
        EPERM, "the agent did not map the restore's user namespace: " + m.Get(field::kReason));
  };
  options.restored = [&](pid_t program, const std::string& /*name*/, bool clocks_continued) {
    slurm::Fields fields{{field::kPid, std::to_string(program)}};
    if (clocks_continued)
      fields.emplace_back(field::kClocks, "continued");
    fields.emplace_back(field::kImage, c.image);  // last: it may hold spaces
    (void)agent.Send(slurm::FormatMessage(verb::kRestored, fields));
    // Nothing more to say: the task's connection is not kept for the
    // program's whole life (the agent serves a bounded number).
    agent = slurm::LineSocket();
    // What the task process is now, for whoever looks at the job's
    // processes (and pgrep finds only the program by its name).
    ::prctl(PR_SET_NAME, "kcr-task");
  };
  int status = 0;
  Status st = IsTreeImage(c.image) ? RestartTree(c.image, options, &status)
                                   : RestartWithIds(c.image, options, &status);
  if (!st.ok())
    return st;
  if (WIFSIGNALED(status)) {
    // Ended as the program did; never a core of this process, which holds
    // slurmstepd's memory.
    struct rlimit no_core {};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::signal(WTERMSIG(status), SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, WTERMSIG(status));
    ::sigprocmask(SIG_UNBLOCK, &one, nullptr);
    ::raise(WTERMSIG(status));
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

}  // namespace

void RestoreOrReturn(const RestoreContext& ctx) {
  if (!ctx.settings.restores())
    return;
  if (ctx.restart_count == 0 && ctx.settings.restart_from.kind != RestartFrom::Kind::kId)
    return;

  std::string path = slurm::SocketPath(ctx.spool_dir, ctx.job, ctx.step);
  slurm::LineSocket agent;
  // The agent thread starts with the step's first task and may not listen
  // yet when this task gets here: it is given a few seconds.
  Status st;
  for (int attempt = 0; attempt < 100; attempt++) {
    st = slurm::LineSocket::Connect(path, &agent);
    if (st.ok() || (st.code() != -ENOENT && st.code() != -ECONNREFUSED))
      break;
    ::usleep(50 * 1000);
  }
  if (!st.ok()) {
    Error(
        "task {}: cannot reach the step's checkpoint agent ({}); starting the program from the "
        "beginning",
        ctx.rank, st.message());
    return;
  }
  st = agent.Send(slurm::FormatMessage(verb::kRestorePlan,
                                       {{field::kTask, std::to_string(ctx.rank)},
                                        {field::kRestart, std::to_string(ctx.restart_count)}}));
  std::vector<Candidate> candidates;
  while (st.ok()) {
    std::optional<std::string> line;
    st = agent.Receive(std::chrono::seconds(120), &line);
    if (!st.ok())
      break;
    if (!line) {
      st = Status::Error(EPIPE, "the agent closed the connection");
      break;
    }
    slurm::Message m = slurm::ParseMessage(*line);
    if (m.verb == verb::kEnd)
      break;
    if (m.verb == verb::kCandidate) {
      candidates.push_back(
          {m.GetInt(field::kId).value_or(0), m.Get(field::kImage), m.Get(field::kTrigger)});
    }
  }
  if (!st.ok()) {
    Error("task {}: asking the agent what to restore: {}; starting the program from the beginning",
          ctx.rank, st.message());
    return;
  }
  if (candidates.empty())
    return;  // the agent logged why

  struct stat sock_before;
  ::fstat(agent.fd(), &sock_before);
  // Restart() may re-exec its caller to get a fresh address-space layout;
  // here the caller is slurmstepd's task child, which must never be re-run.
  ::setenv("KCR_RESTART_REEXEC", "99", 1);
  RestartOptions options;
  options.rollback_files = true;
  int tried = 0;
  for (const Candidate& c : candidates) {
    tried++;
    (void)agent.Send(slurm::FormatMessage(
        verb::kRestoreTry, {{field::kId, std::to_string(c.id)}, {field::kImage, c.image}}));
    Status r = CheckOwnImage(c.image);
    if (r.ok()) {
      r = IsTreeImage(c.image) || NeedsNamespaces(c.image)
              ? RestoreWithIds(agent, c, options)
              : Restart(c.image, options);  // returns only on failure
    }
    if (!SameFile(agent.fd(), sock_before)) {
      // Restart() had already replaced this process's descriptors: neither
      // the restore nor the original program can run any more.
      ::_exit(kBrokenRestoreExit);
    }
    bool corrupt = r.code() == -EBADMSG;
    (void)agent.Send(
        slurm::FormatMessage(verb::kRestoreFailed, {{field::kId, std::to_string(c.id)},
                                                    {field::kCorrupt, corrupt ? "1" : "0"},
                                                    {field::kReason, r.message()}}));
    if (r.code() == -ECANCELED) {
      // The job is being cancelled or preempted: no older image, and no
      // fresh start (which would empty the output a later restore needs).
      ::signal(SIGTERM, SIG_DFL);
      ::raise(SIGTERM);
      ::_exit(kBrokenRestoreExit);
    }
  }
  ::unsetenv("KCR_RESTART_REEXEC");
  EmptyOutputFiles();
  (void)agent.Send(slurm::FormatMessage(
      verb::kRestoreCold,
      {{field::kReason, fmt::format("none of the {} checkpoint{} could be restored", tried,
                                    tried > 1 ? "s" : "")}}));
}

}  // namespace kcr::spank
