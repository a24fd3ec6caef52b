// libkcr's image classification (image_check.h): what `kcr catalog verify`
// and `rebuild` learn of an image, on images built here byte by byte.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <vector>

#include <kcr/image_check.h>
#include "catalog_test_util.h"
#include "image_builder.h"

namespace kcr {
namespace {

using catalog::testing::TempDir;
using test_images::ImageBuilder;

std::string Save(const TempDir& dir, const std::vector<uint8_t>& bytes, const std::string& name) {
  auto path = (dir / name).string();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::vector<uint8_t> GoodImage(const TempDir& dir) {
  return ImageBuilder().BuildDefault((dir / "out.txt").string(), 10);
}

TEST(CatalogImageCheck, AWholeImageVerifies) {
  TempDir dir;
  auto image = GoodImage(dir);
  auto path = Save(dir, image, "ok.kcr");
  auto c = VerifyImage(path);
  EXPECT_TRUE(c.ok()) << c.problem;
  EXPECT_EQ(c.header.pid, 1234);
  EXPECT_EQ(HeaderRelease(c.header), "6.1.0-test");
  EXPECT_EQ(HeaderComm(c.header), "unit");
  EXPECT_EQ(c.file_bytes, image.size());
  EXPECT_TRUE(ReadImageHeader(path).ok());
}

TEST(CatalogImageCheck, DamagedPagesAreFoundByAddress) {
  TempDir dir;
  ImageBuilder builder;
  auto image = builder.BuildDefault((dir / "out.txt").string(), 10);
  image[builder.first_page_offset() + 100] ^= 1;
  auto path = Save(dir, image, "bad.kcr");
  EXPECT_TRUE(ReadImageHeader(path).ok());  // the header alone cannot tell
  auto c = VerifyImage(path);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.problem.find("memory at 0x11000"), std::string::npos) << c.problem;
  EXPECT_NE(c.problem.find("fails its checksum"), std::string::npos) << c.problem;
}

// A newer kcr's image is not damaged: verify and rebuild must not make it
// CORRUPT (prune would delete it), only unsupported.
TEST(CatalogImageCheck, NewerImagesAreUnsupportedNotCorrupt) {
  TempDir dir;
  auto flags = VerifyImage(
      Save(dir, ImageBuilder().MmFlags(1u << 7).BuildDefault((dir / "out.txt").string(), 10), "f"));
  EXPECT_FALSE(flags.ok());
  EXPECT_TRUE(flags.unsupported) << flags.problem;
  auto newer = GoodImage(dir);
  kcr_image_header h;
  std::memcpy(&h, newer.data(), sizeof h);
  h.version = KCR_IMAGE_VERSION + 1;
  std::memcpy(newer.data(), &h, sizeof h);
  ImageBuilder::Reseal(&newer);
  auto v = VerifyImage(Save(dir, newer, "v"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.unsupported) << v.problem;
  ImageBuilder builder;
  auto damaged = builder.BuildDefault((dir / "out.txt").string(), 10);
  damaged[builder.first_page_offset() + 100] ^= 1;
  EXPECT_FALSE(VerifyImage(Save(dir, damaged, "d")).unsupported);
}

TEST(CatalogImageCheck, DamagedMetadataHeaderAndLength) {
  TempDir dir;
  auto base = GoodImage(dir);

  auto meta = base;
  meta[KCR_HEADER_SIZE + sizeof(kcr_section) + 10] ^= 1;
  auto m = VerifyImage(Save(dir, meta, "m"));
  EXPECT_TRUE(m.header_ok);
  EXPECT_NE(m.problem.find("thread section checksum mismatch"), std::string::npos) << m.problem;

  auto header = base;
  header[40] ^= 1;
  auto h = VerifyImage(Save(dir, header, "h"));
  EXPECT_TRUE(h.is_image);
  EXPECT_FALSE(h.header_ok);
  EXPECT_NE(h.problem.find("header checksum mismatch"), std::string::npos) << h.problem;

  auto truncated = base;
  truncated.resize(truncated.size() - 4096);
  auto t = VerifyImage(Save(dir, truncated, "t"));
  EXPECT_TRUE(t.header_ok);  // the catalog still learns whose image it was
  EXPECT_NE(t.problem.find("truncated"), std::string::npos) << t.problem;

  // Junk after END, with a header that owns up to it: END must end the file.
  auto junk = base;
  junk.resize(junk.size() + 8, 'j');
  kcr_image_header jh{};
  std::memcpy(&jh, junk.data(), sizeof jh);
  jh.image_bytes = junk.size();
  std::memcpy(junk.data(), &jh, sizeof jh);
  ImageBuilder::Reseal(&junk);
  auto j = VerifyImage(Save(dir, junk, "j"));
  EXPECT_NE(j.problem.find("data after the end section"), std::string::npos) << j.problem;

  auto count = base;
  kcr_image_header ch{};
  std::memcpy(&ch, count.data(), sizeof ch);
  ch.nr_sections = 9;
  std::memcpy(count.data(), &ch, sizeof ch);
  ImageBuilder::Reseal(&count);
  auto n = VerifyImage(Save(dir, count, "c"));
  EXPECT_NE(n.problem.find("section count differs from header"), std::string::npos) << n.problem;
}

TEST(CatalogImageCheck, VerdictNamesTheClass) {
  TempDir dir;
  EXPECT_EQ(VerifyImage(Save(dir, GoodImage(dir), "ok.kcr")).verdict(), ImageVerdict::kOk);
  auto newer = GoodImage(dir);
  kcr_image_header h;
  std::memcpy(&h, newer.data(), sizeof h);
  h.version = KCR_IMAGE_VERSION + 1;
  std::memcpy(newer.data(), &h, sizeof h);
  ImageBuilder::Reseal(&newer);
  EXPECT_EQ(VerifyImage(Save(dir, newer, "newer.kcr")).verdict(), ImageVerdict::kUnsupported);
  ImageBuilder builder;
  auto damaged = builder.BuildDefault((dir / "out.txt").string(), 10);
  damaged[builder.first_page_offset() + 100] ^= 1;
  EXPECT_EQ(VerifyImage(Save(dir, damaged, "bad.kcr")).verdict(), ImageVerdict::kCorrupt);
  EXPECT_EQ(VerifyImage((dir / "missing.kcr").string()).verdict(), ImageVerdict::kCorrupt);
}

TEST(CatalogImageCheck, OtherFilesAreNotImages) {
  TempDir dir;
  std::ofstream(dir / "notes.txt") << "hello";
  auto c = ReadImageHeader((dir / "notes.txt").string());
  EXPECT_FALSE(c.is_image);
  EXPECT_NE(c.problem.find("not a kcr image"), std::string::npos) << c.problem;
  std::vector<uint8_t> big(4096, 'x');
  auto d = ReadImageHeader(Save(dir, big, "big"));
  EXPECT_FALSE(d.is_image);
  EXPECT_NE(d.problem.find("not a kcr image"), std::string::npos) << d.problem;
  auto missing = VerifyImage((dir / "none").string());
  EXPECT_NE(missing.problem.find("cannot open"), std::string::npos) << missing.problem;
}

}  // namespace
}  // namespace kcr
