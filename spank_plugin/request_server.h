// The agent's request socket: SPOOL/JOBID.STEP.sock, world-connectable, one
// connection per client. The server reads each caller's credentials from the
// kernel (SO_PEERCRED), decides who may ask what, parses the protocol of
// lib/slurm/slurm_request.h and calls one handler per verb; the handlers
// return plain data, which the server turns into answer lines.
//
//   checkpoint                    root and the job's owner
//   restore-plan, restore-try,    the step's own tasks (known by pid)
//   restore-failed, restore-cold
// Anyone else is answered `error` and hung up on.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <kcr/slurm_request.h>
#include <kcr/unique_fd.h>

namespace kcr::spank {

// Who is on the other end, from the kernel.
struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  std::optional<std::uint32_t> task;  // local id, when the peer is one of the step's tasks
};

// The answer to `restore-plan`.
struct PlanAnswer {
  struct Candidate {
    std::int64_t id = 0;
    std::string trigger;
    std::string image;
  };
  std::vector<Candidate> candidates;  // best first
  std::string note;                   // why there are none
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // `checkpoint`: every task now; one result per task.
  virtual std::vector<slurm::TaskResult> OnCheckpoint(const Peer& peer) = 0;
  // The rest come from task `local_id` of the step.
  virtual PlanAnswer OnRestorePlan(std::uint32_t local_id, std::int64_t restart) = 0;
  virtual void OnRestoreTry(std::uint32_t local_id, std::int64_t checkpoint,
                            const std::string& image) = 0;
  virtual void OnRestoreFailed(std::uint32_t local_id, std::int64_t checkpoint, bool image_corrupt,
                               const std::string& reason) = 0;
  virtual void OnRestoreCold(std::uint32_t local_id, const std::string& reason) = 0;
  // `map-ids`: write the id maps of `process`'s new user namespace, and
  // `clocks` (the clocks= field, when not empty) as the offsets of its new
  // time namespace.
  virtual Status OnMapIds(std::uint32_t local_id, pid_t process, const std::string& clocks) = 0;
  // `restored`: the task's program runs again as `program`, below the task;
  // `clocks_continued`: in a time namespace, its clocks continued from the
  // checkpoint (saved on another boot or node).
  virtual void OnRestored(std::uint32_t local_id, pid_t program, bool clocks_continued) = 0;
};

class RequestServer {
 public:
  // `task_of` names the step's task with a pid (nullopt for anyone else).
  RequestServer(std::uint32_t job, std::uint32_t step, uid_t owner,
                std::function<std::optional<std::uint32_t>(pid_t)> task_of,
                RequestHandler& handler);
  ~RequestServer() { Close(); }
  RequestServer(const RequestServer&) = delete;
  RequestServer& operator=(const RequestServer&) = delete;

  // Creates the spool directory and the socket; logs why not.
  bool Listen(const std::string& spool_dir);
  // The descriptors to wait on: the listener and every client.
  void AddPollFds(std::vector<pollfd>* fds) const;
  // Accepts new clients, reads what arrived, answers complete requests.
  void Serve();
  // Hangs up on every client and removes the socket.
  void Close();

 private:
  struct Client {
    slurm::LineSocket sock;
    Peer peer;
  };
  void Accept();
  // False when the connection is to be closed.
  bool Dispatch(Client& c, const std::string& line);

  std::uint32_t job_;
  std::uint32_t step_;
  uid_t owner_;
  std::function<std::optional<std::uint32_t>(pid_t)> task_of_;
  RequestHandler& handler_;
  UniqueFd listener_;
  std::string socket_path_;
  std::vector<Client> clients_;
};

}  // namespace kcr::spank
