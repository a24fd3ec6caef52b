#include "image_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace kcr::cli {

static_assert(sizeof(kcr_image_header) == KCR_HEADER_SIZE, "uapi header layout changed");
static_assert(sizeof(kcr_section) == 24 && sizeof(kcr_page_chunk) == 24, "uapi layout changed");

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct XxhState {
  void operator()(XXH64_state_t* s) const { XXH64_freeState(s); }
};

// Reads exactly len bytes at off; false on a short read or an error.
bool read_at(int fd, void* buf, std::size_t len, std::uint64_t off) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd, p, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    p += n;
    len -= static_cast<std::size_t>(n);
    off += static_cast<std::uint64_t>(n);
  }
  return true;
}

// xxh64 of [off, off + len) with `seed`, streamed through a 1 MiB buffer.
bool hash_range(int fd, std::uint64_t off, std::uint64_t len, std::uint64_t seed,
                std::uint64_t* out) {
  static thread_local std::vector<char> buf(1 << 20);
  std::unique_ptr<XXH64_state_t, XxhState> st(XXH64_createState());
  XXH64_reset(st.get(), seed);
  while (len > 0) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(len, buf.size()));
    if (!read_at(fd, buf.data(), n, off)) {
      return false;
    }
    XXH64_update(st.get(), buf.data(), n);
    off += n;
    len -= n;
  }
  *out = XXH64_digest(st.get());
  return true;
}

std::uint64_t padded(std::uint64_t n) {
  return (n + 7) & ~std::uint64_t{7};
}

// Opens the file and checks the header; the fd stays open for the caller.
ImageCheck check_header(const std::string& path, std::unique_ptr<Fd>* fd_out) {
  ImageCheck c;
  auto fd = std::make_unique<Fd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd->get() < 0) {
    c.problem = fmt::format("cannot open {}: {}", path, std::strerror(errno));
    return c;
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    c.problem = fmt::format("{} is not a regular file", path);
    return c;
  }
  c.file_bytes = static_cast<std::uint64_t>(st.st_size);
  kcr_image_header h{};
  if (c.file_bytes < sizeof h || !read_at(fd->get(), &h, sizeof h, 0)) {
    char magic[8] = {};
    c.is_image = read_at(fd->get(), magic, sizeof magic, 0) &&
                 std::memcmp(magic, KCR_IMAGE_MAGIC, sizeof magic) == 0;
    c.problem = fmt::format("{} is {} bytes, shorter than an image header ({} bytes)", path,
                            c.file_bytes, sizeof h);
    return c;
  }
  if (std::memcmp(h.magic, KCR_IMAGE_MAGIC, sizeof h.magic) != 0) {
    c.problem = fmt::format("{} is not a kcr image (no KCRIMG magic at offset 0)", path);
    return c;
  }
  c.is_image = true;
  if (h.version != KCR_IMAGE_VERSION || h.header_size != KCR_HEADER_SIZE) {
    c.problem = fmt::format(
        "{}: image format version {} (header {} bytes); this kcr reads "
        "version {} — use the kcr that wrote it",
        path, h.version, h.header_size, KCR_IMAGE_VERSION);
    return c;
  }
  kcr_image_header zeroed = h;
  zeroed.checksum = 0;
  std::uint64_t sum = XXH64(&zeroed, sizeof zeroed, 0);
  if (sum != h.checksum) {
    c.problem = fmt::format(
        "{}: header checksum mismatch (stored {:016x}, computed {:016x}): "
        "the header is damaged",
        path, h.checksum, sum);
    return c;
  }
  c.header_ok = true;
  c.header = h;
  if (h.image_bytes != c.file_bytes) {
    c.problem = fmt::format("{}: file is {} bytes but its header says {}: the image is {}", path,
                            c.file_bytes, h.image_bytes,
                            c.file_bytes < h.image_bytes ? "truncated" : "followed by junk");
  }
  *fd_out = std::move(fd);
  return c;
}

// Walks the page chunks of a PAGES payload [off, end).
std::string check_pages(int fd, const std::string& path, std::uint64_t off, std::uint64_t end) {
  while (off < end) {
    kcr_page_chunk chunk{};
    if (off + sizeof chunk > end || !read_at(fd, &chunk, sizeof chunk, off)) {
      return fmt::format("{}: page chunk header at offset {} runs past its section", path, off);
    }
    if (chunk.nr_pages == 0 || chunk.nr_pages > KCR_CHUNK_MAX_PAGES ||
        chunk.addr % KCR_PAGE_SIZE != 0) {
      return fmt::format("{}: page chunk at offset {} is malformed (address {:#x}, {} pages)", path,
                         off, chunk.addr, chunk.nr_pages);
    }
    const std::uint64_t data = off + sizeof chunk;
    const std::uint64_t bytes = std::uint64_t{chunk.nr_pages} * KCR_PAGE_SIZE;
    if (data + bytes > end) {
      return fmt::format("{}: page chunk at offset {} ({} pages) runs past its section", path, off,
                         chunk.nr_pages);
    }
    std::uint64_t sum = 0;
    if (!hash_range(fd, data, bytes, chunk.addr, &sum)) {
      return fmt::format("{}: read error in the pages at offset {}", path, data);
    }
    if (sum != chunk.checksum) {
      return fmt::format(
          "{}: checksum mismatch in the {} pages at address {:#x} (file offset "
          "{}): memory contents are damaged",
          path, chunk.nr_pages, chunk.addr, data);
    }
    off = data + bytes;
  }
  return {};
}

}  // namespace

ImageCheck read_image_header(const std::string& path) {
  std::unique_ptr<Fd> fd;
  return check_header(path, &fd);
}

ImageCheck verify_image(const std::string& path) {
  std::unique_ptr<Fd> fd;
  ImageCheck c = check_header(path, &fd);
  if (!c.ok()) {
    return c;
  }
  const std::uint64_t size = c.file_bytes;
  std::uint64_t off = KCR_HEADER_SIZE;
  for (std::uint32_t index = 0;; ++index) {
    kcr_section s{};
    if (off + sizeof s > size || !read_at(fd->get(), &s, sizeof s, off)) {
      c.problem = fmt::format(
          "{}: section {} at offset {} runs past the end of the file: the "
          "image is truncated (no END section)",
          path, index, off);
      return c;
    }
    const std::uint64_t payload = off + sizeof s;
    if (s.type >= KCR_SEC_MAX) {
      c.problem =
          fmt::format("{}: section {} at offset {} has unknown type {}", path, index, off, s.type);
      return c;
    }
    if (s.size > size || payload + padded(s.size) > size) {
      c.problem = fmt::format(
          "{}: section {} (type {}) at offset {} claims {} bytes, past the "
          "end of the file",
          path, index, s.type, off, s.size);
      return c;
    }
    if (s.type == KCR_SEC_END) {
      if (s.size != 0 || payload != size) {
        c.problem = fmt::format(
            "{}: END section at offset {} does not end the file ({} bytes "
            "follow it)",
            path, off, size - payload);
      } else if (index + 1 != c.header.nr_sections) {
        c.problem = fmt::format("{}: {} sections found, header says {}", path, index + 1,
                                c.header.nr_sections);
      }
      return c;
    }
    if (s.type == KCR_SEC_PAGES) {
      c.problem = check_pages(fd->get(), path, payload, payload + s.size);
    } else {
      std::uint64_t sum = 0;
      if (!hash_range(fd->get(), payload, s.size, 0, &sum)) {
        c.problem = fmt::format("{}: read error in section {} at offset {}", path, index, off);
      } else if (sum != s.checksum) {
        c.problem = fmt::format(
            "{}: checksum mismatch in section {} (type {}) at offset {}: "
            "the image is damaged",
            path, index, s.type, off);
      }
    }
    if (!c.problem.empty()) {
      return c;
    }
    off = payload + padded(s.size);
  }
}

std::string header_release(const kcr_image_header& h) {
  return std::string(h.release, strnlen(h.release, sizeof h.release));
}

std::string header_comm(const kcr_image_header& h) {
  return std::string(h.comm, strnlen(h.comm, sizeof h.comm));
}

}  // namespace kcr::cli
