#include "request_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dirs.h"
#include "kcr/catalog/records.h"
#include "kcr/catalog/state.h"
#include "log.h"

namespace kcr::spank {

namespace {

namespace verb = slurm::verb;
namespace field = slurm::field;

constexpr size_t kMaxClients = 64;

}  // namespace

RequestServer::RequestServer(std::uint32_t job, std::uint32_t step, uid_t owner,
                             std::function<std::optional<std::uint32_t>(pid_t)> task_of,
                             RequestHandler& handler)
    : job_(job), step_(step), owner_(owner), task_of_(std::move(task_of)), handler_(handler) {}

void RequestServer::Close() {
  clients_.clear();
  listener_.reset();
  if (!socket_path_.empty())
    ::unlink(socket_path_.c_str());
  socket_path_.clear();
}

bool RequestServer::Listen(const std::string& spool_dir) {
  const std::string step = catalog::StepName(step_);
  if (Status st = MakeDirs(spool_dir, 0755); !st.ok()) {
    Error("step {}: no request socket ({}); on-demand checkpoints and restores are unavailable",
          step, st.message());
    return false;
  }
  const std::string path = slurm::SocketPath(spool_dir, job_, step_);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    Error("step {}: socket path {} too long", step, path);
    return false;
  }
  // Bound under a temporary name and renamed once connectable by everyone:
  // a task asking for its restore must never find the socket with the
  // umask's mode (EACCES) in between.
  const std::string tmp = fmt::format("{}.tmp{}", path, ::getpid());
  std::memcpy(addr.sun_path, tmp.c_str(), tmp.size() + 1);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ::unlink(tmp.c_str());
  if (!s.valid() || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::chmod(tmp.c_str(), 0666) != 0 || ::listen(s.get(), 64) != 0 ||
      ::rename(tmp.c_str(), path.c_str()) != 0) {
    Error("step {}: cannot listen on {}: {}; on-demand checkpoints and restores are unavailable",
          step, path, std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  listener_ = std::move(s);
  socket_path_ = path;
  return true;
}

void RequestServer::AddPollFds(std::vector<pollfd>* fds) const {
  if (listener_.valid())
    fds->push_back({listener_.get(), POLLIN, 0});
  for (const Client& c : clients_)
    fds->push_back({c.sock.fd(), POLLIN, 0});
}

void RequestServer::Serve() {
  if (listener_.valid())
    Accept();
  for (size_t i = 0; i < clients_.size();) {
    std::vector<std::string> lines;
    // Lines that arrived with the hang-up still count: a restoring task
    // sends restore-try and has its descriptors replaced moments later.
    const bool connected = clients_[i].sock.Pump(&lines);
    bool served = true;
    for (const std::string& line : lines) {
      if (served && !Dispatch(clients_[i], line))
        served = false;
    }
    if (connected && served)
      i++;
    else
      clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void RequestServer::Accept() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      return;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(fd);
      continue;
    }
    // Other users may connect (to be told no) but must not crowd out the
    // job's owner, root and the job's own tasks: at the limit a stranger's
    // connection makes way.
    auto stranger = [&](uid_t uid) { return uid != 0 && uid != owner_; };
    if (clients_.size() >= kMaxClients) {
      auto victim = std::find_if(clients_.begin(), clients_.end(),
                                 [&](const Client& c) { return stranger(c.peer.uid); });
      if (stranger(cred.uid) || victim == clients_.end()) {
        ::close(fd);
        continue;
      }
      clients_.erase(victim);
    }
    Client c;
    c.sock = slurm::LineSocket(fd);
    c.peer = {cred.pid, cred.uid, task_of_(cred.pid)};
    clients_.push_back(std::move(c));
  }
}

bool RequestServer::Dispatch(Client& c, const std::string& line) {
  const slurm::Message m = slurm::ParseMessage(line);
  auto reply = [&](std::string_view v, const slurm::Fields& f) {
    (void)c.sock.Send(slurm::FormatMessage(v, f));
  };
  if (m.verb == verb::kCheckpoint) {
    if (c.peer.uid != 0 && c.peer.uid != owner_) {
      reply(verb::kError,
            {{field::kReason, fmt::format("permission denied: uid {} may not "
                                          "checkpoint job {} (only its owner and root)",
                                          c.peer.uid, job_)}});
      return false;
    }
    int ok = 0, failed = 0;
    for (const slurm::TaskResult& r : handler_.OnCheckpoint(c.peer)) {
      if (r.ok) {
        ok++;
        reply(verb::kOk, {{field::kTask, std::to_string(r.task)},
                          {field::kId, std::to_string(r.checkpoint_id)},
                          {field::kBytes, std::to_string(r.bytes)},
                          {field::kMs, std::to_string(r.ms)},
                          {field::kImage, r.image}});
      } else {
        failed++;
        reply(verb::kFailed, {{field::kTask, std::to_string(r.task)},
                              {field::kId, std::to_string(r.checkpoint_id)},
                              {field::kReason, r.reason}});
      }
    }
    reply(verb::kDone,
          {{field::kOkCount, std::to_string(ok)}, {field::kFailedCount, std::to_string(failed)}});
    return true;
  }
  // Everything else comes from the step's own tasks, about their restore.
  const bool restore_verb = m.verb == verb::kRestorePlan || m.verb == verb::kRestoreTry ||
                            m.verb == verb::kRestoreFailed || m.verb == verb::kRestoreCold ||
                            m.verb == verb::kRestored || m.verb == verb::kMapIds;
  if (!restore_verb || !c.peer.task) {
    reply(verb::kError, {{field::kReason, fmt::format("unknown request '{}'", m.verb)}});
    return false;
  }
  const std::uint32_t task = *c.peer.task;
  if (m.verb == verb::kRestorePlan) {
    PlanAnswer plan = handler_.OnRestorePlan(task, m.GetInt(field::kRestart).value_or(0));
    for (const auto& candidate : plan.candidates) {
      reply(verb::kCandidate, {{field::kId, std::to_string(candidate.id)},
                               {field::kTrigger, candidate.trigger},
                               {field::kImage, candidate.image}});
    }
    reply(verb::kEnd, {{field::kReason, plan.note}});
  } else if (m.verb == verb::kRestoreTry) {
    handler_.OnRestoreTry(task, m.GetInt(field::kId).value_or(0), m.Get(field::kImage));
  } else if (m.verb == verb::kRestoreFailed) {
    handler_.OnRestoreFailed(task, m.GetInt(field::kId).value_or(0), m.Get(field::kCorrupt) == "1",
                             m.Get(field::kReason));
  } else if (m.verb == verb::kMapIds) {
    Status st = handler_.OnMapIds(task, static_cast<pid_t>(m.GetInt(field::kPid).value_or(0)),
                                  m.Get(field::kClocks));
    if (st.ok())
      reply(verb::kMapped, {});
    else
      reply(verb::kFailed, {{field::kReason, st.message()}});
  } else if (m.verb == verb::kRestored) {
    handler_.OnRestored(task, static_cast<pid_t>(m.GetInt(field::kPid).value_or(0)),
                        m.Get(field::kClocks) == "continued");
  } else {
    handler_.OnRestoreCold(task, m.Get(field::kReason));
  }
  return true;
}

}  // namespace kcr::spank
