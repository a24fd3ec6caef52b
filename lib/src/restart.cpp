#include "restart.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "device.h"
#include "restore_files.h"

namespace kcr {

namespace {

struct Range {
  uint64_t start = 0, end = 0;
  bool Overlaps(uint64_t s, uint64_t e) const { return start < e && s < end; }
};

struct OwnLayout {
  Range vdso, vvar;
  std::vector<Range> others;
};

Status ReadOwnLayout(OwnLayout* layout) {
  std::ifstream maps("/proc/self/maps");
  if (!maps)
    return SysError("reading /proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    Range r;
    char dash;
    std::istringstream in(line);
    in >> std::hex >> r.start >> dash >> r.end;
    if (line.ends_with("[vdso]")) {
      layout->vdso = r;
    } else if (line.ends_with("[vvar]")) {
      layout->vvar = r;
    } else {
      layout->others.push_back(r);
    }
  }
  if (!layout->vdso.start || !layout->vvar.start) {
    return Status::Error(ENOTSUP, "this process has no vdso/vvar mapping");
  }
  return Status::Ok();
}

// The restored program's code may sit inside its vdso (it was parked in a vdso
// syscall), so the vdso must be where the image has it. A module cannot move
// it; mremap can (it updates mm->context.vdso).
Status CheckVdsoPlacement(const Image& image, const OwnLayout& own) {
  const kcr_mm& m = image.mm();
  if (own.vdso.end - own.vdso.start != m.vdso_end - m.vdso_start ||
      own.vvar.end - own.vvar.start != m.vvar_end - m.vvar_start) {
    return Status::Error(EXDEV, "the vdso differs in size from the image's (another kernel build)");
  }
  for (const Range& r : own.others) {
    if (r.Overlaps(m.vvar_start, m.vdso_end))
      return Status::Error(EAGAIN, "vdso range overlap");
  }
  return Status::Ok();
}

Status MoveVdso(const Image& image, const OwnLayout& own) {
  const kcr_mm& m = image.mm();
  if (own.vdso.start == m.vdso_start)
    return Status::Ok();
  uint64_t vvar_len = own.vvar.end - own.vvar.start, vdso_len = own.vdso.end - own.vdso.start;
  // Park both in a scratch reservation first: the old and new ranges may overlap.
  void* scratch =
      ::mmap(nullptr, vvar_len + vdso_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch == MAP_FAILED)
    return SysError("reserving room to move the vdso");
  auto* s = static_cast<char*>(scratch);
  auto move = [](uint64_t from, uint64_t len, void* to) {
    return ::mremap(reinterpret_cast<void*>(from), len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) !=
           MAP_FAILED;
  };
  if (!move(own.vvar.start, vvar_len, s) || !move(own.vdso.start, vdso_len, s + vvar_len) ||
      !move(reinterpret_cast<uint64_t>(s), vvar_len, reinterpret_cast<void*>(m.vvar_start)) ||
      !move(reinterpret_cast<uint64_t>(s + vvar_len), vdso_len,
            reinterpret_cast<void*>(m.vdso_start))) {
    return SysError("moving the vdso to {:#x}", m.vdso_start);
  }
  return Status::Ok();
}

// glibc registered an rseq area in this (the restarter's) TLS; the kernel
// would keep writing there after the memory is replaced.
void UnregisterOwnRseq() {
  constexpr unsigned kKernelRseqLen = 32;  // sizeof(struct rseq); glibc 2.36 says 20
  if (__rseq_size == 0)
    return;
  ::syscall(SYS_rseq, static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset,
            kKernelRseqLen, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
}

Status RestoreIoctl(int device, int image_fd, uint32_t flags) {
  kcr_restore_args args{};
  args.size = sizeof(args);
  args.image_fd = image_fd;
  args.device_fd = device;
  args.flags = flags;
  if (::ioctl(device, KCR_IOC_RESTORE, &args) == 0 && (flags & KCR_RST_VALIDATE_ONLY)) {
    return Status::Ok();
  }
  int e = errno;
  std::string why = args.reason[0] ? args.reason : std::strerror(e);
  return Status::Errorf(e, "the kernel refused the image: {}", why);
}

Status CheckKernel(const Image& image) {
  struct utsname u;
  ::uname(&u);
  const kcr_image_header& h = image.header();
  if (std::strcmp(h.release, u.release) != 0 || std::strcmp(h.kversion, u.version) != 0) {
    return Status::Errorf(EXDEV,
                          "image was taken on kernel {} ({}); this is {} ({}); restore it "
                          "on a node running that kernel",
                          h.release, h.kversion, u.release, u.version);
  }
  return Status::Ok();
}

// Replaces this process with a fresh copy of itself (new random layout).
[[noreturn]] void ReexecSelf() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<char*> argv;
  for (size_t i = 0; i < all.size(); i += std::strlen(all.c_str() + i) + 1) {
    argv.push_back(all.data() + i);
  }
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  ::_exit(127);
}

// Joined threads (the parallel verify) can still be leaving the kernel's
// thread group for a moment after pthread_join returns; the module requires a
// single-threaded restorer, so wait for that rather than fail.
Status WaitSingleThreaded() {
  for (int i = 0; i < 200; i++) {
    std::ifstream status("/proc/self/status");
    std::string key;
    int threads = 0;
    while (status >> key) {
      if (key == "Threads:") {
        status >> threads;
        break;
      }
    }
    if (threads == 1)
      return Status::Ok();
    ::usleep(5000);
  }
  return Status::Error(EBUSY,
                       "the restoring process has other threads; restart needs a "
                       "single-threaded caller");
}

}  // namespace

Status CheckRestartable(const Image& image, const RestartOptions& options) {
  KCR_RETURN_IF_ERROR(CheckKernel(image));
  if (!options.skip_verify)
    KCR_RETURN_IF_ERROR(image.VerifyPages(options.verify_progress));
  KCR_RETURN_IF_ERROR(CheckFiles(image, options.rollback_files));
  KCR_RETURN_IF_ERROR(WaitSingleThreaded());
  UniqueFd device;
  KCR_RETURN_IF_ERROR(OpenDevice(&device));
  UniqueFd fd(::open(image.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return SysError("opening {}", image.path());
  return RestoreIoctl(device.get(), fd.get(), KCR_RST_VALIDATE_ONLY);
}

Status Restart(const std::string& path, const RestartOptions& options) {
  std::unique_ptr<Image> image;
  KCR_RETURN_IF_ERROR(Image::Open(path, &image));
  Status checked = CheckRestartable(*image, options);
  if (options.verify_done)
    options.verify_done();
  KCR_RETURN_IF_ERROR(checked);

  OwnLayout own;
  KCR_RETURN_IF_ERROR(ReadOwnLayout(&own));
  Status placement = CheckVdsoPlacement(*image, own);
  if (placement.code() == -EAGAIN) {
    // Our own mappings sit where the program's vdso must go; a fresh exec
    // lands elsewhere (ASLR). Bounded, so a pathological layout still fails.
    const char* tries = ::getenv("KCR_RESTART_REEXEC");
    int n = tries ? std::atoi(tries) : 0;
    if (n >= 8) {
      return Status::Error(EADDRINUSE,
                           "the restarter's mappings keep overlapping the image's "
                           "vdso address; fix: retry, or enable ASLR");
    }
    ::setenv("KCR_RESTART_REEXEC", std::to_string(n + 1).c_str(), 1);
    ReexecSelf();
  }
  KCR_RETURN_IF_ERROR(placement);

  UniqueFd device;
  KCR_RETURN_IF_ERROR(OpenDevice(&device));
  UniqueFd image_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!image_fd.valid())
    return SysError("opening {}", path);
  OpenedFiles files;
  KCR_RETURN_IF_ERROR(OpenFiles(*image, options.rollback_files, &files));

  // From here on the caller itself changes; the checks above make failure rare.
  int dev = device.release(), img = image_fd.release();
  KCR_RETURN_IF_ERROR(InstallFiles(*image, &files, {&dev, &img}));
  KCR_RETURN_IF_ERROR(RestoreFsState(*image));
  ::unsetenv("KCR_RESTART_REEXEC");
  KCR_RETURN_IF_ERROR(MoveVdso(*image, own));
  // No vdso calls (clock_gettime, ...) are possible from here: glibc's cached
  // pointers name the old address.
  UnregisterOwnRseq();
  uint32_t flags = options.rollback_files ? KCR_RST_ROLLBACK_FILES : 0;
  Status st = RestoreIoctl(dev, img, flags);
  return st.With("restart failed after the restarter had changed; it cannot continue");
}

}  // namespace kcr
