#include "restore_threads.h"

#include <linux/capability.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <new>

#include <kcr/util/status_format.h>
#include "drain_signal.h"

namespace kcr {

namespace {

constexpr size_t kStackBytes = 64 * 1024;

enum : int32_t { kWait = 0, kGo = 1, kCancel = 2 };
enum : int32_t { kStarting = 0, kReady = 1 };

struct PendingSignal {
  int signo;
  siginfo_t info;
};

// One restorer thread: all it reads lives here, in memory of its own.
struct ThreadPlan {
  RestoreThreads::Shared* shared;
  pid_t tid;                     // the image thread's id, given with set_tid
  std::atomic<int32_t> phase;    // kStarting, then kReady
  std::atomic<int32_t> alive;    // cleared by the kernel at its exit (CLONE_CHILD_CLEARTID)
  const PendingSignal* pending;  // its own pending signals
  uint32_t nr_pending;
  kcr_restore_thread_args args;  // for KCR_IOC_RESTORE_THREAD
};

}  // namespace

struct RestoreThreads::Shared {
  std::atomic<int32_t> go;  // kWait, kGo or kCancel
  int device;
  bool drop_capabilities;
  pid_t tgid;
  uint32_t nr;  // threads started
  size_t map_bytes;
  ThreadPlan* plans;
};

namespace {

// The threads' system calls: no library code, which would use the TLS they
// share with the main thread (errno, above all).
inline long Sys(long n, long a = 0, long b = 0, long c = 0, long d = 0) {
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
}

// Waits while *word is `value` (futex); spurious wakes are the caller's loop's.
void FutexWait(std::atomic<int32_t>* word, int32_t value) {
  Sys(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAIT, value, 0);
}

void FutexWake(std::atomic<int32_t>* word) {
  Sys(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAKE, INT_MAX);
}

[[noreturn]] void RestoreThreadEntry(void* arg) {
  auto* plan = static_cast<ThreadPlan*>(arg);
  RestoreThreads::Shared* shared = plan->shared;
  if (shared->drop_capabilities) {
    __user_cap_header_struct header;
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct none[2];
    none[0].effective = none[0].permitted = none[0].inheritable = 0;
    none[1].effective = none[1].permitted = none[1].inheritable = 0;
    Sys(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(none));
  }
  plan->phase.store(kReady);
  FutexWake(&plan->phase);
  int32_t go;
  while ((go = shared->go.load()) == kWait)
    FutexWait(&shared->go, kWait);
  if (go == kGo) {
    for (uint32_t i = 0; i < plan->nr_pending; i++) {
      Sys(SYS_rt_tgsigqueueinfo, shared->tgid, plan->tid, plan->pending[i].signo,
          reinterpret_cast<long>(&plan->pending[i].info));
    }
    // Returns only if the restore is refused.
    Sys(SYS_ioctl, shared->device, KCR_IOC_RESTORE_THREAD, reinterpret_cast<long>(&plan->args));
  }
  Sys(SYS_exit, 0);
  __builtin_unreachable();
}

// clone3() of a thread that runs fn(arg) on its own stack and exits. In the
// child the stack is new, so it cannot return from here: it calls fn from
// the instruction after the system call.
long CloneThread(clone_args* args, void (*fn)(void*), void* arg) {
  long ret;
  register void (*r12)(void*) asm("r12") = fn;
  register void* r13 asm("r13") = arg;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "ud2\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "a"(SYS_clone3), "D"(args), "S"(sizeof(*args)), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}

cpu_set_t AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0)
    CPU_SET(0, &set);
  return set;
}

}  // namespace

Status RestoreScheduling(pid_t tid, const kcr_thread& t) {
  // CPUs: the thread's, within what this restorer may use.
  static const cpu_set_t allowed = AllowedCpus();
  cpu_set_t want;
  CPU_ZERO(&want);
  for (int cpu = 0; cpu < CPU_SETSIZE && cpu < KCR_CPU_WORDS * 64; cpu++) {
    if ((t.cpus[cpu / 64] >> (cpu % 64)) & 1 && CPU_ISSET(cpu, &allowed))
      CPU_SET(cpu, &want);
  }
  if (CPU_COUNT(&want) == 0)
    want = allowed;
  if (::sched_setaffinity(tid, sizeof(want), &want) != 0)
    return SysError("setting the CPUs of thread {}", t.tid);
  // Policy and niceness as far as this restorer may set them, as for its
  // resource limits: a real-time policy or a lower niceness it may not
  // have keeps the restorer's own.
  if (t.sched_policy != SCHED_OTHER) {
    sched_param p{};
    p.sched_priority = static_cast<int>(t.sched_priority);
    (void)::sched_setscheduler(tid, static_cast<int>(t.sched_policy), &p);
  }
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), t.nice);
  return Status::Ok();
}

namespace {

std::vector<PendingSignal> PendingFor(const Image& image, uint32_t thread_index) {
  std::vector<PendingSignal> out;
  for (const kcr_pending_signal& p : image.pending()) {
    if (p.thread != thread_index)
      continue;
    PendingSignal s{};
    s.signo = static_cast<int>(p.signo);
    static_assert(sizeof(p.info) <= sizeof(s.info));
    std::memcpy(&s.info, p.info, sizeof(p.info));
    s.info.si_signo = s.signo;
    out.push_back(s);
  }
  return out;
}

}  // namespace

Status QueuePendingSignals(const Image& image, uint32_t thread_index) {
  for (PendingSignal& s : PendingFor(image, thread_index)) {
    if (::syscall(SYS_rt_tgsigqueueinfo, ::getpid(), ::gettid(), s.signo, &s.info) != 0)
      return SysError("queueing pending signal {} again", s.signo);
  }
  return Status::Ok();
}

void RemovePendingSignals(const Image& image, uint32_t thread_index) {
  for (const PendingSignal& s : PendingFor(image, thread_index))
    DrainSignal(s.signo);
}

Status RestoreThreads::Start(const Image& image, const Options& options,
                             std::unique_ptr<RestoreThreads>* out) {
  std::unique_ptr<RestoreThreads> threads(new RestoreThreads());
  const auto& records = image.threads();
  const uint32_t nr = static_cast<uint32_t>(records.size() - 1);
  if (nr == 0) {
    *out = std::move(threads);
    return Status::Ok();
  }
  // One mapping: the shared part, each thread's plan and pending signals, the stacks.
  std::vector<std::vector<PendingSignal>> pending(nr);
  size_t signals = 0;
  for (uint32_t i = 0; i < nr; i++) {
    pending[i] = PendingFor(image, i + 1);
    signals += pending[i].size();
  }
  const size_t head = sizeof(Shared) + nr * sizeof(ThreadPlan) + signals * sizeof(PendingSignal);
  const size_t head_pages = (head + kStackBytes - 1) / kStackBytes * kStackBytes;
  const size_t bytes = head_pages + size_t{nr} * kStackBytes;
  void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    return SysError("mapping the stacks of {} restorer threads", nr);
  auto* base = static_cast<char*>(map);
  auto* shared = new (base) Shared();
  threads->shared_ = shared;
  shared->go.store(kWait);
  shared->device = options.device;
  shared->drop_capabilities = options.drop_capabilities;
  shared->tgid = ::getpid();
  shared->map_bytes = bytes;
  shared->plans = reinterpret_cast<ThreadPlan*>(base + sizeof(Shared));
  auto* next_signal = reinterpret_cast<PendingSignal*>(shared->plans + nr);
  for (uint32_t i = 0; i < nr; i++) {
    ThreadPlan* plan = new (&shared->plans[i]) ThreadPlan();
    plan->shared = shared;
    plan->tid = records[i + 1].thread.tid;
    plan->phase.store(kStarting);
    plan->alive.store(1);
    plan->pending = next_signal;
    plan->nr_pending = static_cast<uint32_t>(pending[i].size());
    for (const PendingSignal& s : pending[i])
      *next_signal++ = s;
    plan->args.size = sizeof(plan->args);
    plan->args.index = i + 1;

    clone_args ca{};
    ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
               CLONE_CHILD_CLEARTID;
    ca.child_tid = reinterpret_cast<uintptr_t>(&plan->alive);
    ca.stack = reinterpret_cast<uintptr_t>(base + head_pages + size_t{i} * kStackBytes);
    ca.stack_size = kStackBytes;
    ca.set_tid = reinterpret_cast<uintptr_t>(&plan->tid);
    ca.set_tid_size = 1;
    long tid = CloneThread(&ca, RestoreThreadEntry, plan);
    if (tid < 0) {
      plan->alive.store(0);
      return Errorf(static_cast<int>(-tid),
                    "starting the restorer's thread {} of {} with id {} failed ({}): that id is "
                    "taken, or this process may not choose ids in its pid namespace",
                    i + 1, nr + 1, plan->tid, std::strerror(static_cast<int>(-tid)));
    }
    shared->nr = i + 1;
    KCR_RETURN_IF_ERROR(RestoreScheduling(plan->tid, records[i + 1].thread));
  }
  for (uint32_t i = 0; i < nr; i++) {
    while (shared->plans[i].phase.load() != kReady)
      FutexWait(&shared->plans[i].phase, kStarting);
  }
  *out = std::move(threads);
  return Status::Ok();
}

void RestoreThreads::Go() {
  if (!shared_)
    return;
  shared_->go.store(kGo);
  FutexWake(&shared_->go);
}

RestoreThreads::~RestoreThreads() {
  if (!shared_)
    return;
  int32_t expected = kWait;
  shared_->go.compare_exchange_strong(expected, kCancel);
  FutexWake(&shared_->go);
  // Their stacks are in this mapping: free it only once every thread is gone.
  for (uint32_t i = 0; i < shared_->nr; i++) {
    int32_t alive;
    while ((alive = shared_->plans[i].alive.load()) != 0)
      FutexWait(&shared_->plans[i].alive, alive);
  }
  ::munmap(shared_, shared_->map_bytes);
}

}  // namespace kcr
