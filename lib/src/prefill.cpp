#include "prefill.h"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <cstring>

#include <atomic>
#include <utility>

#include <kcr/util/status_format.h>
#include "parallel.h"

namespace kcr {

namespace {

bool Eligible(const kcr_vma& v) {
  return v.kind == KCR_VMA_ANON && (v.vm_flags & KCR_VM_WRITE) && !(v.vm_flags & KCR_VM_SHARED);
}

// The madvise() flags of v, set as the module would set them: a mapping
// the module keeps must have them, and mappings that differ in them stay
// apart here as they were in the saved process.
void Advise(const kcr_vma& v) {
  constexpr std::pair<uint64_t, int> kAdvice[] = {
      {KCR_VM_DONTCOPY, MADV_DONTFORK},     {KCR_VM_WIPEONFORK, MADV_WIPEONFORK},
      {KCR_VM_DONTDUMP, MADV_DONTDUMP},     {KCR_VM_HUGEPAGE, MADV_HUGEPAGE},
      {KCR_VM_NOHUGEPAGE, MADV_NOHUGEPAGE},
  };
  for (auto [flag, advice] : kAdvice) {
    // A failure leaves the mapping unlike the image's: the module fills it.
    if (v.vm_flags & flag)
      ::madvise(reinterpret_cast<void*>(v.start), v.end - v.start, advice);
  }
}

// The mapping the module would create for v (kcr_vma_map), so that the
// module recognises it and keeps it.
bool MapAt(const kcr_vma& v) {
  int prot = PROT_WRITE;
  if (v.vm_flags & KCR_VM_READ)
    prot |= PROT_READ;
  if (v.vm_flags & KCR_VM_EXEC)
    prot |= PROT_EXEC;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
  if (v.vm_flags & KCR_VM_GROWSDOWN)
    flags |= MAP_GROWSDOWN;
  if (v.vm_flags & KCR_VM_NORESERVE)
    flags |= MAP_NORESERVE;
  void* want = reinterpret_cast<void*>(v.start);
  void* got = ::mmap(want, v.end - v.start, prot, flags, -1, 0);
  if (got == want) {
    Advise(v);
    return true;
  }
  if (got != MAP_FAILED)  // a kernel that ignored MAP_FIXED_NOREPLACE
    ::munmap(got, v.end - v.start);
  return false;
}

}  // namespace

Prefill::~Prefill() {
  for (const kcr_range& r : ranges_)
    ::munmap(reinterpret_cast<void*>(r.start), r.end - r.start);
  if (caller_thp_disabled_ >= 0)
    ::prctl(PR_SET_THP_DISABLE, caller_thp_disabled_, 0, 0, 0);
}

// All mappings are placed before any worker thread starts, so the threads'
// stacks and malloc arenas cannot take their addresses.
void Prefill::MapEligible(const Image& image) {
  caller_thp_disabled_ = ::prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
  if (caller_thp_disabled_ >= 0)
    ::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  for (const VmaRecord& v : image.vmas()) {
    if (Eligible(v.vma) && MapAt(v.vma))
      ranges_.push_back({v.vma.start, v.vma.end});
  }
}

Status Prefill::FillAndVerify(const Image& image, const Options& options) {
  const std::vector<PageChunkRef>& chunks = image.chunks();
  // Chunks and ranges are both sorted by address: mark each chunk's target.
  std::vector<bool> in_place(chunks.size());
  size_t r = 0;
  for (size_t i = 0; i < chunks.size(); i++) {
    uint64_t a = chunks[i].chunk.addr;
    while (r < ranges_.size() && ranges_[r].end <= a)
      r++;
    in_place[i] = r < ranges_.size() && ranges_[r].start <= a;
  }
  const uint64_t total = image.page_bytes();
  std::atomic<uint64_t> done{0}, filled{0};
  Status all = ParallelFor(chunks.size(), ThreadsFor(total), [&](size_t i, bool on_caller) {
    const PageChunkRef& c = chunks[i];
    uint64_t len = uint64_t{c.chunk.nr_pages} * KCR_PAGE_SIZE;
    const void* bytes = image.bytes_at(c.data_offset);
    if (in_place[i]) {
      // From the mapped image: a user-space copy is cheaper than pread's
      // copy out of the page cache. The checksum is then taken of the copy.
      void* dest = reinterpret_cast<void*>(c.chunk.addr);
      // Allocating the pages in one call saves a fault per page; where the
      // kernel cannot (before 5.14), the copy faults them in instead.
      ::madvise(dest, len, MADV_POPULATE_WRITE);
      std::memcpy(dest, bytes, len);
      bytes = dest;
      filled += len;
    }
    if (options.verify)
      KCR_RETURN_IF_ERROR(image.VerifyChunk(c, bytes));
    image.ForgetMapped(c.data_offset, len);
    uint64_t now = done += len;
    if (on_caller && options.progress)
      options.progress(now, total);
    return Status::Ok();
  });
  if (!all.ok())
    return all;
  filled_bytes_ = filled;
  if (options.progress)
    options.progress(total, total);
  return Status::Ok();
}

Status Prefill::Run(const Image& image, const Options& options, std::unique_ptr<Prefill>* out) {
  std::unique_ptr<Prefill> p(new Prefill());
  if (options.fill)
    p->MapEligible(image);
  KCR_RETURN_IF_ERROR(p->FillAndVerify(image, options));
  *out = std::move(p);
  return Status::Ok();
}

}  // namespace kcr
