// A builder of small, valid kcr images, byte by byte, for unit tests of the
// readers (libkcr's Image and what the CLI builds on it) without a kernel.
#pragma once

#include <fcntl.h>
#include <kcr_uapi.h>
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace kcr::test_images {

// Builds a minimal valid image: one anonymous mapping with two pages.
class ImageBuilder {
 public:
  ImageBuilder() { bytes_.resize(KCR_HEADER_SIZE); }

  void Section(uint32_t type, uint32_t count, const std::vector<uint8_t>& payload,
               bool checksummed = true) {
    kcr_section s{};
    s.type = type;
    s.count = count;
    s.size = payload.size();
    s.checksum = checksummed ? XXH64(payload.data(), payload.size(), 0) : 0;
    Append(&s, sizeof(s));
    Append(payload.data(), payload.size());
    bytes_.resize((bytes_.size() + 7) & ~size_t{7});
    sections_++;
  }

  template <typename T>
  static void Put(std::vector<uint8_t>* v, const T& t) {
    auto p = reinterpret_cast<const uint8_t*>(&t);
    v->insert(v->end(), p, p + sizeof(T));
  }
  static void PutString(std::vector<uint8_t>* v, const std::string& s) {
    v->insert(v->end(), s.begin(), s.end());
    v->resize((v->size() + 7) & ~size_t{7});
  }

  std::vector<uint8_t> BuildDefault(const std::string& out_path, uint64_t out_size) {
    std::vector<uint8_t> p;
    kcr_thread th{};
    th.tid = 42;
    th.xstate_size = 64;
    Put(&p, th);
    p.resize(p.size() + 64, 0xab);
    Section(KCR_SEC_THREAD, 1, p);

    kcr_mm mm{};
    mm.nr_vmas = file_path_ ? 2 : 1;
    mm.vdso_start = 0x7fff0000;
    mm.vdso_end = 0x7fff2000;
    mm.flags = mm_flags_;
    p.clear();
    Put(&p, mm);
    Section(KCR_SEC_MM, 1, p);

    kcr_vma v{};
    v.start = 0x10000;
    v.end = 0x14000;
    v.vm_flags = 3;
    p.clear();
    Put(&p, v);
    if (file_path_) {
      kcr_vma f{};
      f.start = 0x20000;
      f.end = 0x21000;
      f.vm_flags = 5;
      f.kind = KCR_VMA_FILE_PRIVATE;
      f.path_len = static_cast<uint32_t>(file_path_->size());
      f.file_size = 4096;
      Put(&p, f);
      PutString(&p, *file_path_);
    }
    Section(KCR_SEC_VMAS, file_path_ ? 2 : 1, p);
    if (!file_ids_.empty()) {
      p.clear();
      for (const kcr_file_identity& id : file_ids_)
        Put(&p, id);
      Section(KCR_SEC_FILE_IDS, static_cast<uint32_t>(file_ids_.size()), p);
    }

    kcr_signals sig{};
    p.clear();
    Put(&p, sig);
    Section(KCR_SEC_SIGNALS, 0, p);

    kcr_fd f{};
    f.fd = 1;
    f.kind = KCR_FD_REG;
    f.f_flags = O_WRONLY;
    f.size = out_size;
    f.mode = 0100644;
    f.path_len = static_cast<uint32_t>(out_path.size());
    p.clear();
    Put(&p, f);
    PutString(&p, out_path);
    if (memfd_fd_id_ >= 0) {
      kcr_fd m{};
      m.fd = 3;
      m.kind = KCR_FD_MEMFD;
      m.f_flags = O_RDWR;
      m.ghost_id = static_cast<uint32_t>(memfd_fd_id_);
      Put(&p, m);
    }
    Section(KCR_SEC_FILES, memfd_fd_id_ >= 0 ? 2 : 1, p);
    if (memfd_) {
      p.clear();
      Put(&p, memfd_->record);
      PutString(&p, memfd_->name);
      p.insert(p.end(), memfd_->contents.begin(), memfd_->contents.end());
      p.resize((p.size() + 7) & ~size_t{7});
      Section(KCR_SEC_MEMFD, 1, p);
    }

    kcr_fs fsrec{};
    fsrec.umask = 022;
    fsrec.cwd_len = 1;
    p.clear();
    Put(&p, fsrec);
    PutString(&p, "/");
    Section(KCR_SEC_FS, 1, p);

    if (!timers_.empty()) {
      p.clear();
      for (const kcr_posix_timer& t : timers_)
        Put(&p, t);
      Section(KCR_SEC_TIMERS, static_cast<uint32_t>(timers_.size()), p);
    }
    if (!locks_.empty()) {
      p.clear();
      for (const kcr_file_lock& l : locks_)
        Put(&p, l);
      Section(KCR_SEC_LOCKS, static_cast<uint32_t>(locks_.size()), p);
    }

    if (ghost_size_) {
      // A deleted-file record that claims *ghost_size_ bytes and carries 8.
      kcr_ghost g{};
      g.size = *ghost_size_;
      p.clear();
      Put(&p, g);
      p.resize(p.size() + 8, 0x5a);
      Section(KCR_SEC_GHOST, 1, p);
    }

    p.clear();
    std::vector<uint8_t> pages(2 * KCR_PAGE_SIZE);
    for (size_t i = 0; i < pages.size(); i++)
      pages[i] = static_cast<uint8_t>(i * 13);
    kcr_page_chunk c{};
    c.addr = 0x11000;
    c.nr_pages = 2;
    c.checksum = XXH64(pages.data(), pages.size(), c.addr);
    Put(&p, c);
    p.insert(p.end(), pages.begin(), pages.end());
    // The chunk's pages follow the section header and the chunk header.
    first_page_offset_ = bytes_.size() + sizeof(kcr_section) + sizeof(kcr_page_chunk);
    Section(KCR_SEC_PAGES, 1, p, false);
    Section(KCR_SEC_END, 0, {});

    kcr_image_header h{};
    std::memcpy(h.magic, KCR_IMAGE_MAGIC, 8);
    h.version = version_                  ? version_
                : file_path_              ? KCR_IMAGE_VERSION_FILE_IDS
                : memfd_                  ? KCR_IMAGE_VERSION_MEMFD
                : !timers_.empty()        ? KCR_IMAGE_VERSION_TIMERS
                : locks_.empty()          ? KCR_IMAGE_VERSION_MIN
                                          : KCR_IMAGE_VERSION_LOCKS;
    h.header_size = KCR_HEADER_SIZE;
    h.arch = KCR_ARCH_X86_64;
    h.nr_sections = sections_;
    h.image_bytes = bytes_.size();
    h.pid = 1234;
    h.xstate_size = 64;
    std::strcpy(h.comm, "unit");
    std::strcpy(h.release, "6.1.0-test");
    h.checksum = XXH64(&h, sizeof(h), 0);
    std::memcpy(bytes_.data(), &h, sizeof(h));
    return bytes_;
  }

 // kcr_mm.flags of the next BuildDefault().
  ImageBuilder& MmFlags(uint32_t flags) {
    mm_flags_ = flags;
    return *this;
  }

  // Adds a deleted-file section whose one record claims `size` bytes.
  ImageBuilder& GhostClaiming(uint64_t size) {
    ghost_size_ = size;
    return *this;
  }

  // A LOCKS section with these records.
  ImageBuilder& Locks(std::vector<kcr_file_lock> locks) {
    locks_ = std::move(locks);
    return *this;
  }

  // A MEMFD section with one memfd (record fields as given, name and
  // contents sizes unless set), and an fd 3 naming record fd_id (-1: none).
  ImageBuilder& Memfd(const std::string& name, const std::string& contents, uint32_t seals,
                      int fd_id, kcr_memfd record = {}) {
    if (!record.name_len)
      record.name_len = static_cast<uint32_t>(name.size());
    if (!record.size)
      record.size = contents.size();
    record.seals = seals;
    memfd_ = MemfdPart{record, name, contents};
    memfd_fd_id_ = fd_id;
    return *this;
  }

  // A TIMERS section with these records.
  ImageBuilder& Timers(std::vector<kcr_posix_timer> timers) {
    timers_ = std::move(timers);
    return *this;
  }

  // The header's format version (default: what kcr writes for the image).
  // A second mapping, of the file at `path` (private), and a FILE_IDS
  // section with these records (none: no section).
  ImageBuilder& FileMapping(const std::string& path, std::vector<kcr_file_identity> ids) {
    file_path_ = path;
    file_ids_ = std::move(ids);
    return *this;
  }

  ImageBuilder& Version(uint32_t version) {
    version_ = version;
    return *this;
  }

  // File offset of the first byte of the image's (only) memory chunk.
  uint64_t first_page_offset() const { return first_page_offset_; }

  // Rewrites the header checksum after a deliberate header edit.
  static void Reseal(std::vector<uint8_t>* image) {
    kcr_image_header h{};
    std::memcpy(&h, image->data(), sizeof h);
    h.checksum = 0;
    h.checksum = XXH64(&h, sizeof h, 0);
    std::memcpy(image->data(), &h, sizeof h);
  }

 private:
  void Append(const void* d, size_t n) {
    auto p = static_cast<const uint8_t*>(d);
    bytes_.insert(bytes_.end(), p, p + n);
  }
  std::vector<uint8_t> bytes_;
  uint32_t sections_ = 0;
  uint64_t first_page_offset_ = 0;
  uint32_t mm_flags_ = 0;
  std::optional<uint64_t> ghost_size_;
  std::vector<kcr_file_lock> locks_;
  std::vector<kcr_posix_timer> timers_;
  struct MemfdPart {
    kcr_memfd record;
    std::string name, contents;
  };
  std::optional<MemfdPart> memfd_;
  int memfd_fd_id_ = -1;
  uint32_t version_ = 0;
  std::optional<std::string> file_path_;
  std::vector<kcr_file_identity> file_ids_;
};

}  // namespace kcr::test_images
