// The Slurm agents' request protocol, and its client for on-demand
// checkpoints (`kcr checkpoint --job JOBID[.STEP]`).
//
// Each step's agent (inside slurmstepd, spank_plugin/agent.h) listens on a
// unix socket SPOOL/JOBID.STEP.sock (SPOOL is the plugin's spool= argument,
// /run/kcr by default). The socket is world-connectable; the agent reads the
// caller's credentials from the kernel (SO_PEERCRED). A message is one line:
// a verb, then key=value fields (the last field may hold spaces). Every verb
// and field name is a constant below.
//
// On-demand checkpoint, from root or the job's owner:
//
//   -> checkpoint
//   <- ok task=0 id=17 bytes=5251072 ms=41 image=/var/spool/kcr/alice/42/42.0.0.r0.3-manual.kcr
//   <- failed task=1 id=18 reason=process tree: task 1 (pid 812) has child processes 813 (sleep)
//   <- done ok=1 failed=1
//
// The restore conversation, from a task of the step itself (the agent knows
// its tasks by pid), in slurm_spank_task_init of a requeued job
// (spank_plugin/restore.h):
//
//   -> restore-plan task=0 restart=1
//   <- candidate id=21 trigger=preempt image=/var/spool/kcr/alice/42/42.batch.0.r0.5-preempt.kcr
//   <- candidate id=17 trigger=periodic image=...     best first, then the fallbacks
//   <- end reason=                                     (no candidate: reason says why)
//   -> restore-try id=21 image=...                     just before kcr::Restart()
//   -> restore-failed id=21 corrupt=1 reason=...       Restart() returned: nothing changed
//   -> restore-try id=17 image=...
//   (the task hangs up: its descriptors were replaced by the program's)
//   -> map-ids pid=4710                                a multi-threaded image: the task's
//   <- mapped   (or: failed reason=...)                child made a user namespace for its
//                                                      pid namespace; the agent writes its
//                                                      id maps (the task's own ids only)
//   -> restored pid=4711 image=...                     a multi-threaded program runs
//                                                      again, in its own pid namespace
//                                                      below the task (pid as the agent
//                                                      sees it); the task waits for it
//   -> restore-cold reason=...                         every candidate failed; it starts afresh
//
// After a restore-try the agent decides the outcome by one rule
// (spank_plugin/restore_outcome.h, docs/slurm.md).
//
// A request that is refused gets `error reason=...` and the connection is
// closed. This library needs nothing of Slurm, so the kcr command line can
// link it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kcr/status.h>

namespace kcr::slurm {

inline constexpr std::string_view kDefaultSpoolDir = "/run/kcr";

// The verbs of the protocol: requests (->) and answers (<-).
namespace verb {
// -> checkpoint every task now; <- one ok or failed per task, then done.
inline constexpr std::string_view kCheckpoint = "checkpoint";
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kFailed = "failed";
inline constexpr std::string_view kDone = "done";
// <- the request is refused (then the connection is closed).
inline constexpr std::string_view kError = "error";
// -> which images to try; <- one candidate each, best first, then end.
inline constexpr std::string_view kRestorePlan = "restore-plan";
inline constexpr std::string_view kCandidate = "candidate";
inline constexpr std::string_view kEnd = "end";
// -> restoring this image now; it failed and nothing changed; starting afresh.
inline constexpr std::string_view kRestoreTry = "restore-try";
inline constexpr std::string_view kRestoreFailed = "restore-failed";
inline constexpr std::string_view kRestoreCold = "restore-cold";
// -> write the id maps of the task's child's new user namespace (and the
// offsets of its new time namespace, with clocks=); <- mapped or failed.
inline constexpr std::string_view kMapIds = "map-ids";
inline constexpr std::string_view kMapped = "mapped";
// -> the program restored below the task runs again: its pid.
inline constexpr std::string_view kRestored = "restored";
}  // namespace verb

// The fields of the protocol's lines. A reason or an image is always last
// and may hold spaces.
namespace field {
inline constexpr std::string_view kTask = "task";        // task rank in the step
inline constexpr std::string_view kId = "id";            // catalog checkpoint id
inline constexpr std::string_view kBytes = "bytes";      // image size
inline constexpr std::string_view kMs = "ms";            // checkpoint time
inline constexpr std::string_view kImage = "image";      // image path
inline constexpr std::string_view kReason = "reason";    // a sentence
inline constexpr std::string_view kTrigger = "trigger";  // what took the checkpoint
inline constexpr std::string_view kRestart = "restart";  // the restart count the task knows
inline constexpr std::string_view kPid = "pid";          // a process id, as the agent sees it
inline constexpr std::string_view kCorrupt = "corrupt";  // "1": the image failed its checksums
// map-ids: a time namespace's offsets, "monotonic:SEC:NSEC,boottime:SEC:NSEC";
// restored: "continued" when the program's clocks continue from the checkpoint
inline constexpr std::string_view kClocks = "clocks";
inline constexpr std::string_view kOkCount = "ok";          // done: tasks checkpointed
inline constexpr std::string_view kFailedCount = "failed";  // done: tasks not checkpointed
}  // namespace field

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

// A line of the protocol: "verb key=value key=value ...", where a reason or
// an image (always last) takes the rest of the line.
struct Message {
  std::string verb;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string Get(std::string_view key) const;
  std::optional<std::int64_t> GetInt(std::string_view key) const;
};
Message ParseMessage(std::string_view line);
// Joins fields; a value with spaces is allowed only in the last field.
// Keys are the field constants above; values are copied into the line.
using Fields = std::vector<std::pair<std::string_view, std::string>>;
std::string FormatMessage(std::string_view verb, const Fields& fields);

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
