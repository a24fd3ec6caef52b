#include <kcr/checkpoint.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stop_token>
#include <thread>
#include <vector>

#include <kcr/device.h>
#include <kcr/unique_fd.h>
#include <kcr/util/clock.h>
#include <kcr/util/status_format.h>
#include "callbacks.h"
#include "checkpoint_member.h"
#include "user_rights.h"

namespace kcr {

namespace {

uint64_t NowNs() {
  return util::MonotonicNs();
}

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

// An empty, private (0600) file beside the final image.
Status CreateTemp(const std::string& path, std::string* tmp_path, UniqueFd* fd) {
  std::string tmpl = path + ".tmp-XXXXXX";
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) {
    int e = errno;
    return Errorf(e, "cannot create the image in {}: {}{}", DirName(path), std::strerror(e),
                  e == EACCES ? "; fix: choose a directory you can write" : "");
  }
  fd->reset(raw);
  *tmp_path = tmpl;
  return Status::Ok();
}

// fsync the file, rename it into place, fsync the directory: durable and atomic.
Status Publish(int fd, const std::string& tmp_path, const std::string& path) {
  if (::fsync(fd) != 0)
    return SysError("syncing image {}", tmp_path);
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    return SysError("renaming {} to {}", tmp_path, path);
  }
  UniqueFd dir(::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid())
    ::fsync(dir.get());
  return Status::Ok();
}

Status IoctlError(int e, const kcr_checkpoint_args& args, pid_t pid) {
  std::string why = args.reason[0] ? std::string(args.reason) : std::strerror(e);
  std::string fix;
  if (e == ETIMEDOUT)
    fix = "; fix: resume it (kill -CONT) and retry";
  return Errorf(e, "cannot checkpoint process {}: {}{}", pid, why, fix);
}

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The ids on a /proc/PID/status line ("Uid:\treal\teffective\tsaved\tfs").
std::vector<unsigned> StatusIds(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string word;
  std::vector<unsigned> ids;
  while (in >> word) {
    if (word != key)
      continue;
    unsigned id;
    for (int i = 0; i < 4 && in >> id; i++)
      ids.push_back(id);
    break;
  }
  return ids;
}

// Why the kernel would not let this thread attach to pid: best effort, to
// name the cause; the kernel's own check decided.
std::string WhyNoAccess(pid_t pid) {
  uid_t me = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1)));
  std::string scope = ReadLine("/proc/sys/kernel/yama/ptrace_scope");
  if (scope == "3")
    return "kernel.yama.ptrace_scope is 3: no process may be attached to, not even by root";
  std::vector<unsigned> uids = StatusIds(pid, "Uid:");
  if (uids.size() >= 3 && (uids[0] != me || uids[1] != me || uids[2] != me))
    return fmt::format("it runs as uid {} (effective {}), you act as uid {}", uids[0], uids[1], me);
  // proc gives a non-dumpable process's files (not its directory) to root.
  struct stat st;
  if (::stat(("/proc/" + std::to_string(pid) + "/mem").c_str(), &st) == 0 && st.st_uid != me)
    return "it is not dumpable (a set-id program, or it called prctl(PR_SET_DUMPABLE, 0))";
  if (scope == "2")
    return "kernel.yama.ptrace_scope is 2: only CAP_SYS_PTRACE may attach";
  if (scope == "1")
    return "kernel.yama.ptrace_scope is 1: only its ancestors may attach; run kcr from the "
           "shell that started it, or ask root";
  return "a security module (AppArmor, SELinux, Landlock) or its capabilities forbid it";
}

// Proof for the module that this thread could attach to the process with
// ptrace: its /proc/PID/mem, whose open runs the kernel's full check.
Status OpenAccessProof(pid_t pid, UniqueFd* out) {
  std::string mem = "/proc/" + std::to_string(pid) + "/mem";
  out->reset(::open(mem.c_str(), O_RDONLY | O_CLOEXEC));
  if (out->valid())
    return Status::Ok();
  int e = errno;
  if (e == ENOENT)
    return Errorf(ESRCH, "cannot checkpoint process {}: no process {}", pid, pid);
  if (e == EACCES || e == EPERM) {
    return Errorf(EPERM,
                  "cannot checkpoint process {}: permission denied: only who may "
                  "attach to it with ptrace may checkpoint it, and {}",
                  pid, WhyNoAccess(pid));
  }
  return Errorf(e, "cannot checkpoint process {}: opening {}: {}", pid, mem, std::strerror(e));
}

// The image goes to the process's owner only when the module says that user
// may read it; otherwise it stays the caller's (mode 0600 from creation).
Status GiveImage(int fd, const kcr_checkpoint_args& args, const std::string& path) {
  struct stat st;
  if (!(args.result_flags & KCR_CKPT_OWNER_MAY_READ) || ::fstat(fd, &st) != 0)
    return Status::Ok();
  if (st.st_uid == args.target_uid && st.st_gid == args.target_gid)
    return Status::Ok();
  if (::geteuid() != 0)
    return Status::Ok();  // a user's own image of its own process
  if (::fchown(fd, args.target_uid, args.target_gid) != 0)
    return SysError("giving image {} to uid {}", path, args.target_uid);
  return Status::Ok();
}

Status ReadHeaderChecksum(int fd, uint64_t* sum) {
  kcr_image_header h;
  if (::pread(fd, &h, sizeof(h), 0) != static_cast<ssize_t>(sizeof(h))) {
    return SysError("reading back the image header");
  }
  *sum = h.checksum;
  return Status::Ok();
}

struct Written {
  kcr_checkpoint_args args{};
  std::string tmp_path;
  UniqueFd fd;
};

// A checkpoint refused before the module was asked is still the module's to
// log (the admin's one audit trail): it is asked without a proof, and refuses.
void LogRefusal(int device, pid_t pid) {
  kcr_checkpoint_args args{};
  args.size = sizeof(args);
  args.pid = pid;
  args.out_fd = -1;
  args.access_fd = -1;
  (void)::ioctl(device, KCR_IOC_CHECKPOINT, &args);
}

// Runs the ioctl on a fresh temporary file. *ret receives the ioctl's return.
Status RunCheckpointIoctl(int device, pid_t pid, uint32_t flags, const std::string& path,
                          const CheckpointOptions& options, Written* w, int* ret) {
  UniqueFd access;
  if (!(flags & KCR_CKPT_SELF)) {
    Status proof = OpenAccessProof(pid, &access);
    if (!proof.ok()) {
      LogRefusal(device, pid);
      return proof;
    }
  }
  KCR_RETURN_IF_ERROR(CreateTemp(path, &w->tmp_path, &w->fd));
  w->args.size = sizeof(w->args);
  w->args.pid = pid;
  w->args.out_fd = w->fd.get();
  w->args.access_fd = access.get();
  w->args.flags = flags;
  {
    std::jthread reporter;
    if (options.progress) {
      uint64_t total = EstimateImageBytes(pid);
      int fd = w->fd.get();
      reporter = std::jthread([fd, total, &options](std::stop_token stop) {
        while (!stop.stop_requested()) {
          struct stat st;
          if (::fstat(fd, &st) == 0)
            options.progress(static_cast<uint64_t>(st.st_size), total);
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      });
    }
    *ret = ::ioctl(device, KCR_IOC_CHECKPOINT, &w->args);
  }
  return Status::Ok();
}

// What the module reported about the checkpoint it wrote.
void FillFromModule(const kcr_checkpoint_args& args, CheckpointResult* r) {
  r->image_bytes = args.image_bytes;
  r->pages_saved = args.pages_saved;
  r->freeze_ns = args.freeze_ns;
  r->write_ns = args.write_ns;
  r->target_uid = args.target_uid;
  r->target_gid = args.target_gid;
  r->owner_may_read = args.result_flags & KCR_CKPT_OWNER_MAY_READ;
}

}  // namespace

uint64_t EstimateImageBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  uint64_t kb = 0, total = 0;
  while (status >> key) {
    if (key == "RssAnon:" || key == "RssShmem:") {
      status >> kb;
      total += kb * 1024;
    }
  }
  return total;
}

Status KillHeld(int hold_fd) {
  if (::ioctl(hold_fd, KCR_IOC_HOLD_KILL) != 0)
    return SysError("killing the held process");
  return Status::Ok();
}

Status Checkpoint(pid_t pid, const std::string& path, const CheckpointOptions& options,
                  CheckpointResult* result) {
  return CheckpointWithFlags(pid, path, options, 0, result);
}

Status CheckpointTreeMember(pid_t pid, const std::string& path, const CheckpointOptions& options,
                            UniqueFd* hold, CheckpointResult* result) {
  CheckpointOptions held = options;
  held.kill = false;
  held.stop = false;
  held.hold = hold;
  return CheckpointWithFlags(pid, path, held, KCR_CKPT_TREE, result);
}

Status CheckpointWithFlags(pid_t pid, const std::string& path, const CheckpointOptions& options,
                           uint32_t extra_flags, CheckpointResult* result) {
  if (int(options.kill) + int(options.stop) + int(options.hold != nullptr) > 1)
    return Status::Error(EINVAL, "a checkpoint may kill, stop or hold the process, only one");
  if (options.privileged && options.as_user) {
    return Status::Error(EINVAL,
                         "a checkpoint for a user applies that user's rule; it cannot be "
                         "privileged");
  }
  // The device with the caller's own rights (an admin may have restricted
  // it to root); everything else as the user it acts for, if any.
  UniqueFd device;
  KCR_RETURN_IF_ERROR(OpenDevice(&device));
  std::optional<ScopedUserRights> rights;
  if (options.as_user) {
    rights.emplace(options.as_user->uid, options.as_user->gid, options.as_user->groups);
    KCR_RETURN_IF_ERROR(rights->status());
  }
  // Killing is holding first: the process is killed only once its image is
  // published, so a checkpoint that fails late never costs it.
  const bool hold = options.kill || options.hold;
  uint32_t flags = hold ? KCR_CKPT_HOLD : options.stop ? KCR_CKPT_STOP : 0;
  if (options.privileged)
    flags |= KCR_CKPT_PRIVILEGED;
  flags |= extra_flags;
  Written w;
  int ret = 0;
  // EAGAIN: the process changed under the checkpoint (it started a new
  // program, or mapped memory as it was listed), as one a shell has just
  // forked does; nothing was saved and it runs on. A few fresh tries.
  // A retry that fails otherwise (the new program may not be the caller's to
  // checkpoint: a set-uid one) says what the first try ran into too.
  // An exec takes a while (its program is read before the old one goes),
  // so the tries wait longer each time: 2, 4, ... 128 ms, 254 ms in all.
  constexpr int kTries = 8;
  auto pause = std::chrono::milliseconds(2);
  std::string raced, raced_last;
  int tries = 0;
  auto with_race = [&](Status st) {
    if (raced.empty())
      return st;
    if (raced_last.empty() || raced_last == raced)
      return Errorf(-st.code(), "{} (an earlier try: {})", st.message(), raced);
    return Errorf(-st.code(), "{} ({} earlier tries; the first: {}; the last: {})", st.message(),
                  tries, raced, raced_last);
  };
  // The very process each try: its pid could be taken by another between tries.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  for (int attempt = 1;; attempt++) {
    if (attempt > 1 && pidfd.valid() &&
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) != 0 && errno == ESRCH) {
      return with_race(Errorf(ESRCH, "cannot checkpoint process {}: it has ended", pid));
    }
    Status run = RunCheckpointIoctl(device.get(), pid, flags, path, options, &w, &ret);
    if (!run.ok())
      return with_race(run);
    if (ret >= 0)
      break;
    int e = errno;
    ::unlink(w.tmp_path.c_str());
    Status refused = IoctlError(e, w.args, pid);
    if (e != EAGAIN || attempt == kTries)
      return with_race(refused);
    if (raced.empty())
      raced = refused.message();
    else
      raced_last = refused.message();
    tries = attempt;
    w = Written{};
    std::this_thread::sleep_for(pause);
    pause *= 2;
  }
  UniqueFd held(hold ? ret : -1);
  // The image could not be published: no checkpoint, and the process runs on.
  // A held one never notices; a stopped one gets a SIGCONT (a program that
  // handles SIGCONT sees it; its parent may see it stop and continue).
  auto abandon = [&](Status st) {
    ::unlink(w.tmp_path.c_str());
    if (options.stop)
      ::kill(pid, SIGCONT);
    held.reset();
    return st;
  };
  uint64_t t0 = NowNs();
  Status given = GiveImage(w.fd.get(), w.args, path);
  if (!given.ok())
    return abandon(given);
  CheckpointResult r;
  Status st = ReadHeaderChecksum(w.fd.get(), &r.header_checksum);
  if (st.ok())
    st = Publish(w.fd.get(), w.tmp_path, path);
  if (!st.ok())
    return abandon(st);
  if (options.kill) {
    // Killed through the hold and before it goes: the very process, which
    // never runs on.
    Status killed = KillHeld(held.get());
    held.reset();
    if (!killed.ok())
      return killed.With(fmt::format("image {} is complete, but process {} runs on", path, pid));
  }
  if (options.hold)
    *options.hold = std::move(held);
  FillFromModule(w.args, &r);
  r.sync_ns = NowNs() - t0;
  if (result)
    *result = r;
  return Status::Ok();
}

Status CheckpointSelf(const std::string& path, CheckpointResult* result, bool* restarted) {
  *restarted = false;
  KCR_RETURN_IF_ERROR(RunCallbacks(KCR_EVENT_BEFORE_CHECKPOINT));
  Written w;
  int ret = 0;
  UniqueFd device;
  Status st = OpenDevice(&device);
  if (st.ok())
    st = RunCheckpointIoctl(device.get(), ::getpid(), KCR_CKPT_SELF, path, {}, &w, &ret);
  if (!st.ok()) {
    (void)RunCallbacks(KCR_EVENT_AFTER_CONTINUE);
    return st;
  }
  if (ret == KCR_SELF_RESTARTED) {
    // Restored: the image and device descriptors were never part of the image,
    // so their numbers are free here; they must not be closed again.
    (void)w.fd.release();
    (void)device.release();
    *restarted = true;
    (void)RunCallbacks(KCR_EVENT_AFTER_RESTART);
    return Status::Ok();
  }
  if (ret != 0) {
    int e = errno;
    ::unlink(w.tmp_path.c_str());
    (void)RunCallbacks(KCR_EVENT_AFTER_CONTINUE);
    return IoctlError(e, w.args, ::getpid());
  }
  CheckpointResult r;
  st = ReadHeaderChecksum(w.fd.get(), &r.header_checksum);
  if (st.ok())
    st = Publish(w.fd.get(), w.tmp_path, path);
  if (!st.ok())
    ::unlink(w.tmp_path.c_str());
  FillFromModule(w.args, &r);
  if (result)
    *result = r;
  (void)RunCallbacks(KCR_EVENT_AFTER_CONTINUE);
  return st;
}

}  // namespace kcr
