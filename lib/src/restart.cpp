#include <kcr/restart.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <kcr/device.h>
#include <kcr/util/status_format.h>
#include "drain_signal.h"
#include "prefill.h"
#include "restart_member.h"
#include "restore_files.h"
#include "restore_threads.h"

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

timeval ToTimeval(uint64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<suseconds_t>(ns % 1000000000 / 1000)};
}

timespec ToTimespec(uint64_t ns) {
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

// The program's ITIMER_REAL (alarm, setitimer), with the time it had left:
// armed on the restorer just before the restore, it belongs to the process,
// which the restore keeps. Time while the program was not running is not
// counted, as the program did not run.
Status ArmRealTimer(const kcr_signals& s) {
  if (!s.itimer_real_left_ns)
    return Status::Ok();
  itimerval v{};
  // At least a microsecond: zero would disarm it.
  v.it_value = ToTimeval(std::max<uint64_t>(s.itimer_real_left_ns, 1000));
  v.it_interval = ToTimeval(s.itimer_real_interval_ns);
  if (::setitimer(ITIMER_REAL, &v, nullptr) != 0)
    return SysError("arming the program's interval timer again");
  return Status::Ok();
}

// A refused restore: the restorer's timer off, and a SIGALRM it may have
// fired meanwhile (blocked) taken back.
void DisarmRealTimer(const kcr_signals& s) {
  if (!s.itimer_real_left_ns)
    return;
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  DrainSignal(SIGALRM);
}

// The program's POSIX timers, made again on the restorer (the restore keeps
// its process, so they become the program's) once its threads exist, with
// their ids: a program holds the id timer_create() gave, and signals report
// it (si_timerid). The kernel gives ids in turn from 0 to a fresh process, so
// ids are reached by making and dropping timers. Time while the program was not running is not
// counted. Returns the timers made, to be deleted if the restore is refused.
Status MakePosixTimers(const Image& image, std::vector<int>* made) {
  std::vector<kcr_posix_timer> timers = image.timers();
  std::sort(timers.begin(), timers.end(),
            [](const kcr_posix_timer& a, const kcr_posix_timer& b) { return a.id < b.id; });
  const pid_t main_tid = image.thread().tid;
  for (const kcr_posix_timer& t : timers) {
    sigevent ev{};
    ev.sigev_notify = t.notify;
    ev.sigev_signo = t.signo;
    std::memcpy(&ev.sigev_value, &t.value, sizeof(ev.sigev_value));
    // Threads other than the main one have their image ids (RestoreThreads).
    if (t.notify == SIGEV_THREAD_ID)
      ev._sigev_un._tid = t.thread == main_tid ? ::gettid() : t.thread;
    // Timers made on the way to the id are dropped before they are armed.
    for (;;) {
      int id = -1;
      if (::syscall(SYS_timer_create, t.clock, &ev, &id) != 0)
        return SysError("making the program's POSIX timer {} again", t.id);
      if (id == t.id) {
        made->push_back(id);
        break;
      }
      ::syscall(SYS_timer_delete, id);
      if (id > t.id) {
        return Errorf(EEXIST,
                      "the restorer could not make POSIX timer {} again: the kernel gave id {}",
                      t.id, id);
      }
    }
    itimerspec when{};
    when.it_value = ToTimespec(t.left_ns);
    when.it_interval = ToTimespec(t.interval_ns);
    if (t.left_ns && ::syscall(SYS_timer_settime, t.id, 0, &when, nullptr) != 0)
      return SysError("arming the program's POSIX timer {} again", t.id);
  }
  return Status::Ok();
}

// Each POSIX timer the restorer makes takes one of the user's queued-signal
// slots (RLIMIT_SIGPENDING), as each signal the restore queues again does:
// too few for them is refused here, before anything changes, not found out
// while making the timers.
Status CheckSignalRoom(const Image& image) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_SIGPENDING, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return Status::Ok();
  const uint64_t need = image.timers().size() + image.pending().size();
  if (need <= lim.rlim_cur)
    return Status::Ok();
  return Errorf(EAGAIN,
                "the program needs {} queued signals ({} POSIX timers, {} pending signals) and "
                "this user may queue {}; fix: raise the limit (ulimit -i)",
                need, image.timers().size(), image.pending().size(), lim.rlim_cur);
}

// A refused restore: the timers made deleted, the signals they may have
// queued meanwhile (blocked) taken back.
void DeletePosixTimers(const Image& image, const std::vector<int>& made) {
  for (int id : made)
    ::syscall(SYS_timer_delete, id);
  for (const kcr_posix_timer& t : image.timers()) {
    if (t.notify != SIGEV_NONE)
      DrainSignal(t.signo);
  }
}

// Every capability and the bounding set, for good (RestartOptions::drop_capabilities).
Status DropCapabilities() {
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
    (void)::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &h, none) != 0)
    return SysError("dropping the restorer's capabilities");
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

// Holds the image's vdso address free while the prefill's threads map their
// stacks, so that MoveVdso() can land there; unmapped unless Release()d.
class VdsoReservation {
 public:
  VdsoReservation() = default;
  VdsoReservation(const VdsoReservation&) = delete;
  VdsoReservation& operator=(const VdsoReservation&) = delete;
  ~VdsoReservation() {
    if (len_)
      ::munmap(reinterpret_cast<void*>(start_), len_);
  }
  // Only when our own vdso is elsewhere entirely; MoveVdso handles an overlap.
  Status Reserve(const Image& image, const OwnLayout& own) {
    const kcr_mm& m = image.mm();
    Range own_vdso{own.vvar.start, own.vdso.end};
    if (own_vdso.Overlaps(m.vvar_start, m.vdso_end))
      return Status::Ok();
    void* want = reinterpret_cast<void*>(m.vvar_start);
    uint64_t len = m.vdso_end - m.vvar_start;
    void* got =
        ::mmap(want, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (got == MAP_FAILED && (errno == EPERM || errno == EACCES)) {
      // Not a collision with our own mappings (which a re-exec would move)
      // but an address this caller may not map: below vm.mmap_min_addr.
      int e = errno;
      return Errorf(e,
                    "the image places the vdso at {:#x}, where this system allows no "
                    "mapping ({}); the image is damaged, or was taken where "
                    "vm.mmap_min_addr is lower",
                    m.vvar_start, std::strerror(e));
    }
    if (got == MAP_FAILED && errno != EEXIST)
      return SysError("reserving the image's vdso address {:#x}", m.vvar_start);
    if (got != want) {
      if (got != MAP_FAILED)
        ::munmap(got, len);
      return Status::Error(EAGAIN, "vdso range overlap");
    }
    start_ = m.vvar_start;
    len_ = len;
    return Status::Ok();
  }
  void Release() { len_ = 0; }

 private:
  uint64_t start_ = 0, len_ = 0;
};

Status RestoreIoctl(int device, int image_fd, uint32_t flags,
                    const std::vector<kcr_range>& prefilled = {},
                    const std::vector<int32_t>& memfds = {}) {
  kcr_restore_args args{};
  args.memfds = reinterpret_cast<uintptr_t>(memfds.data());
  args.nr_memfds = static_cast<uint32_t>(memfds.size());
  args.size = sizeof(args);
  args.image_fd = image_fd;
  args.device_fd = device;
  args.flags = flags;
  args.prefilled = reinterpret_cast<uintptr_t>(prefilled.data());
  args.nr_prefilled = static_cast<uint32_t>(prefilled.size());
  if (::ioctl(device, KCR_IOC_RESTORE, &args) == 0 && (flags & KCR_RST_VALIDATE_ONLY)) {
    return Status::Ok();
  }
  int e = errno;
  std::string why = args.reason[0] ? args.reason : std::strerror(e);
  return Errorf(e, "the kernel refused the image: {}", why);
}

Status CheckKernel(const Image& image) {
  struct utsname u;
  ::uname(&u);
  const kcr_image_header& h = image.header();
  if (std::strcmp(h.release, u.release) != 0 || std::strcmp(h.kversion, u.version) != 0) {
    return Errorf(EXDEV,
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

// Our own mappings sit where the program's vdso must go; a fresh exec lands
// elsewhere (ASLR). Bounded, so a pathological layout still fails.
Status ReexecForPlacement() {
  const char* tries = ::getenv("KCR_RESTART_REEXEC");
  int n = tries ? std::atoi(tries) : 0;
  if (n >= 8) {
    return Status::Error(EADDRINUSE,
                         "the restarter's mappings keep overlapping the image's vdso "
                         "address; fix: retry, or enable ASLR");
  }
  ::setenv("KCR_RESTART_REEXEC", std::to_string(n + 1).c_str(), 1);
  ReexecSelf();
}

// Memory is filled with transparent huge pages off (see prefill.h), so no
// mapping of the restored program registers its mm with khugepaged, which
// only scans registered ones: its memory would stay in small pages for good.
// Asking for huge pages on a mapping that already has a page registers the
// mm for its whole life (khugepaged_enter_vma() wants the anon_vma the first
// page creates); the mapping itself is dropped at once.
void RegisterWithKhugepaged() {
  constexpr size_t kLen = 4u << 20;
  void* p = ::mmap(nullptr, kLen, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return;
  ::madvise(p, kLen, MADV_NOHUGEPAGE);  // the first page: a small one
  *static_cast<volatile char*>(p) = 1;
  // Works whether THP is "always" or "madvise"; with "never" nothing
  // registers, as it should.
  ::madvise(p, kLen, MADV_HUGEPAGE);
  ::munmap(p, kLen);
}

}  // namespace

// The image's thread had restricted its own speculation (PR_SET_SPECULATION_CTRL).
// Only the architecture's prctl code can set that, which a module cannot
// call, so the restorer sets it on itself; then the kernel must report it in
// force — a kernel that forces a mitigation for everyone sets no flag, and a
// CPU the attack does not affect needs none. Otherwise the restore is
// refused: it would shed the restriction (a kernel booted mitigations=off).
Status RestoreSpeculationControls(uint32_t flags) {
  struct Control {
    int which;
    unsigned long value;
    const char* what;
  };
  std::vector<Control> wanted;
  if (flags & KCR_TASK_SSB_FORCE_DISABLE)
    wanted.push_back({PR_SPEC_STORE_BYPASS, PR_SPEC_FORCE_DISABLE, "store bypass force-disabled"});
  else if (flags & KCR_TASK_SSB_NOEXEC)
    wanted.push_back({PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE_NOEXEC, "store bypass disabled"});
  else if (flags & KCR_TASK_SSB_DISABLE)
    wanted.push_back({PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, "store bypass disabled"});
  if (flags & KCR_TASK_IB_FORCE_DISABLE)
    wanted.push_back({PR_SPEC_INDIRECT_BRANCH, PR_SPEC_FORCE_DISABLE,
                      "indirect branch speculation force-disabled"});
  else if (flags & KCR_TASK_IB_DISABLE)
    wanted.push_back(
        {PR_SPEC_INDIRECT_BRANCH, PR_SPEC_DISABLE, "indirect branch speculation disabled"});
  constexpr int kInForce = PR_SPEC_DISABLE | PR_SPEC_FORCE_DISABLE | PR_SPEC_DISABLE_NOEXEC;
  for (const Control& c : wanted) {
    int set = ::prctl(PR_SET_SPECULATION_CTRL, c.which, c.value, 0, 0);
    int e = errno;
    int now = ::prctl(PR_GET_SPECULATION_CTRL, c.which, 0, 0, 0);
    if (now == PR_SPEC_NOT_AFFECTED || (now > 0 && (now & kInForce)))
      continue;
    return Errorf(set ? e : EPERM,
                  "the program ran with speculative {} (prctl), which this process cannot "
                  "have ({}); restore it on a node whose kernel has that mitigation (not "
                  "mitigations=off)",
                  c.what, set ? std::strerror(e) : "the kernel does not report it in force");
  }
  return Status::Ok();
}

// The last step: the restorer's other threads, one per image thread, each
// with its thread's id, scheduling and pending signals, then the module.
// Every signal stays blocked until the module sets each thread's own mask,
// so that the pending ones wait for the program: glibc's own two too
// (SIGCANCEL, SIGSETXID), which sigprocmask() will not block but which the
// program may have pending or a timer (glibc's SIGEV_THREAD) may send; the
// restorer's handlers for them would run on threads glibc never made.
static Status RestoreWithThreads(const Image& image, const RestartOptions& options, int device,
                                 int image_fd, const std::vector<kcr_range>& prefilled,
                                 const std::vector<int32_t>& memfds) {
  // The kernel's own sigset: glibc's sigset calls leave its two out.
  const uint64_t all = ~uint64_t{0};
  uint64_t old = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, sizeof(all));
  std::unique_ptr<RestoreThreads> threads;
  RestoreThreads::Options to;
  to.device = device;
  to.drop_capabilities = options.drop_capabilities;
  Status st = RestoreThreads::Start(image, to, &threads);
  if (st.ok())
    st = RestoreScheduling(0, image.thread());
  if (st.ok() && options.drop_capabilities)
    st = DropCapabilities();
  if (st.ok())
    st = QueuePendingSignals(image, 0);
  if (st.ok())
    st = ArmRealTimer(image.signals());
  std::vector<int> timers;
  if (st.ok())
    st = MakePosixTimers(image, &timers);
  if (st.ok()) {
    threads->Go();
    uint32_t flags = options.rollback_files ? KCR_RST_ROLLBACK_FILES : 0;
    st = RestoreIoctl(device, image_fd, flags, prefilled, memfds);  // returns only if refused
  }
  DisarmRealTimer(image.signals());
  DeletePosixTimers(image, timers);
  RemovePendingSignals(image, 0);
  threads.reset();
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, sizeof(old));
  return st;
}

Status CheckRestartable(const Image& image, const RestartOptions& options) {
  return CheckRestartableMember(image, options, nullptr);
}

Status CheckRestartableMember(const Image& image, const RestartOptions& options,
                              const TreeMember* member) {
  KCR_RETURN_IF_ERROR(CheckKernel(image));
  KCR_RETURN_IF_ERROR(CheckSignalRoom(image));
  KCR_RETURN_IF_ERROR(CheckFiles(image, options.rollback_files, member ? &member->files : nullptr));
  KCR_RETURN_IF_ERROR(WaitSingleThreaded());
  UniqueFd device;
  KCR_RETURN_IF_ERROR(OpenDevice(&device));
  return RestoreIoctl(device.get(), image.fd(), KCR_RST_VALIDATE_ONLY);
}

// Reports how long each phase of a restart took, when asked to.
class PhaseClock {
 public:
  explicit PhaseClock(const RestartOptions& options) : report_(options.phase_done) {}
  void Done(const char* phase) {
    auto now = std::chrono::steady_clock::now();
    if (report_)
      report_(phase, std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  const std::function<void(const char*, double)>& report_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

Status Restart(const std::string& path, const RestartOptions& options) {
  return RestartInPlace(path, options, nullptr);
}

Status RestartInPlace(const std::string& path, const RestartOptions& options,
                      const TreeMember* member) {
  PhaseClock clock(options);
  std::unique_ptr<Image> image;
  KCR_RETURN_IF_ERROR(Image::Open(path, &image));
  clock.Done("open image");
  // Cheap refusals first; the pass over all memory comes after.
  Status checked = CheckRestartableMember(*image, options, member);
  clock.Done("checks and kernel dry run");
  OwnLayout own;
  VdsoReservation vdso_room;
  if (checked.ok())
    checked = ReadOwnLayout(&own);
  if (checked.ok())
    checked = CheckVdsoPlacement(*image, own);
  if (checked.ok())
    checked = vdso_room.Reserve(*image, own);
  if (checked.code() == -EAGAIN) {
    // A tree's member holds the tree's pipes and shared files, which an
    // exec would not keep.
    if (member) {
      return Status::Error(EADDRINUSE,
                           "a restorer's mappings overlap the image's vdso address; fix: retry "
                           "(the addresses differ each time)");
    }
    KCR_RETURN_IF_ERROR(ReexecForPlacement());
  }
  // Every checksum is checked here, and most memory filled, before the
  // caller changes; a bad chunk leaves nothing behind.
  std::unique_ptr<Prefill> prefill;
  if (checked.ok()) {
    RegisterWithKhugepaged();
    Prefill::Options p;
    p.verify = !options.skip_verify;
    p.fill = options.prefill;
    p.progress = options.verify_progress;
    checked = Prefill::Run(*image, p, &prefill);
    clock.Done(p.fill ? "verify and fill memory" : "verify memory");
  }
  if (options.verify_done)
    options.verify_done();
  KCR_RETURN_IF_ERROR(checked);
  KCR_RETURN_IF_ERROR(WaitSingleThreaded());

  UniqueFd device;
  KCR_RETURN_IF_ERROR(OpenDevice(&device));
  OpenedFiles files;
  const ProvidedFiles* provided = member ? &member->files : nullptr;
  KCR_RETURN_IF_ERROR(OpenFiles(*image, options.rollback_files, provided, &files));
  // Set on the main thread before the others start: they inherit them.
  uint32_t task_flags = 0;
  for (const ThreadRecord& t : image->threads())
    task_flags |= t.thread.task_flags;
  KCR_RETURN_IF_ERROR(RestoreSpeculationControls(task_flags));
  if (member)
    KCR_RETURN_IF_ERROR(member->all_ready());

  // From here on the caller itself changes; the checks above make failure rare.
  // The restore reads the very file that was verified, through its descriptor.
  int dev = device.release(), img = image->TakeFd().release();
  // The memfds stay the restorer's until the module has mapped them.
  std::vector<int32_t> memfds;
  for (UniqueFd& m : files.memfds)
    memfds.push_back(m.release());
  std::vector<int*> keep = {&dev, &img};
  for (int32_t& m : memfds)
    keep.push_back(&m);
  KCR_RETURN_IF_ERROR(InstallFiles(*image, provided, &files, keep));
  KCR_RETURN_IF_ERROR(RestoreFsState(*image));
  ::unsetenv("KCR_RESTART_REEXEC");
  clock.Done("files and cwd");  // the last clock read: the vdso moves next
  KCR_RETURN_IF_ERROR(MoveVdso(*image, own));
  vdso_room.Release();  // the vdso sits there now
  // No vdso calls (clock_gettime, ...) are possible from here: glibc's cached
  // pointers name the old address.
  UnregisterOwnRseq();
  std::vector<kcr_range> prefilled = prefill->ranges();
  if (member)
    prefilled.insert(prefilled.end(), member->kept.begin(), member->kept.end());
  Status st = RestoreWithThreads(*image, options, dev, img, prefilled, memfds);
  return st.With("restart failed after the restarter had changed; it cannot continue");
}

}  // namespace kcr
