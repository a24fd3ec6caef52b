#include "restore_files.h"
#include <kcr/util/status_format.h>

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace kcr {

namespace {

// Flags that make sense to open(2) again; creation flags would destroy data.
constexpr int kReopenFlags = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_DIRECT | O_LARGEFILE |
                             O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_SYNC;

// A program's own /proc files (/proc/self/... opened at the checkpoint) are
// recorded under its pid then. After a restore the same files are the
// restored program's: this process is the program, under the saved pid or
// another, so they reopen as /proc/self/... . Other /proc/PID paths name
// other processes and are left alone.
std::string PathNow(const Image& image, const std::string& path) {
  const std::string own = fmt::format("/proc/{}/", image.header().pid);
  if (path.compare(0, own.size(), own) != 0)
    return path;
  std::string rest = path.substr(own.size());
  const std::string own_task = fmt::format("task/{}/", image.header().pid);
  if (rest.compare(0, own_task.size(), own_task) == 0)
    rest = fmt::format("task/{}/{}", ::getpid(), rest.substr(own_task.size()));
  return "/proc/self/" + rest;
}

bool Writable(const kcr_fd& f) {
  return (f.f_flags & O_ACCMODE) != O_RDONLY;
}

const char* FileType(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "regular file";
    case S_IFDIR:
      return "directory";
    case S_IFIFO:
      return "FIFO";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
    case S_IFSOCK:
      return "socket";
    case S_IFLNK:
      return "symbolic link";
  }
  return "file of unknown type";
}

std::string StripDeleted(const std::string& path) {
  static const std::string kSuffix = " (deleted)";
  if (path.size() > kSuffix.size() &&
      path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    return path.substr(0, path.size() - kSuffix.size());
  }
  return path;
}

// A deleted-but-open file comes back as an unnamed file with its old contents.
Status RecreateGhost(const FdRecord& rec, const GhostRecord& ghost, UniqueFd* out) {
  std::string dir = StripDeleted(rec.path);
  dir = dir.substr(0, std::max<size_t>(1, dir.rfind('/')));
  mode_t mode = ghost.ghost.mode & 07777;
  UniqueFd tmp(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode));
  if (!tmp.valid()) {
    // No O_TMPFILE here (overlayfs, some network filesystems): a named file,
    // unlinked at once, is the same thing.
    std::string name = dir + "/.kcr-ghost-XXXXXX";
    tmp.reset(::mkostemp(name.data(), O_CLOEXEC));
    if (tmp.valid()) {
      ::unlink(name.c_str());
      ::fchmod(tmp.get(), mode);
    }
  }
  if (!tmp.valid()) {
    return SysError("recreating deleted file {} (fd {})", rec.path, rec.fd.fd);
  }
  size_t off = 0;
  while (off < ghost.contents.size()) {
    ssize_t n = ::write(tmp.get(), ghost.contents.data() + off, ghost.contents.size() - off);
    if (n <= 0)
      return SysError("writing deleted file {} back", rec.path);
    off += static_cast<size_t>(n);
  }
  // Reopen with the program's own flags (append, read-only, ...).
  std::string self = "/proc/self/fd/" + std::to_string(tmp.get());
  out->reset(::open(self.c_str(), (static_cast<int>(rec.fd.f_flags) & kReopenFlags) | O_CLOEXEC));
  if (!out->valid())
    return SysError("reopening recreated file {}", rec.path);
  return Status::Ok();
}

// A memfd comes back with its name, contents and seals; sealing is always
// allowed at first, and F_SEAL_SEAL, if it was there, ends it again.
Status MakeMemfd(const MemfdRecord& m, UniqueFd* out) {
  out->reset(::memfd_create(m.name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!out->valid())
    return SysError("making memfd {} again", m.name);
  size_t off = 0;
  while (off < m.contents.size()) {
    ssize_t n = ::pwrite(out->get(), m.contents.data() + off, m.contents.size() - off,
                         static_cast<off_t>(off));
    if (n <= 0)
      return SysError("writing memfd {} back", m.name);
    off += static_cast<size_t>(n);
  }
  if (::ftruncate(out->get(), static_cast<off_t>(m.memfd.size)) != 0)
    return SysError("sizing memfd {}", m.name);
  if (m.memfd.seals && ::fcntl(out->get(), F_ADD_SEALS, m.memfd.seals) != 0)
    return SysError("sealing memfd {} again (seals {:#x})", m.name, m.memfd.seals);
  return Status::Ok();
}

// An fd of a memfd: its own open file of the memfd made again, with the
// program's flags (its offset is set by the caller).
Status OpenMemfd(const FdRecord& rec, const std::vector<UniqueFd>& memfds, UniqueFd* out) {
  if (rec.fd.ghost_id >= memfds.size())
    return Errorf(EINVAL, "fd {} is a memfd that was not made again", rec.fd.fd);
  std::string self = "/proc/self/fd/" + std::to_string(memfds[rec.fd.ghost_id].get());
  out->reset(::open(self.c_str(), (static_cast<int>(rec.fd.f_flags) & kReopenFlags) | O_CLOEXEC));
  if (!out->valid())
    return SysError("reopening memfd of fd {}", rec.fd.fd);
  return Status::Ok();
}

Status OpenOne(const Image& image, const FdRecord& rec, const std::vector<UniqueFd>& memfds,
               UniqueFd* out) {
  const kcr_fd& f = rec.fd;
  switch (f.kind) {
    case KCR_FD_DEVNULL:
      out->reset(::open("/dev/null", (static_cast<int>(f.f_flags) & O_ACCMODE) | O_CLOEXEC));
      break;
    case KCR_FD_DEVZERO:
      out->reset(::open("/dev/zero", (static_cast<int>(f.f_flags) & O_ACCMODE) | O_CLOEXEC));
      break;
    case KCR_FD_GHOST:
      KCR_RETURN_IF_ERROR(RecreateGhost(rec, image.ghosts()[f.ghost_id], out));
      break;
    case KCR_FD_MEMFD:
      KCR_RETURN_IF_ERROR(OpenMemfd(rec, memfds, out));
      break;
    case KCR_FD_REG: {
      const std::string path = PathNow(image, rec.path);
      // What is at the path now is opened without blocking (a FIFO) or
      // becoming our terminal (a tty) and must be what the program had.
      int flags = static_cast<int>(f.f_flags) & kReopenFlags;
      out->reset(::open(path.c_str(), flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
      if (!out->valid())
        break;
      struct stat st;
      if (::fstat(out->get(), &st) != 0 || (st.st_mode & S_IFMT) != (f.mode & S_IFMT)) {
        return Errorf(ESTALE, "file {} (fd {}) is no longer the kind of file it was", rec.path,
                      f.fd);
      }
      if (!(flags & O_NONBLOCK) && ::fcntl(out->get(), F_SETFL, flags & ~O_ACCMODE) != 0)
        return SysError("restoring the flags of fd {} ({})", f.fd, rec.path);
      break;
    }
    default:
      return Errorf(EINVAL, "unknown kind {} of fd {}", f.kind, f.fd);
  }
  if (!out->valid())
    return SysError("reopening fd {} ({})", f.fd, rec.path);
  if ((f.kind == KCR_FD_REG || f.kind == KCR_FD_GHOST || f.kind == KCR_FD_MEMFD) &&
      ::lseek(out->get(), static_cast<off_t>(f.pos), SEEK_SET) < 0) {
    return SysError("seeking {} to offset {}", rec.path, f.pos);
  }
  return Status::Ok();
}

// File locks. Those of an open file (flock, OFD) are taken again as the
// files are opened, before anything of the caller changes, so another
// process holding a conflicting lock now refuses the restore. POSIX locks
// belong to the process and go with any close of the file, which placing
// the descriptors does: they are only probed then, and taken once every
// descriptor is in place.
const char* LockKind(uint32_t kind) {
  return kind == KCR_LOCK_FLOCK ? "flock" : kind == KCR_LOCK_OFD ? "OFD" : "POSIX";
}

struct flock RangeOf(const kcr_file_lock& l) {
  struct flock fl {};
  fl.l_type = l.type == KCR_LOCK_WRITE ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(l.start);
  fl.l_len = static_cast<off_t>(l.len);
  return fl;
}

std::string PathOf(const Image& image, int fd) {
  for (const FdRecord& rec : image.fds()) {
    if (rec.fd.fd == fd)
      return rec.path;
  }
  return "?";
}

Status LockConflict(const Image& image, const kcr_file_lock& l, pid_t holder) {
  return Errorf(EBUSY,
                "file {} (fd {}): {} holds a lock that conflicts with the program's {} {} lock "
                "now, so it cannot be taken again; fix: end that process, or restore later",
                PathOf(image, l.fd), l.fd,
                holder > 0 ? fmt::format("process {}", holder) : std::string("another process"),
                LockKind(l.kind), l.type == KCR_LOCK_WRITE ? "write" : "read");
}

Status TakeOpenFileLocks(const Image& image, const OpenedFiles& opened) {
  for (const kcr_file_lock& l : image.locks()) {
    auto it = std::find_if(opened.by_target.begin(), opened.by_target.end(),
                           [&](const auto& o) { return o.first == l.fd; });
    if (it == opened.by_target.end())
      return Errorf(EBADMSG, "a file lock names fd {}, which is not opened", l.fd);
    const int fd = it->second.get();
    struct flock fl = RangeOf(l);
    int rc;
    if (l.kind == KCR_LOCK_FLOCK) {
      rc = ::flock(fd, (l.type == KCR_LOCK_WRITE ? LOCK_EX : LOCK_SH) | LOCK_NB);
    } else if (l.kind == KCR_LOCK_OFD) {
      rc = ::fcntl(fd, F_OFD_SETLK, &fl);
    } else {
      // Probed only: who would hold a conflicting lock (this process holds none).
      rc = ::fcntl(fd, F_OFD_GETLK, &fl);
      if (rc == 0 && fl.l_type != F_UNLCK)
        return LockConflict(image, l, fl.l_pid);
      continue;
    }
    if (rc != 0 && (errno == EWOULDBLOCK || errno == EAGAIN || errno == EACCES)) {
      struct flock probe = RangeOf(l);
      pid_t holder =
          l.kind == KCR_LOCK_OFD && ::fcntl(fd, F_OFD_GETLK, &probe) == 0 ? probe.l_pid : 0;
      return LockConflict(image, l, holder);
    }
    if (rc != 0)
      return SysError("taking the {} lock of fd {} again", LockKind(l.kind), l.fd);
  }
  return Status::Ok();
}

}  // namespace

namespace {

uint64_t SizeAtCheckpoint(const FdRecord& rec, const ProvidedFiles* provided) {
  if (provided) {
    auto it = provided->sizes.find(rec.path);
    if (it != provided->sizes.end())
      return std::max<uint64_t>(it->second, rec.fd.size);
  }
  return rec.fd.size;
}

}  // namespace

Status CheckFiles(const Image& image, bool rollback_files, const ProvidedFiles* provided) {
  for (const FdRecord& rec : image.fds()) {
    const kcr_fd& f = rec.fd;
    if (f.fd < 0 || f.fd > 1 << 20)
      return Errorf(EBADMSG, "bad fd number {}", f.fd);
    if (f.kind != KCR_FD_REG)
      continue;
    struct stat st;
    if (::stat(PathNow(image, rec.path).c_str(), &st) != 0) {
      int e = errno;
      return Errorf(e, "file {} (fd {}) cannot be reopened: {}", rec.path, f.fd, std::strerror(e));
    }
    if ((st.st_mode & S_IFMT) != (f.mode & S_IFMT)) {
      return Errorf(ESTALE,
                    "file {} (fd {}) was a {} at the checkpoint and is a {} now; it "
                    "cannot be the program's file",
                    rec.path, f.fd, FileType(f.mode), FileType(st.st_mode));
    }
    if (!S_ISREG(st.st_mode) || !Writable(f))
      continue;
    auto now = static_cast<uint64_t>(st.st_size);
    const uint64_t size = SizeAtCheckpoint(rec, provided);
    if (now > size && !rollback_files) {
      return Errorf(EEXIST,
                    "file {} (fd {}) grew from {} to {} bytes since the checkpoint; "
                    "restoring would duplicate that output; fix: --rollback-files to "
                    "truncate it back to {} bytes",
                    rec.path, f.fd, size, now, size);
    }
    if (now < size) {
      return Errorf(ESTALE,
                    "file {} (fd {}) shrank from {} to {} bytes since the "
                    "checkpoint; the program's data in it is gone",
                    rec.path, f.fd, size, now);
    }
  }
  struct stat st;
  if (::stat(image.cwd().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Errorf(ENOENT, "working directory {} no longer exists", image.cwd());
  }
  return Status::Ok();
}

namespace {

bool Inherited(const FdRecord& rec, const ProvidedFiles* provided) {
  return rec.fd.kind == KCR_FD_INHERIT ||
         (provided && std::find(provided->inherited.begin(), provided->inherited.end(),
                                rec.fd.fd) != provided->inherited.end());
}

const int* ProvidedFd(const FdRecord& rec, const ProvidedFiles* provided) {
  if (!provided)
    return nullptr;
  for (const auto& [target, fd] : provided->fds) {
    if (target == rec.fd.fd)
      return &fd;
  }
  return nullptr;
}

}  // namespace

Status OpenSavedFile(const Image& image, const FdRecord& rec, UniqueFd* out) {
  return OpenOne(image, rec, {}, out);
}

Status OpenFiles(const Image& image, bool rollback_files, const ProvidedFiles* provided,
                 OpenedFiles* opened) {
  for (const MemfdRecord& m : image.memfds()) {
    UniqueFd made;
    KCR_RETURN_IF_ERROR(MakeMemfd(m, &made));
    opened->memfds.push_back(std::move(made));
  }
  for (const FdRecord& rec : image.fds()) {
    if (Inherited(rec, provided))
      continue;
    UniqueFd fd;
    if (const int* given = ProvidedFd(rec, provided)) {
      fd.reset(::fcntl(*given, F_DUPFD_CLOEXEC, 0));
      if (!fd.valid())
        return SysError("taking fd {} from the tree's restore", rec.fd.fd);
    } else if (rec.fd.kind == KCR_FD_PIPE) {
      return Errorf(EINVAL,
                    "fd {} is a pipe between the processes of a tree; restore the whole tree "
                    "(kcr restart DIR)",
                    rec.fd.fd);
    } else if (rec.fd.kind == KCR_FD_SAME) {
      // The same open file as an earlier fd (dup): shared again, one offset.
      auto earlier = std::find_if(opened->by_target.begin(), opened->by_target.end(),
                                  [&](const auto& o) { return o.first == rec.fd.same_as; });
      if (earlier == opened->by_target.end())
        return Errorf(EBADMSG, "fd {} shares the file of fd {}, which the image lacks", rec.fd.fd,
                      rec.fd.same_as);
      fd.reset(::fcntl(earlier->second.get(), F_DUPFD_CLOEXEC, 0));
      if (!fd.valid())
        return SysError("sharing fd {}'s file with fd {}", rec.fd.same_as, rec.fd.fd);
    } else {
      KCR_RETURN_IF_ERROR(OpenOne(image, rec, opened->memfds, &fd));
    }
    opened->by_target.emplace_back(rec.fd.fd, std::move(fd));
  }
  KCR_RETURN_IF_ERROR(TakeOpenFileLocks(image, *opened));
  // Rolled back last: a restore refused above leaves the files as they were.
  for (const FdRecord& rec : image.fds()) {
    const kcr_fd& f = rec.fd;
    if (!rollback_files || f.kind != KCR_FD_REG || !Writable(f) || !S_ISREG(f.mode) ||
        PathNow(image, rec.path) != rec.path) {
      continue;
    }
    const uint64_t size = SizeAtCheckpoint(rec, provided);
    if (::truncate(rec.path.c_str(), static_cast<off_t>(size)) != 0)
      return SysError("rolling back {} to {} bytes", rec.path, size);
  }
  return Status::Ok();
}

Status InstallFiles(const Image& image, const ProvidedFiles* provided, OpenedFiles* opened,
                    std::vector<int*> keep) {
  int top = 2;
  for (const FdRecord& rec : image.fds())
    top = std::max(top, rec.fd.fd);
  for (const auto& [target, fd] : opened->by_target)
    top = std::max(top, fd.get());
  for (int* k : keep)
    top = std::max(top, *k);
  int base = top + 1;
  // Everything that must survive moves above every fd the image uses...
  auto lift = [&](int fd) -> int {
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high >= 0)
      ::close(fd);
    return high;
  };
  for (int* k : keep) {
    *k = lift(*k);
    if (*k < 0)
      return SysError("moving a descriptor out of the way");
  }
  std::vector<std::pair<int, int>> moves;  // target, high
  for (auto& [target, fd] : opened->by_target) {
    int high = lift(fd.release());
    if (high < 0)
      return SysError("moving fd {} out of the way", target);
    moves.emplace_back(target, high);
  }
  for (const FdRecord& rec : image.fds()) {
    if (!Inherited(rec, provided))
      continue;
    // stdio of a kind kcr cannot save comes from the restarter, or /dev/null.
    int high = ::fcntl(rec.fd.fd, F_DUPFD_CLOEXEC, base);
    if (high < 0) {
      // Opened low, then moved above `base` like the rest: everything below
      // it is closed next.
      UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
      if (null.valid())
        high = ::fcntl(null.get(), F_DUPFD_CLOEXEC, base);
    }
    if (high < 0)
      return SysError("providing fd {}", rec.fd.fd);
    moves.emplace_back(rec.fd.fd, high);
  }
  // ...then nothing of the restarter's below `base` stays open...
  if (::syscall(SYS_close_range, 0U, static_cast<unsigned>(base - 1), 0U) != 0) {
    return SysError("closing the restarter's descriptors");
  }
  // ...each file lands on its number with its close-on-exec flag...
  const auto& fds = image.fds();
  for (auto [target, high] : moves) {
    if (::dup2(high, target) < 0)
      return SysError("placing fd {}", target);
    ::close(high);
    auto rec = std::find_if(fds.begin(), fds.end(),
                            [t = target](const FdRecord& r) { return r.fd.fd == t; });
    if (rec != fds.end() && (rec->fd.fd_flags & KCR_FD_CLOEXEC)) {
      ::fcntl(target, F_SETFD, FD_CLOEXEC);
    }
  }
  opened->by_target.clear();
  // ...and above them only what the caller keeps (the module closes those):
  // none of the restarter's descriptors (slurmstepd's, in a Slurm task)
  // survives into a program that never had them, close-on-exec or not.
  int next = base;
  for (int* k : keep) {
    if (*k != next) {
      if (::dup3(*k, next, O_CLOEXEC) < 0)
        return SysError("moving a descriptor out of the way");
      ::close(*k);
      *k = next;
    }
    next++;
  }
  if (::syscall(SYS_close_range, static_cast<unsigned>(next), ~0U, 0U) != 0)
    return SysError("closing the restarter's descriptors");
  // No descriptor of the program's files closes from here on: its POSIX
  // locks can be taken again (probed free in OpenFiles).
  for (const kcr_file_lock& l : image.locks()) {
    struct flock fl = RangeOf(l);
    if (l.kind == KCR_LOCK_POSIX && ::fcntl(l.fd, F_SETLK, &fl) != 0) {
      if (errno == EAGAIN || errno == EACCES)
        return LockConflict(image, l, 0);
      return SysError("taking the POSIX lock of fd {} again", l.fd);
    }
  }
  return Status::Ok();
}

Status RestoreFsState(const Image& image) {
  if (::chdir(image.cwd().c_str()) != 0)
    return SysError("entering {}", image.cwd());
  ::umask(static_cast<mode_t>(image.fs().umask & 0777));
  for (int i = 0; i < KCR_NR_RLIMITS && i < RLIM_NLIMITS; i++) {
    struct rlimit r {
      image.fs().rlim[i].cur, image.fs().rlim[i].max
    };
    // Never more than the restarter may have: a failed raise keeps its limit.
    (void)::setrlimit(static_cast<__rlimit_resource>(i), &r);
  }
  return Status::Ok();
}

}  // namespace kcr
