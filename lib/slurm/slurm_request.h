// On-demand checkpoints of Slurm job steps: `kcr checkpoint --job JOBID[.STEP]`.
//
// Each step's agent (inside slurmstepd, see agent.h) listens on a unix socket
// SPOOL/JOBID.STEP.sock (SPOOL is the plugin's spool= argument, /run/kcr by
// default). The socket is world-connectable; the agent reads the caller's
// credentials from the kernel (SO_PEERCRED) and serves root and the job's
// owner only. One request is one line, each answer line says one thing:
//
//   -> checkpoint
//   <- ok task=0 id=17 bytes=5251072 ms=41 image=/var/spool/kcr/alice/42/42.0.0.r0.3-manual.kcr
//   <- failed task=1 reason=process tree: task 1 (pid 812) has child processes 813 (sleep)
//   <- done ok=1 failed=1
//
// (and `error reason=...` when the request itself is refused). The protocol
// is described in docs/slurm.md. This library needs nothing of Slurm, so the
// kcr command line can link it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace kcr::slurm {

inline constexpr std::string_view kDefaultSpoolDir = "/run/kcr";

struct JobStep {
  std::uint32_t job = 0;
  std::optional<std::uint32_t> step;  // absent: every step of the job on this node
};

// "42", "42.0", "42.batch"; nullopt for anything else.
std::optional<JobStep> ParseJobStep(std::string_view text);
// SPOOL/42.batch.sock, SPOOL/42.0.sock
std::string SocketPath(std::string_view spool_dir, std::uint32_t job, std::uint32_t step);

// One task's answer.
struct TaskResult {
  std::uint32_t job = 0;
  std::uint32_t step = 0;
  std::uint32_t task = 0;
  bool ok = false;
  std::int64_t checkpoint_id = 0;  // catalog row, when ok
  std::uint64_t bytes = 0;
  std::uint64_t ms = 0;
  std::string image;
  std::string reason;  // when not ok
};

// Asks the agents of the job's steps on this node to checkpoint every task
// now, waits up to `timeout` for each, and returns what every task did.
// Fails (without results) when no agent of the job runs here or one refuses
// the caller; a task that could not be checkpointed is a result with ok=false.
Status RequestCheckpoint(std::string_view spool_dir, const JobStep& target,
                         std::chrono::seconds timeout, std::vector<TaskResult>* results);

// A line of the protocol: "word key=value key=value ...", where the last
// key named in `rest_keys` takes the rest of the line (paths, reasons).
struct Message {
  std::string verb;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string Get(std::string_view key) const;
  std::optional<std::int64_t> GetInt(std::string_view key) const;
};
Message ParseMessage(std::string_view line);
// Joins fields; a value with spaces is allowed only in the last field.
std::string FormatMessage(std::string_view verb,
                          const std::vector<std::pair<std::string, std::string>>& fields);

// Blocking line I/O on a stream socket with a deadline.
class LineSocket {
 public:
  explicit LineSocket(int fd = -1) : fd_(fd) {}
  LineSocket(LineSocket&& o) noexcept;
  LineSocket& operator=(LineSocket&& o) noexcept;
  LineSocket(const LineSocket&) = delete;
  LineSocket& operator=(const LineSocket&) = delete;
  ~LineSocket();

  static Status Connect(const std::string& path, LineSocket* out);
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  Status Send(std::string_view line);
  // nullopt on end of file; error on timeout or failure.
  Status Receive(std::chrono::milliseconds timeout, std::optional<std::string>* line);
  // Reads what is available without blocking; complete lines go to *lines.
  // Returns false at end of file or on error.
  bool Pump(std::vector<std::string>* lines);

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace kcr::slurm

// The same for C callers. Writes one line per task ("42.0 task 0: ok id=17
// ...") into `out` (truncated to out_len) and returns 0 when every task was
// checkpointed, 1 when some could not be, and a negative errno when the
// request failed (the message is then in `out`).
extern "C" int kcr_spank_request_checkpoint(const char* job_step, const char* spool_dir,
                                            int timeout_seconds, char* out, std::size_t out_len);
