#include <kcr/image.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include <kcr/unique_fd.h>
#include <kcr/util/status_format.h>
#include "parallel.h"

namespace kcr {

namespace {

constexpr uint64_t Align8(uint64_t n) {
  return (n + 7) & ~uint64_t{7};
}

// Only a regular file is ever read as an image: O_NONBLOCK so that a FIFO
// does not block the open, O_NOCTTY so that a tty does not become ours; the
// type is checked right after.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// What F_ADD_SEALS takes (F_SEAL_SEAL, _SHRINK, _GROW, _WRITE, _FUTURE_WRITE).
constexpr uint32_t kKnownSeals = 0x1f;

// As the module: a bound on what one image may ask a reader to hold.
constexpr uint32_t kMaxThreads = 1024;

// What the restorer can make again (restart.cpp): the clocks hrtimers serve,
// an event timer_create() takes, a signal where one is sent, a thread of the
// image, an id it reaches, times a timespec holds.
bool TimerRecordValid(const kcr_posix_timer& t, const std::vector<ThreadRecord>& threads) {
  constexpr uint64_t kMaxNs = std::numeric_limits<int64_t>::max();
  const bool clock_ok = t.clock == CLOCK_REALTIME || t.clock == CLOCK_MONOTONIC ||
                        t.clock == CLOCK_BOOTTIME || t.clock == CLOCK_TAI;
  const bool notify_ok =
      t.notify == SIGEV_SIGNAL || t.notify == SIGEV_NONE || t.notify == SIGEV_THREAD_ID;
  const bool signal_ok = t.notify == SIGEV_NONE || (t.signo >= 1 && t.signo <= SIGRTMAX);
  const bool thread_ok = t.notify != SIGEV_THREAD_ID ||
                         std::any_of(threads.begin(), threads.end(), [&](const ThreadRecord& r) {
                           return r.thread.tid == t.thread;
                         });
  return clock_ok && notify_ok && signal_ok && thread_ok && t.id >= 0 && t.id <= KCR_TIMER_ID_MAX &&
         (t.flags & ~KCR_TIMER_SIGNAL_QUEUED) == 0 && t.left_ns <= kMaxNs &&
         t.interval_ns <= kMaxNs;
}

Status Malformed(std::string_view what, uint64_t offset) {
  return Errorf(EBADMSG, "corrupt image: {} (at offset {})", what, offset);
}

// Reads a T from the front of `rest`, advancing it; false if too short.
template <typename T>
bool Take(std::span<const uint8_t>* rest, T* out) {
  if (rest->size() < sizeof(T))
    return false;
  std::memcpy(out, rest->data(), sizeof(T));
  *rest = rest->subspan(sizeof(T));
  return true;
}

bool TakeString(std::span<const uint8_t>* rest, uint32_t len, std::string* out) {
  if (rest->size() < Align8(len))
    return false;
  out->assign(reinterpret_cast<const char*>(rest->data()), len);
  *rest = rest->subspan(Align8(len));
  return true;
}

const char* SectionName(uint32_t type) {
  switch (type) {
    case KCR_SEC_END:
      return "end";
    case KCR_SEC_THREAD:
      return "thread";
    case KCR_SEC_MM:
      return "mm";
    case KCR_SEC_VMAS:
      return "vmas";
    case KCR_SEC_SIGNALS:
      return "signals";
    case KCR_SEC_FILES:
      return "files";
    case KCR_SEC_FS:
      return "fs";
    case KCR_SEC_GHOST:
      return "ghost";
    case KCR_SEC_PAGES:
      return "pages";
    case KCR_SEC_LOCKS:
      return "locks";
    case KCR_SEC_TREE:
      return "tree";
    case KCR_SEC_TIMERS:
      return "timers";
    case KCR_SEC_MEMFD:
      return "memfd";
    case KCR_SEC_FILE_IDS:
      return "file identity";
  }
  return "unknown";
}

// A section of fixed-size records: at least one, at most `max`, filling it.
template <typename T>
bool TakeRecords(const kcr_section& s, std::span<const uint8_t> data, uint32_t max,
                 std::vector<T>* out) {
  if (s.count == 0 || s.count > max || s.size != uint64_t{s.count} * sizeof(T))
    return false;
  out->resize(s.count);
  std::memcpy(out->data(), data.data(), data.size());
  return true;
}

// The rules the module checks too (kcr_file_identity_valid()).
bool FileIdentityValid(const kcr_file_identity& id, size_t vma) {
  constexpr uint32_t kSummed = KCR_FILE_ID_CHECKSUM | KCR_FILE_ID_SAMPLED;
  constexpr uint32_t kKnown = KCR_FILE_ID_BUILD_ID | kSummed;
  return id.vma == vma && !(id.flags & ~kKnown) && std::popcount(id.flags) <= 1 &&
         id.build_id_len <= KCR_BUILD_ID_MAX &&
         ((id.flags & KCR_FILE_ID_BUILD_ID) != 0) == (id.build_id_len != 0) &&
         ((id.flags & kSummed) != 0 || id.checksum == 0);
}

}  // namespace

uint64_t Hash64(const void* data, size_t len, uint64_t seed) {
  return XXH64(data, len, seed);
}

static_assert(sizeof(kcr_image_header) == KCR_HEADER_SIZE);

Image::HeaderCheck Image::CheckHeader(const kcr_image_header& h, uint64_t file_bytes) {
  HeaderCheck c;
  if (std::memcmp(h.magic, KCR_IMAGE_MAGIC, sizeof(h.magic)) != 0) {
    c.status = Status::Error(EBADMSG, "not a kcr image (bad magic)");
    return c;
  }
  c.is_image = true;
  if (h.version < KCR_IMAGE_VERSION_MIN || h.version > KCR_IMAGE_VERSION ||
      h.header_size != KCR_HEADER_SIZE) {
    c.status = Errorf(EPROTONOSUPPORT,
                      "image format version {} is not supported (this kcr reads "
                      "versions {} to {}); use the kcr that wrote it",
                      h.version, KCR_IMAGE_VERSION_MIN, KCR_IMAGE_VERSION);
    return c;
  }
  kcr_image_header copy = h;
  copy.checksum = 0;
  if (Hash64(&copy, sizeof(copy), 0) != h.checksum) {
    c.status = Status::Error(EBADMSG, "corrupt image: header checksum mismatch");
    return c;
  }
  c.header_ok = true;
  if (h.image_bytes != file_bytes) {
    c.status = Errorf(EBADMSG, "image is {} bytes but its header says {}: {}", file_bytes,
                      h.image_bytes, file_bytes < h.image_bytes ? "truncated" : "followed by junk");
  }
  return c;
}

Image::HeaderCheck Image::ReadHeader(const std::string& path, kcr_image_header* header,
                                     uint64_t* file_bytes) {
  HeaderCheck c;
  std::memset(header, 0, sizeof(*header));
  *file_bytes = 0;
  UniqueFd fd(::open(path.c_str(), kOpenFlags));
  if (!fd.valid()) {
    c.status = SysError("cannot open image {}", path);
    return c;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    c.status = Errorf(EINVAL, "{} is not a regular file", path);
    return c;
  }
  *file_bytes = static_cast<uint64_t>(st.st_size);
  ssize_t n = ::pread(fd.get(), header, sizeof(*header), 0);
  if (n != static_cast<ssize_t>(sizeof(*header))) {
    c.is_image = n >= 8 && std::memcmp(header->magic, KCR_IMAGE_MAGIC, 8) == 0;
    c.status = Errorf(EBADMSG, "{}: only {} bytes, shorter than an image header{}", path,
                      st.st_size, c.is_image ? " (truncated)" : "; not a kcr image");
    return c;
  }
  c = CheckHeader(*header, *file_bytes);
  c.status = c.status.With(path);
  return c;
}

Status Image::Open(const std::string& path, std::unique_ptr<Image>* out) {
  UniqueFd fd(::open(path.c_str(), kOpenFlags));
  if (!fd.valid())
    return SysError("cannot open image {}", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    return SysError("cannot stat image {}", path);
  if (!S_ISREG(st.st_mode))
    return Errorf(EINVAL, "{} is not a regular file", path);
  if (st.st_size < KCR_HEADER_SIZE) {
    return Errorf(EBADMSG, "{} is not a kcr image: only {} bytes (truncated?)", path, st.st_size);
  }
  std::unique_ptr<Image> image(new Image());
  image->path_ = path;
  image->size_ = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, image->size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (map == MAP_FAILED)
    return SysError("cannot map image {}", path);
  image->map_ = static_cast<const uint8_t*>(map);
  image->fd_ = std::move(fd);
  KCR_RETURN_IF_ERROR(image->Parse().With(path));
  *out = std::move(image);
  return Status::Ok();
}

Image::~Image() {
  if (map_)
    ::munmap(const_cast<uint8_t*>(map_), size_);
}

Status Image::Parse() {
  std::memcpy(&header_, map_, sizeof(header_));
  HeaderCheck check = CheckHeader(header_, size_);
  if (!check.status.ok())
    return check.status;
  header_.release[KCR_UTS_LEN - 1] = 0;
  header_.kversion[KCR_UTS_LEN - 1] = 0;
  header_.comm[sizeof(header_.comm) - 1] = 0;

  uint64_t pos = KCR_HEADER_SIZE;
  uint32_t count = 0;
  for (;;) {
    kcr_section s;
    if (size_ - pos < sizeof(s))
      return Malformed("truncated section header", pos);
    std::memcpy(&s, map_ + pos, sizeof(s));
    uint64_t payload = pos + sizeof(s);
    if (s.type >= KCR_SEC_MAX)
      return Malformed("unknown section type", pos);
    if (s.size > size_ - payload || Align8(s.size) > size_ - payload) {
      return Malformed(fmt::format("{} section runs past the end", SectionName(s.type)), pos);
    }
    if (seen_sections_ & (1U << s.type))
      return Malformed("duplicate section", pos);
    seen_sections_ |= 1U << s.type;
    ++count;
    std::span<const uint8_t> data(map_ + payload, s.size);
    if (s.type != KCR_SEC_PAGES && Hash64(data.data(), data.size(), 0) != s.checksum) {
      return Malformed(fmt::format("{} section checksum mismatch", SectionName(s.type)), pos);
    }
    KCR_RETURN_IF_ERROR(ParseSection(s, data, payload));
    pos = payload + Align8(s.size);
    if (s.type == KCR_SEC_END)
      break;
  }
  if (pos != size_)
    return Malformed("data after the end section", pos);
  if (count != header_.nr_sections)
    return Malformed("section count differs from header", pos);
  for (uint32_t need : {KCR_SEC_THREAD, KCR_SEC_MM, KCR_SEC_VMAS, KCR_SEC_SIGNALS, KCR_SEC_FILES,
                        KCR_SEC_FS, KCR_SEC_PAGES}) {
    if (!(seen_sections_ & (1U << need))) {
      return Malformed(fmt::format("{} section missing", SectionName(need)), pos);
    }
  }
  for (const kcr_pending_signal& p : pending_) {
    if (p.thread != KCR_PENDING_PROCESS && p.thread >= threads_.size())
      return Malformed("signal pending for a thread the image lacks", pos);
  }
  for (size_t i = 0; i < fds_.size(); i++) {
    const kcr_fd& f = fds_[i].fd;
    if (f.kind == KCR_FD_SAME &&
        std::none_of(fds_.begin(), fds_.begin() + static_cast<std::ptrdiff_t>(i),
                     [&](const FdRecord& e) {
                       return e.fd.fd == f.same_as && e.fd.kind != KCR_FD_INHERIT;
                     })) {
      return Malformed("fd sharing the file of no earlier fd", pos);
    }
  }
  if (has_tree()) {
    if (tree_fds_.size() != fds_.size())
      return Malformed("tree section and file table differ", pos);
    for (size_t i = 0; i < fds_.size(); i++) {
      if (tree_fds_[i].fd != fds_[i].fd.fd)
        return Malformed("tree section and file table differ", pos);
    }
  }
  for (const FdRecord& f : fds_) {
    if (f.fd.kind == KCR_FD_PIPE && !has_tree())
      return Malformed("pipe outside a tree's member", pos);
    if (f.fd.kind == KCR_FD_GHOST && f.fd.ghost_id >= ghosts_.size()) {
      return Malformed("deleted-file record without its contents", pos);
    }
  }
  constexpr uint64_t kMaxOffset = std::numeric_limits<int64_t>::max();
  for (const kcr_file_lock& l : locks_) {
    const bool through_file = std::any_of(fds_.begin(), fds_.end(), [&](const FdRecord& f) {
      return f.fd.fd == l.fd && f.fd.kind == KCR_FD_REG;
    });
    const bool range_ok = l.kind == KCR_LOCK_FLOCK
                              ? l.start == 0 && l.len == 0
                              : l.start <= kMaxOffset && l.len <= kMaxOffset - l.start;
    if (!through_file || l.kind < KCR_LOCK_FLOCK || l.kind > KCR_LOCK_OFD ||
        (l.type != KCR_LOCK_READ && l.type != KCR_LOCK_WRITE) || l.pad || !range_ok) {
      return Malformed("file lock record", pos);
    }
  }
  for (const FdRecord& f : fds_) {
    if (f.fd.kind == KCR_FD_MEMFD && f.fd.ghost_id >= memfds_.size())
      return Malformed("fd of a memfd the image lacks", pos);
  }
  for (const VmaRecord& v : vmas_) {
    const bool memfd = v.vma.kind == KCR_VMA_MEMFD_PRIVATE || v.vma.kind == KCR_VMA_MEMFD_SHARED;
    if (memfd && (v.vma.memfd_id >= memfds_.size() ||
                  memfds_[v.vma.memfd_id].memfd.size != v.vma.file_size)) {
      return Malformed("mapping of a memfd the image lacks", pos);
    }
  }
  // One identity per file mapping, in order, in a version 6 image.
  size_t next_id = 0;
  for (size_t i = 0; i < vmas_.size(); i++) {
    VmaRecord& v = vmas_[i];
    if (v.vma.kind != KCR_VMA_FILE_PRIVATE && v.vma.kind != KCR_VMA_FILE_SHARED)
      continue;
    if (header_.version < KCR_IMAGE_VERSION_FILE_IDS)
      continue;
    if (next_id >= file_ids_.size() || !FileIdentityValid(file_ids_[next_id], i))
      return Malformed("file identity table", pos);
    v.identity = file_ids_[next_id++];
  }
  if (next_id != file_ids_.size())
    return Malformed("file identity table", pos);
  file_ids_.clear();
  std::set<int32_t> timer_ids;
  for (const kcr_posix_timer& t : timers_) {
    if (!TimerRecordValid(t, threads_) || !timer_ids.insert(t.id).second)
      return Malformed("timer record", pos);
  }
  return Status::Ok();
}

Status Image::ParseSection(const kcr_section& s, std::span<const uint8_t> data, uint64_t offset) {
  std::span<const uint8_t> rest = data;
  switch (s.type) {
    case KCR_SEC_END:
      return Status::Ok();
    case KCR_SEC_THREAD: {
      const uint64_t record = sizeof(kcr_thread) + uint64_t{header_.xstate_size};
      if (s.count == 0 || s.count > kMaxThreads || rest.size() != s.count * record) {
        return Malformed("thread section size", offset);
      }
      for (uint32_t i = 0; i < s.count; i++) {
        ThreadRecord t;
        Take(&rest, &t.thread);
        if (t.thread.xstate_size != header_.xstate_size)
          return Malformed("thread record size", offset);
        t.xstate = rest.first(t.thread.xstate_size);
        rest = rest.subspan(t.thread.xstate_size);
        threads_.push_back(t);
      }
      return Status::Ok();
    }
    case KCR_SEC_MM:
      if (!Take(&rest, &mm_) || !rest.empty())
        return Malformed("mm section size", offset);
      if (mm_.flags & ~KCR_MM_FLAGS_ALL) {
        // Not damage: a newer kcr's image. Unsupported, never "corrupt",
        // which would let prune delete it.
        return Errorf(EPROTONOSUPPORT,
                      "image uses memory flags {:#x} this kcr does not know; use the kcr "
                      "that wrote it",
                      mm_.flags & ~KCR_MM_FLAGS_ALL);
      }
      return Status::Ok();
    case KCR_SEC_VMAS:
      for (uint32_t i = 0; i < s.count; i++) {
        VmaRecord r;
        if (!Take(&rest, &r.vma) || !TakeString(&rest, r.vma.path_len, &r.path)) {
          return Malformed("mapping table", offset);
        }
        vmas_.push_back(std::move(r));
      }
      if (!rest.empty() || vmas_.size() != mm_.nr_vmas)
        return Malformed("mapping count", offset);
      return Status::Ok();
    case KCR_SEC_SIGNALS:
      if (!Take(&rest, &signals_) || signals_.nr_pending != s.count ||
          rest.size() != uint64_t{s.count} * sizeof(kcr_pending_signal)) {
        return Malformed("signal section", offset);
      }
      pending_.resize(s.count);
      if (s.count)
        std::memcpy(pending_.data(), rest.data(), rest.size());
      return Status::Ok();
    case KCR_SEC_FILES:
      for (uint32_t i = 0; i < s.count; i++) {
        FdRecord r;
        if (!Take(&rest, &r.fd) || !TakeString(&rest, r.fd.path_len, &r.path)) {
          return Malformed("file table", offset);
        }
        fds_.push_back(std::move(r));
      }
      if (!rest.empty())
        return Malformed("file table size", offset);
      return Status::Ok();
    case KCR_SEC_FS:
      if (!Take(&rest, &fs_) || !TakeString(&rest, fs_.cwd_len, &cwd_) || !rest.empty()) {
        return Malformed("fs section", offset);
      }
      return Status::Ok();
    case KCR_SEC_GHOST:
      for (uint32_t i = 0; i < s.count; i++) {
        GhostRecord g;
        // size first: Align8() of a size near 2^64 wraps to a small number.
        if (!Take(&rest, &g.ghost) || g.ghost.size > rest.size() ||
            rest.size() < Align8(g.ghost.size) || g.ghost.id != i) {
          return Malformed("deleted-file contents", offset);
        }
        g.contents = rest.first(g.ghost.size);
        rest = rest.subspan(Align8(g.ghost.size));
        ghosts_.push_back(g);
      }
      if (!rest.empty())
        return Malformed("deleted-file section size", offset);
      return Status::Ok();
    case KCR_SEC_LOCKS:
      if (header_.version < KCR_IMAGE_VERSION_LOCKS)
        return Malformed("file lock section in an image of a version without one", offset);
      if (!TakeRecords(s, rest, UINT32_MAX, &locks_))
        return Malformed("file lock section size", offset);
      return Status::Ok();
    case KCR_SEC_MEMFD:
      if (header_.version < KCR_IMAGE_VERSION_MEMFD)
        return Malformed("memfd section in an image of a version without one", offset);
      if (s.count == 0 || s.count > KCR_MAX_MEMFDS)
        return Malformed("memfd section count", offset);
      for (uint32_t i = 0; i < s.count; i++) {
        MemfdRecord m;
        // size first: Align8() of a size near 2^64 wraps to a small number.
        if (!Take(&rest, &m.memfd) || m.memfd.id != i || m.memfd.pad ||
            m.memfd.name_len > KCR_MEMFD_NAME_MAX || (m.memfd.seals & ~kKnownSeals) ||
            !TakeString(&rest, m.memfd.name_len, &m.name) ||
            m.name.find('\0') != std::string::npos || m.memfd.size > rest.size() ||
            rest.size() < Align8(m.memfd.size)) {
          return Malformed("memfd record", offset);
        }
        m.contents = rest.first(m.memfd.size);
        rest = rest.subspan(Align8(m.memfd.size));
        memfds_.push_back(std::move(m));
      }
      if (!rest.empty())
        return Malformed("memfd section size", offset);
      return Status::Ok();
    case KCR_SEC_FILE_IDS:
      if (header_.version < KCR_IMAGE_VERSION_FILE_IDS)
        return Malformed("file identity section in an image of a version without one", offset);
      if (!TakeRecords(s, rest, UINT32_MAX, &file_ids_))
        return Malformed("file identity section size", offset);
      return Status::Ok();
    case KCR_SEC_TIMERS:
      if (header_.version < KCR_IMAGE_VERSION_TIMERS)
        return Malformed("timer section in an image of a version without one", offset);
      if (!TakeRecords(s, rest, KCR_MAX_TIMERS, &timers_))
        return Malformed("timer section size", offset);
      return Status::Ok();
    case KCR_SEC_TREE:
      if (header_.version < KCR_IMAGE_VERSION_TREE)
        return Malformed("tree section in an image of a version without one", offset);
      if (!Take(&rest, &tree_place_) || rest.size() != uint64_t{s.count} * sizeof(kcr_tree_fd))
        return Malformed("tree section size", offset);
      tree_fds_.resize(s.count);
      if (s.count)
        std::memcpy(tree_fds_.data(), rest.data(), rest.size());
      return Status::Ok();
    case KCR_SEC_PAGES: {
      uint64_t pos = 0, prev_end = 0;
      while (pos < data.size()) {
        PageChunkRef ref;
        if (data.size() - pos < sizeof(ref.chunk))
          return Malformed("page chunk", offset + pos);
        std::memcpy(&ref.chunk, data.data() + pos, sizeof(ref.chunk));
        uint64_t len = uint64_t{ref.chunk.nr_pages} * KCR_PAGE_SIZE;
        pos += sizeof(ref.chunk);
        if (ref.chunk.nr_pages == 0 || ref.chunk.nr_pages > KCR_CHUNK_MAX_PAGES ||
            ref.chunk.addr % KCR_PAGE_SIZE || ref.chunk.addr < prev_end ||
            len > data.size() - pos) {
          return Malformed("page chunk header", offset + pos);
        }
        ref.data_offset = offset + pos;
        prev_end = ref.chunk.addr + len;
        pos += len;
        chunks_.push_back(ref);
      }
      return Status::Ok();
    }
  }
  return Malformed("unknown section", offset);
}

uint64_t Image::page_bytes() const {
  uint64_t n = 0;
  for (const PageChunkRef& c : chunks_)
    n += uint64_t{c.chunk.nr_pages} * KCR_PAGE_SIZE;
  return n;
}

void Image::ForgetMapped(uint64_t offset, uint64_t len) const {
  const uint64_t page = KCR_PAGE_SIZE;
  uint64_t start = (reinterpret_cast<uintptr_t>(map_) + offset + page - 1) & ~(page - 1);
  uint64_t end = (reinterpret_cast<uintptr_t>(map_) + offset + len) & ~(page - 1);
  if (start < end)
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
}

Status Image::VerifyChunk(const PageChunkRef& c, const void* bytes) const {
  uint64_t len = uint64_t{c.chunk.nr_pages} * KCR_PAGE_SIZE;
  if (Hash64(bytes, len, c.chunk.addr) == c.chunk.checksum)
    return Status::Ok();
  return Errorf(EBADMSG,
                "{}: corrupt image: memory at {:#x} ({} pages, offset {}) fails its "
                "checksum",
                path_, c.chunk.addr, c.chunk.nr_pages, c.data_offset);
}

// Checksums are independent per chunk, so every core verifies in parallel;
// the caller is single-threaded again once this returns (workers joined).
Status Image::VerifyPages(const Progress& progress) const {
  const uint64_t total = page_bytes();
  std::atomic<uint64_t> done{0};
  Status all = ParallelFor(chunks_.size(), ThreadsFor(total), [&](size_t i, bool on_caller) {
    const PageChunkRef& c = chunks_[i];
    KCR_RETURN_IF_ERROR(VerifyChunk(c, map_ + c.data_offset));
    uint64_t now = done += uint64_t{c.chunk.nr_pages} * KCR_PAGE_SIZE;
    if (on_caller && progress)
      progress(now, total);
    return Status::Ok();
  });
  if (!all.ok())
    return all;
  if (progress)
    progress(total, total);
  return Status::Ok();
}

// Compact, keys in this order (nlohmann's ordered_json); tests and scripts
// parse it, so keys are only ever added.
std::string Image::DescribeJson() const {
  using Json = nlohmann::ordered_json;
  // Header strings are fixed-size arrays that need not end in a NUL.
  auto text = [](const auto& field) { return std::string(field, strnlen(field, sizeof(field))); };
  auto hex = [](uint64_t v) { return fmt::format("{:#x}", v); };
  Json vmas = Json::array();
  static const char* const kVmaKinds[] = {"anon",        "file-private",  "shared-anon",
                                          "file-shared", "memfd-private", "memfd-shared"};
  for (const VmaRecord& v : vmas_) {
    Json vma = {{"start", hex(v.vma.start)},
                {"end", hex(v.vma.end)},
                {"prot", fmt::format("{}{}{}{}", (v.vma.vm_flags & KCR_VM_READ) ? 'r' : '-',
                                     (v.vma.vm_flags & KCR_VM_WRITE) ? 'w' : '-',
                                     (v.vma.vm_flags & KCR_VM_EXEC) ? 'x' : '-',
                                     (v.vma.vm_flags & KCR_VM_SHARED) ? 's' : 'p')},
                {"kind", v.vma.kind < std::size(kVmaKinds) ? kVmaKinds[v.vma.kind] : "?"}};
    if (!v.path.empty())
      vma["path"] = v.path;
    if (v.identity) {
      vma["mtime_ns"] = v.identity->mtime_ns;
      if (v.identity->flags & KCR_FILE_ID_BUILD_ID) {
        std::string id;
        for (uint32_t b = 0; b < v.identity->build_id_len; b++)
          id += fmt::format("{:02x}", v.identity->build_id[b]);
        vma["build_id"] = id;
      } else if (v.identity->flags & (KCR_FILE_ID_CHECKSUM | KCR_FILE_ID_SAMPLED)) {
        vma["checksum"] = fmt::format("{:016x}", v.identity->checksum);
        vma["checksum_sampled"] = (v.identity->flags & KCR_FILE_ID_SAMPLED) != 0;
      }
    }
    vmas.push_back(std::move(vma));
  }
  Json threads = Json::array();
  for (const ThreadRecord& r : threads_) {
    const kcr_thread& t = r.thread;
    threads.push_back({{"tid", t.tid},
                       {"comm", text(t.comm)},
                       {"ip", hex(t.regs[16])},
                       {"sp", hex(t.regs[19])},
                       {"blocked", hex(t.blocked)},
                       {"sigaltstack", t.sas_ss_sp},
                       {"no_new_privs", (t.task_flags & KCR_TASK_NO_NEW_PRIVS) != 0},
                       {"speculation_flags", t.task_flags & KCR_TASK_SPEC_ALL}});
  }
  Json fds = Json::array();
  static const char* const kFdKinds[] = {"file",      "/dev/null", "/dev/zero", "deleted-file",
                                         "inherited", "same-as",   "pipe"};
  for (const FdRecord& f : fds_) {
    Json fd = {{"fd", f.fd.fd},
               {"kind", f.fd.kind < std::size(kFdKinds) ? kFdKinds[f.fd.kind] : "?"}};
    if (f.fd.kind == KCR_FD_PIPE)
      fd["pipe"] = f.fd.ino;
    if (f.fd.kind == KCR_FD_SAME)
      fd["same_as"] = f.fd.same_as;
    if (!f.path.empty())
      fd["path"] = f.path;
    fd["flags"] = fmt::format("{:#o}", f.fd.f_flags);
    fd["offset"] = f.fd.pos;
    fd["size"] = f.fd.size;
    fd["cloexec"] = (f.fd.fd_flags & KCR_FD_CLOEXEC) != 0;
    fds.push_back(std::move(fd));
  }
  Json locks = Json::array();
  for (const kcr_file_lock& l : locks_) {
    static constexpr const char* kKinds[] = {"?", "flock", "posix", "ofd"};
    locks.push_back({{"fd", l.fd},
                     {"kind", l.kind <= KCR_LOCK_OFD ? kKinds[l.kind] : "?"},
                     {"type", l.type == KCR_LOCK_WRITE ? "write" : "read"},
                     {"start", l.start},
                     {"len", l.len}});
  }
  Json memfds = Json::array();
  for (const MemfdRecord& m : memfds_) {
    memfds.push_back({{"id", m.memfd.id},
                      {"name", m.name},
                      {"size", m.memfd.size},
                      {"seals", fmt::format("{:#x}", m.memfd.seals)}});
  }
  Json timers = Json::array();
  for (const kcr_posix_timer& t : timers_) {
    Json timer = {{"id", t.id},        {"clock", t.clock},     {"notify", t.notify},
                  {"signal", t.signo}, {"left_ns", t.left_ns}, {"interval_ns", t.interval_ns}};
    if (t.notify & SIGEV_THREAD_ID)
      timer["thread"] = t.thread;
    timers.push_back(std::move(timer));
  }
  Json doc = {
      {"path", path_},
      {"format_version", header_.version},
      {"pid", header_.pid},
      {"uid", header_.uid},
      {"gid", header_.gid},
      {"comm", text(header_.comm)},
      {"kernel_release", text(header_.release)},
      {"kernel_version", text(header_.kversion)},
      {"created_ns", header_.created_ns},
      {"image_bytes", header_.image_bytes},
      {"pages_saved", header_.pages_saved},
      {"page_bytes", page_bytes()},
      {"page_chunks", chunks_.size()},
      {"xstate_size", header_.xstate_size},
      {"xfeatures", header_.xfeatures},
      {"freeze_ns", header_.freeze_ns},
      {"clocks",
       {{"monotonic_ns", header_.monotonic_ns},
        {"boottime_ns", header_.boottime_ns},
        {"realtime_ns", header_.realtime_ns}}},
      {"header_checksum", fmt::format("{:016x}", header_.checksum)},
      {"threads", std::move(threads)},
      {"mm",
       {{"start_brk", hex(mm_.start_brk)},
        {"brk", hex(mm_.brk)},
        {"start_stack", hex(mm_.start_stack)},
        {"vdso", hex(mm_.vdso_start)},
        {"thp_disabled", (mm_.flags & KCR_MM_THP_DISABLED) != 0},
        {"dumpable", mm_.dumpable}}},
      {"vmas", std::move(vmas)},
      {"fds", std::move(fds)},
      {"locks", std::move(locks)},
      {"memfds", std::move(memfds)},
      {"posix_timers", std::move(timers)},
      {"cwd", cwd_},
      {"umask", fmt::format("{:04o}", fs_.umask)},
      {"pending_signals", pending_.size()},
  };
  // Paths may hold any bytes; invalid UTF-8 becomes U+FFFD, not broken JSON.
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace kcr
