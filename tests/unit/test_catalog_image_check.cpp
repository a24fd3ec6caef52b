// tools/image_check: the image reader behind `kcr catalog verify` and
// `rebuild`, on synthetic images built here byte by byte.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "catalog_test_util.h"

// tools/ is an executable, not a library: compile its checker into this test.
#include "../../tools/image_check.cpp"

namespace kcr::cli {
namespace {

using catalog::testing::TempDir;

// Builds a v1 image: header, THREAD, VMAS, PAGES (two chunks), END.
class ImageBuilder {
 public:
  std::vector<char> build() const {
    std::vector<char> out(KCR_HEADER_SIZE);
    std::uint32_t sections = 0;
    auto section = [&](std::uint32_t type, const std::vector<char>& payload, bool pages) {
      kcr_section s{};
      s.type = type;
      s.count = 1;
      s.size = payload.size();
      s.checksum = pages ? 0 : XXH64(payload.data(), payload.size(), 0);
      append(out, &s, sizeof s);
      out.insert(out.end(), payload.begin(), payload.end());
      out.resize((out.size() + 7) & ~std::size_t{7});
      ++sections;
    };
    section(KCR_SEC_THREAD, std::vector<char>(300, 't'), false);
    section(KCR_SEC_VMAS, std::vector<char>(77, 'v'), false);
    std::vector<char> pages;
    for (std::uint64_t addr : {0x400000ULL, 0x7f0000000000ULL}) {
      std::vector<char> data(2 * KCR_PAGE_SIZE, static_cast<char>(addr & 0xff));
      data[5] = 'p';
      kcr_page_chunk c{};
      c.addr = addr;
      c.nr_pages = 2;
      c.checksum = XXH64(data.data(), data.size(), addr);
      append(pages, &c, sizeof c);
      pages.insert(pages.end(), data.begin(), data.end());
    }
    section(KCR_SEC_PAGES, pages, true);
    section(KCR_SEC_END, {}, false);

    kcr_image_header h{};
    std::memcpy(h.magic, KCR_IMAGE_MAGIC, sizeof h.magic);
    h.version = KCR_IMAGE_VERSION;
    h.header_size = KCR_HEADER_SIZE;
    h.arch = KCR_ARCH_X86_64;
    h.nr_sections = sections;
    h.image_bytes = out.size();
    h.created_ns = 1'700'000'000'000'000'000ULL;
    h.pid = 4242;
    h.uid = 1000;
    h.freeze_ns = 5000;
    h.write_ns = 70000;
    std::strcpy(h.release, "6.1.0-test");
    std::strcpy(h.comm, "solver");
    h.checksum = XXH64(&h, sizeof h, 0);
    std::memcpy(out.data(), &h, sizeof h);
    return out;
  }

  // Rewrites the header checksum after a deliberate header edit.
  static void reseal(std::vector<char>& image) {
    kcr_image_header h{};
    std::memcpy(&h, image.data(), sizeof h);
    h.checksum = 0;
    h.checksum = XXH64(&h, sizeof h, 0);
    std::memcpy(image.data(), &h, sizeof h);
  }

 private:
  static void append(std::vector<char>& v, const void* p, std::size_t n) {
    v.insert(v.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  }
};

std::string save(const TempDir& dir, const std::vector<char>& bytes, const std::string& name) {
  auto path = (dir / name).string();
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Offset of the first byte of the first page of the first chunk.
std::size_t first_page_offset() {
  return KCR_HEADER_SIZE + (sizeof(kcr_section) + 304) + (sizeof(kcr_section) + 80) +
         sizeof(kcr_section) + sizeof(kcr_page_chunk);
}

TEST(CatalogImageCheck, AWholeImageVerifies) {
  TempDir dir;
  auto image = ImageBuilder().build();
  auto path = save(dir, image, "ok.kcr");
  auto c = verify_image(path);
  EXPECT_TRUE(c.ok()) << c.problem;
  EXPECT_EQ(c.header.pid, 4242);
  EXPECT_EQ(header_release(c.header), "6.1.0-test");
  EXPECT_EQ(header_comm(c.header), "solver");
  EXPECT_EQ(c.file_bytes, image.size());
  EXPECT_TRUE(read_image_header(path).ok());
}

TEST(CatalogImageCheck, DamagedPagesAreFoundByAddress) {
  TempDir dir;
  auto image = ImageBuilder().build();
  image[first_page_offset() + 100] ^= 1;
  auto path = save(dir, image, "bad.kcr");
  EXPECT_TRUE(read_image_header(path).ok());  // the header alone cannot tell
  auto c = verify_image(path);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.problem.find("pages at address 0x400000"), std::string::npos) << c.problem;
}

TEST(CatalogImageCheck, DamagedMetadataHeaderAndLength) {
  TempDir dir;
  auto base = ImageBuilder().build();

  auto meta = base;
  meta[KCR_HEADER_SIZE + sizeof(kcr_section) + 10] ^= 1;
  EXPECT_NE(verify_image(save(dir, meta, "m")).problem.find("checksum mismatch in section 0"),
            std::string::npos);

  auto header = base;
  header[40] ^= 1;
  auto h = verify_image(save(dir, header, "h"));
  EXPECT_TRUE(h.is_image);
  EXPECT_FALSE(h.header_ok);
  EXPECT_NE(h.problem.find("header checksum mismatch"), std::string::npos) << h.problem;

  auto truncated = base;
  truncated.resize(truncated.size() - 4096);
  EXPECT_NE(verify_image(save(dir, truncated, "t")).problem.find("truncated"), std::string::npos);

  // Junk after END, with a header that owns up to it: END must end the file.
  auto junk = base;
  junk.resize(junk.size() + 8, 'j');
  kcr_image_header jh{};
  std::memcpy(&jh, junk.data(), sizeof jh);
  jh.image_bytes = junk.size();
  std::memcpy(junk.data(), &jh, sizeof jh);
  ImageBuilder::reseal(junk);
  EXPECT_NE(verify_image(save(dir, junk, "j")).problem.find("does not end the file"),
            std::string::npos);

  auto count = base;
  kcr_image_header ch{};
  std::memcpy(&ch, count.data(), sizeof ch);
  ch.nr_sections = 9;
  std::memcpy(count.data(), &ch, sizeof ch);
  ImageBuilder::reseal(count);
  EXPECT_NE(verify_image(save(dir, count, "c")).problem.find("header says 9"), std::string::npos);
}

TEST(CatalogImageCheck, OtherFilesAreNotImages) {
  TempDir dir;
  std::ofstream(dir / "notes.txt") << "hello";
  auto c = read_image_header((dir / "notes.txt").string());
  EXPECT_FALSE(c.is_image);
  std::vector<char> big(4096, 'x');
  auto d = read_image_header(save(dir, big, "big"));
  EXPECT_FALSE(d.is_image);
  EXPECT_NE(d.problem.find("not a kcr image"), std::string::npos);
  auto missing = verify_image((dir / "none").string());
  EXPECT_NE(missing.problem.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace kcr::cli
