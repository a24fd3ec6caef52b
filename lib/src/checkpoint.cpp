#include "checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stop_token>
#include <thread>

#include "callbacks.h"
#include "device.h"
#include "unique_fd.h"

namespace kcr {

namespace {

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
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
    return Status::Errorf(e, "cannot create the image in {}: {}{}", DirName(path), std::strerror(e),
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
  if (e == EPERM)
    fix = "; fix: run as root or as the process's owner";
  if (e == ETIMEDOUT)
    fix = "; fix: resume it (kill -CONT) and retry";
  return Status::Errorf(e, "cannot checkpoint process {}: {}{}", pid, why, fix);
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

// Runs the ioctl on a fresh temporary file. *ret receives the ioctl's return.
Status RunCheckpointIoctl(pid_t pid, uint32_t flags, const std::string& path,
                          const CheckpointOptions& options, Written* w, int* ret) {
  UniqueFd device;
  KCR_RETURN_IF_ERROR(OpenDevice(&device));
  KCR_RETURN_IF_ERROR(CreateTemp(path, &w->tmp_path, &w->fd));
  w->args.size = sizeof(w->args);
  w->args.pid = pid;
  w->args.out_fd = w->fd.get();
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
    *ret = ::ioctl(device.get(), KCR_IOC_CHECKPOINT, &w->args);
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
  if (int(options.kill) + int(options.stop) + int(options.hold != nullptr) > 1)
    return Status::Error(EINVAL, "a checkpoint may kill, stop or hold the process, only one");
  // Killing is holding first: the process is killed only once its image is
  // published, so a checkpoint that fails late never costs it.
  const bool hold = options.kill || options.hold;
  uint32_t flags = hold ? KCR_CKPT_HOLD : options.stop ? KCR_CKPT_STOP : 0;
  Written w;
  int ret = 0;
  KCR_RETURN_IF_ERROR(RunCheckpointIoctl(pid, flags, path, options, &w, &ret));
  if (ret < 0) {
    int e = errno;
    ::unlink(w.tmp_path.c_str());
    return IoctlError(e, w.args, pid);
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
  // Images belong to the process's owner, even when root took them.
  if (::geteuid() == 0 && ::fchown(w.fd.get(), w.args.target_uid, w.args.target_gid) != 0)
    return abandon(SysError("giving image {} to uid {}", path, w.args.target_uid));
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
  Status st = RunCheckpointIoctl(::getpid(), KCR_CKPT_SELF, path, {}, &w, &ret);
  if (!st.ok()) {
    (void)RunCallbacks(KCR_EVENT_AFTER_CONTINUE);
    return st;
  }
  if (ret == KCR_SELF_RESTARTED) {
    // Restored: the image and device descriptors were never part of the image,
    // so their numbers are free here; they must not be closed again.
    (void)w.fd.release();
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
