// Image: a read-only view of a kcr image file (format: kmod/uapi/kcr_uapi.h,
// docs/image-format.md). Open() checks the structure and every metadata
// checksum; VerifyPages() re-reads the memory chunks' checksums too.
#pragma once

#include <kcr/export.h>

#include <kcr/kcr_uapi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <kcr/status.h>
#include <kcr/unique_fd.h>

namespace kcr {

struct VmaRecord {
  kcr_vma vma;
  std::string path;
  // A file mapping's, from a version 6 image (FILE_IDS).
  std::optional<kcr_file_identity> identity;
};

struct FdRecord {
  kcr_fd fd;
  std::string path;
};

struct GhostRecord {
  kcr_ghost ghost;
  std::span<const uint8_t> contents;
};

// A memfd of the process: its record, name (without "memfd:") and contents.
struct MemfdRecord {
  kcr_memfd memfd;
  std::string name;
  std::span<const uint8_t> contents;
};

// One thread of the image: its record and its XSAVE area.
struct ThreadRecord {
  kcr_thread thread;
  std::span<const uint8_t> xstate;
};

struct PageChunkRef {
  kcr_page_chunk chunk;
  uint64_t data_offset;  // file offset of the chunk's first page
};

class KCR_EXPORT Image {
 public:
  using Progress = std::function<void(uint64_t done, uint64_t total)>;

  static Status Open(const std::string& path, std::unique_ptr<Image>* out);

  // The header alone, for scanning many files cheaply (the catalog's rebuild).
  struct HeaderCheck {
    bool is_image = false;   // the magic is there
    bool header_ok = false;  // ... and the version and the header's checksum hold
    Status status;           // the first problem, including a file size that differs
  };
  static HeaderCheck ReadHeader(const std::string& path, kcr_image_header* header,
                                uint64_t* file_bytes);
  ~Image();
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  // Checks every chunk's checksum, on every core.
  Status VerifyPages(const Progress& progress = {}) const;
  // Checks one chunk's checksum against its bytes, wherever they were read to.
  Status VerifyChunk(const PageChunkRef& chunk, const void* bytes) const;
  // The image file's bytes at offset (the whole file is mapped).
  const uint8_t* bytes_at(uint64_t offset) const { return map_ + offset; }
  // Drops this process's page table entries for the whole pages within
  // [offset, offset + len) of the mapped file; they read the same afterwards.
  // A restart calls this on each chunk it is done with, on the worker that
  // copied it, so that the module's final unmap does not tear down a mapping
  // as large as the image alone on one core.
  void ForgetMapped(uint64_t offset, uint64_t len) const;

  const std::string& path() const { return path_; }
  // The one descriptor the image was read through: a restart verifies and
  // restores what it read through this, never the path opened again (the
  // file there may have been replaced meanwhile). -1 once taken.
  int fd() const { return fd_.get(); }
  UniqueFd TakeFd() { return std::move(fd_); }
  const kcr_image_header& header() const { return header_; }
  // Every thread, the main one (the process) first.
  const std::vector<ThreadRecord>& threads() const { return threads_; }
  const kcr_thread& thread() const { return threads_.front().thread; }
  std::span<const uint8_t> xstate() const { return threads_.front().xstate; }
  const kcr_mm& mm() const { return mm_; }
  const std::vector<VmaRecord>& vmas() const { return vmas_; }
  const kcr_signals& signals() const { return signals_; }
  const std::vector<kcr_pending_signal>& pending() const { return pending_; }
  const std::vector<FdRecord>& fds() const { return fds_; }
  const std::vector<GhostRecord>& ghosts() const { return ghosts_; }
  // The file locks the process held (each to be taken through a regular
  // file's fd of fds()).
  const std::vector<kcr_file_lock>& locks() const { return locks_; }
  // The memfds the process had open or mapped, by kcr_fd.ghost_id (KCR_FD_MEMFD)
  // and kcr_vma.memfd_id.
  const std::vector<MemfdRecord>& memfds() const { return memfds_; }
  // The process's POSIX timers (timer_create), in the kernel's order.
  const std::vector<kcr_posix_timer>& timers() const { return timers_; }
  // A tree's member only (has_tree()): its parent, group and session, and per
  // fd of fds() (same order) which open file it is.
  bool has_tree() const { return (seen_sections_ & (1U << KCR_SEC_TREE)) != 0; }
  const kcr_tree_process& tree_place() const { return tree_place_; }
  const std::vector<kcr_tree_fd>& tree_fds() const { return tree_fds_; }
  const kcr_fs& fs() const { return fs_; }
  const std::string& cwd() const { return cwd_; }
  const std::vector<PageChunkRef>& chunks() const { return chunks_; }
  uint64_t page_bytes() const;

  std::string DescribeJson() const;

 private:
  Image() = default;
  static HeaderCheck CheckHeader(const kcr_image_header& h, uint64_t file_bytes);
  Status Parse();
  Status ParseSection(const kcr_section& s, std::span<const uint8_t> payload, uint64_t offset);

  std::string path_;
  UniqueFd fd_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  kcr_image_header header_{};
  std::vector<ThreadRecord> threads_;
  kcr_mm mm_{};
  std::vector<VmaRecord> vmas_;
  kcr_signals signals_{};
  std::vector<kcr_pending_signal> pending_;
  std::vector<FdRecord> fds_;
  std::vector<GhostRecord> ghosts_;
  std::vector<kcr_file_lock> locks_;
  std::vector<kcr_posix_timer> timers_;
  std::vector<kcr_file_identity> file_ids_;  // until Parse() puts each on its mapping
  std::vector<MemfdRecord> memfds_;
  kcr_tree_process tree_place_{};
  std::vector<kcr_tree_fd> tree_fds_;
  kcr_fs fs_{};
  std::string cwd_;
  std::vector<PageChunkRef> chunks_;
  uint32_t seen_sections_ = 0;
};

// xxh64 as the module computes it.
KCR_EXPORT uint64_t Hash64(const void* data, size_t len, uint64_t seed);

}  // namespace kcr
