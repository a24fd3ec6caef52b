#include "restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include <kcr/restart.h>
#include <kcr/slurm_request.h>
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
    Status r = Restart(c.image, options);  // returns only on failure
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
  }
  ::unsetenv("KCR_RESTART_REEXEC");
  EmptyOutputFiles();
  (void)agent.Send(slurm::FormatMessage(
      verb::kRestoreCold,
      {{field::kReason, fmt::format("none of the {} checkpoint{} could be restored", tried,
                                    tried > 1 ? "s" : "")}}));
}

}  // namespace kcr::spank
