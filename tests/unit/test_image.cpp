// Unit tests of libkcr's image reader on images built here byte by byte, so
// every refusal path is exercised without a kernel.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <kcr/image.h>
#include "image_builder.h"

#include <kcr/util/status_format.h>
#include <kcr/xstate.h>
#include <nlohmann/json.hpp>
#include "restore_files.h"

namespace kcr {
namespace {

namespace fs = std::filesystem;

using test_images::ImageBuilder;

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("kcr-unit-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    out_ = (dir_ / "out.txt").string();
    std::ofstream(out_) << "0123456789";
    good_ = ImageBuilder().BuildDefault(out_, 10);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::vector<uint8_t>& bytes, const std::string& name = "img.kcr") {
    std::string path = (dir_ / name).string();
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  Status OpenBytes(const std::vector<uint8_t>& bytes, std::unique_ptr<Image>* img = nullptr) {
    std::unique_ptr<Image> local;
    return Image::Open(Write(bytes), img ? img : &local);
  }

  fs::path dir_;
  std::string out_;
  std::vector<uint8_t> good_;
};

TEST_F(ImageTest, ParsesAValidImage) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  EXPECT_EQ(img->header().pid, 1234);
  EXPECT_EQ(img->thread().tid, 42);
  EXPECT_EQ(img->xstate().size(), 64u);
  ASSERT_EQ(img->vmas().size(), 1u);
  EXPECT_EQ(img->vmas()[0].vma.start, 0x10000u);
  ASSERT_EQ(img->fds().size(), 1u);
  EXPECT_EQ(img->fds()[0].path, out_);
  EXPECT_EQ(img->cwd(), "/");
  EXPECT_EQ(img->page_bytes(), 2u * KCR_PAGE_SIZE);
  EXPECT_TRUE(img->VerifyPages().ok());
}

TEST_F(ImageTest, RefusesTruncation) {
  auto bytes = good_;
  bytes.resize(bytes.size() / 2);
  Status st = OpenBytes(bytes);
  EXPECT_EQ(st.code(), -EBADMSG);
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
}

TEST_F(ImageTest, RefusesHeaderDamage) {
  auto bytes = good_;
  bytes[100] ^= 1;
  Status st = OpenBytes(bytes);
  EXPECT_NE(st.message().find("header checksum"), std::string::npos) << st.message();
}

TEST_F(ImageTest, RefusesMetadataDamage) {
  auto bytes = good_;
  bytes[KCR_HEADER_SIZE + sizeof(kcr_section) + 3] ^= 1;  // inside the thread record
  Status st = OpenBytes(bytes);
  EXPECT_NE(st.message().find("thread section checksum"), std::string::npos) << st.message();
}

TEST_F(ImageTest, VerifyCatchesPageDamageThatOpenDoesNot) {
  auto bytes = good_;
  bytes[bytes.size() - 24 - 100] ^= 1;  // last page bytes, before the END section
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(bytes, &img).ok());
  Status st = img->VerifyPages();
  EXPECT_EQ(st.code(), -EBADMSG);
  EXPECT_NE(st.message().find("fails its checksum"), std::string::npos) << st.message();
}

TEST_F(ImageTest, RefusesForeignFiles) {
  Status st = OpenBytes(std::vector<uint8_t>(4096, 'x'));
  EXPECT_NE(st.message().find("not a kcr image"), std::string::npos) << st.message();
  st = OpenBytes(std::vector<uint8_t>(10, 0));
  EXPECT_NE(st.message().find("not a kcr image"), std::string::npos) << st.message();
}

TEST_F(ImageTest, RefusesNewerFormat) {
  auto bytes = good_;
  kcr_image_header h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  h.version = 99;
  h.checksum = 0;
  h.checksum = XXH64(&h, sizeof(h), 0);
  std::memcpy(bytes.data(), &h, sizeof(h));
  Status st = OpenBytes(bytes);
  EXPECT_NE(st.message().find("version 99 is not supported"), std::string::npos) << st.message();
}

TEST_F(ImageTest, DescribesAsJson) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  std::string json = img->DescribeJson();
  EXPECT_NE(json.find("\"pid\":1234"), std::string::npos) << json;
  EXPECT_NE(json.find("\"kind\":\"anon\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"path\":\"" + out_ + "\""), std::string::npos) << json;
}

TEST_F(ImageTest, ReportsTheThpSettingAndRefusesUnknownMemoryFlags) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  EXPECT_NE(img->DescribeJson().find("\"thp_disabled\":false"), std::string::npos);
  ASSERT_TRUE(
      OpenBytes(ImageBuilder().MmFlags(KCR_MM_THP_DISABLED).BuildDefault(out_, 10), &img).ok());
  EXPECT_NE(img->DescribeJson().find("\"thp_disabled\":true"), std::string::npos);
  // A newer kcr's flag is unsupported, not damage (verify must not call it CORRUPT).
  Status st = OpenBytes(ImageBuilder().MmFlags(1u << 5).BuildDefault(out_, 10));
  EXPECT_EQ(st.code(), -EPROTONOSUPPORT);
  EXPECT_NE(st.message().find("memory flags 0x20"), std::string::npos) << st.message();
}

TEST_F(ImageTest, GrownOutputFileNeedsRollback) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  EXPECT_TRUE(CheckFiles(*img, false).ok());
  std::ofstream(out_, std::ios::app) << "more output after the checkpoint";
  Status st = CheckFiles(*img, false);
  EXPECT_EQ(st.code(), -EEXIST);
  EXPECT_NE(st.message().find("--rollback-files"), std::string::npos) << st.message();
  EXPECT_TRUE(CheckFiles(*img, true).ok());
  OpenedFiles opened;
  ASSERT_TRUE(OpenFiles(*img, true, nullptr, &opened).ok());
  EXPECT_EQ(fs::file_size(out_), 10u) << "rollback truncates to the checkpoint size";
}

TEST_F(ImageTest, MissingOpenFileIsNamed) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  fs::remove(out_);
  Status st = CheckFiles(*img, false);
  EXPECT_NE(st.message().find(out_), std::string::npos) << st.message();
}

TEST_F(ImageTest, GhostSizeThatWrapsWhenAlignedIsMalformed) {
  // Align8() of a size near 2^64 wraps to 0: the parser must not trust it
  // (the root Slurm agent parses images its users can write).
  Status st = OpenBytes(ImageBuilder().GhostClaiming(~uint64_t{0} - 6).BuildDefault(out_, 10));
  EXPECT_EQ(st.code(), -EBADMSG) << st.message();
  EXPECT_NE(st.message().find("deleted-file contents"), std::string::npos) << st.message();
}

TEST_F(ImageTest, GhostLargerThanItsSectionIsMalformed) {
  Status st = OpenBytes(ImageBuilder().GhostClaiming(4096).BuildDefault(out_, 10));
  EXPECT_EQ(st.code(), -EBADMSG) << st.message();
}

TEST_F(ImageTest, AFifoAtTheImagePathIsRefusedWithoutBlocking) {
  std::string fifo = (dir_ / "fifo.kcr").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::unique_ptr<Image> img;
  Status st = Image::Open(fifo, &img);  // would block in open() without O_NONBLOCK
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a regular file"), std::string::npos) << st.message();
}

TEST_F(ImageTest, AFileReplacedByAFifoIsRefusedNamingBothKinds) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  fs::remove(out_);
  ASSERT_EQ(::mkfifo(out_.c_str(), 0600), 0);
  Status st = CheckFiles(*img, false);
  EXPECT_EQ(st.code(), -ESTALE) << st.message();
  EXPECT_NE(st.message().find("was a regular file at the checkpoint and is a FIFO now"),
            std::string::npos)
      << st.message();
}

TEST_F(ImageTest, KeepsTheDescriptorItWasReadThrough) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  ASSERT_GE(img->fd(), 0);
  struct stat by_fd, by_path;
  ASSERT_EQ(::fstat(img->fd(), &by_fd), 0);
  ASSERT_EQ(::stat(img->path().c_str(), &by_path), 0);
  EXPECT_EQ(by_fd.st_ino, by_path.st_ino);
  UniqueFd taken = img->TakeFd();
  EXPECT_TRUE(taken.valid());
  EXPECT_EQ(img->fd(), -1);
}

// `kcr inspect --json`: one compact line that any JSON parser reads, with
// the keys scripts and tests look up.
TEST_F(ImageTest, DescribeJsonIsOneParsableLine) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  const std::string text = img->DescribeJson();
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  const auto doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc.at("pid"), 1234);
  EXPECT_EQ(doc.at("kernel_release"), "6.1.0-test");
  EXPECT_EQ(doc.at("threads").size(), 1u);
  ASSERT_FALSE(doc.at("fds").empty());
  bool out_found = false;
  for (const auto& fd : doc.at("fds")) {
    if (fd.value("path", "") == out_) {
      out_found = true;
      EXPECT_EQ(fd.at("size"), 10);
    }
  }
  EXPECT_TRUE(out_found) << text;
}

TEST_F(ImageTest, DescribeJsonKeepsTheKeyOrder) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(good_, &img).ok());
  const std::string text = img->DescribeJson();
  EXPECT_EQ(text.rfind(R"({"path":)", 0), 0u) << text;
  EXPECT_LT(text.find(R"("format_version":)"), text.find(R"("vmas":)"));
  EXPECT_LT(text.find(R"("vmas":)"), text.find(R"("fds":)"));
}

kcr_file_lock Lock(int fd, uint32_t kind, uint32_t type, uint64_t start, uint64_t len) {
  kcr_file_lock l{};
  l.fd = fd;
  l.kind = kind;
  l.type = type;
  l.start = start;
  l.len = len;
  return l;
}

TEST_F(ImageTest, ReadsTheFileLocksOfAVersion3Image) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(ImageBuilder()
                            .Locks({Lock(1, KCR_LOCK_POSIX, KCR_LOCK_WRITE, 100, 0),
                                    Lock(1, KCR_LOCK_FLOCK, KCR_LOCK_READ, 0, 0)})
                            .BuildDefault(out_, 10),
                        &img)
                  .ok());
  ASSERT_EQ(img->locks().size(), 2u);
  EXPECT_EQ(img->header().version, uint32_t{KCR_IMAGE_VERSION_LOCKS});
  EXPECT_EQ(img->locks()[0].start, 100u);
  EXPECT_NE(img->DescribeJson().find(R"("kind":"posix")"), std::string::npos);
}

TEST_F(ImageTest, AVersion2ImageWithoutLocksIsRead) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(ImageBuilder().Version(2).BuildDefault(out_, 10), &img).ok());
  EXPECT_TRUE(img->locks().empty());
}

kcr_file_identity BuildId(uint32_t vma, const std::string& id) {
  kcr_file_identity f{};
  f.vma = vma;
  f.flags = KCR_FILE_ID_BUILD_ID;
  f.mtime_ns = 1700000000123456789;
  f.build_id_len = static_cast<uint32_t>(id.size());
  std::memcpy(f.build_id, id.data(), id.size());
  return f;
}

TEST_F(ImageTest, AFileMappingCarriesItsIdentity) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(ImageBuilder()
                            .FileMapping("/usr/bin/prog", {BuildId(1, "\x01\xab\xff")})
                            .BuildDefault(out_, 10),
                        &img)
                  .ok());
  ASSERT_EQ(img->vmas().size(), 2u);
  EXPECT_FALSE(img->vmas()[0].identity);
  ASSERT_TRUE(img->vmas()[1].identity);
  EXPECT_EQ(img->vmas()[1].identity->build_id_len, 3u);
  EXPECT_NE(img->DescribeJson().find(R"("build_id":"01abff")"), std::string::npos);
}

TEST_F(ImageTest, AVersion5FileMappingHasNoIdentityToCheck) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(
      OpenBytes(ImageBuilder().FileMapping("/usr/bin/prog", {}).Version(5).BuildDefault(out_, 10),
                &img)
          .ok());
  EXPECT_FALSE(img->vmas()[1].identity);
}

TEST_F(ImageTest, HostileFileIdentitiesAreRefused) {
  kcr_file_identity two_kinds = BuildId(1, "ab");
  two_kinds.flags |= KCR_FILE_ID_CHECKSUM;
  kcr_file_identity long_id = BuildId(1, "ab");
  long_id.build_id_len = KCR_BUILD_ID_MAX + 1;
  kcr_file_identity stray_sum = BuildId(1, "ab");
  stray_sum.checksum = 7;
  kcr_file_identity no_kind = BuildId(1, "ab");
  no_kind.flags = 0;
  const std::vector<std::tuple<const char*, ImageBuilder, const char*>> bad = {
      {"a version 6 file mapping without one", ImageBuilder().FileMapping("/p", {}),
       "file identity table"},
      {"one for the anonymous mapping", ImageBuilder().FileMapping("/p", {BuildId(0, "ab")}),
       "file identity table"},
      {"one too many", ImageBuilder().FileMapping("/p", {BuildId(1, "ab"), BuildId(1, "cd")}),
       "file identity table"},
      {"two kinds at once", ImageBuilder().FileMapping("/p", {two_kinds}), "file identity table"},
      {"a build-id past 20 bytes", ImageBuilder().FileMapping("/p", {long_id}),
       "file identity table"},
      {"a checksum it does not claim", ImageBuilder().FileMapping("/p", {stray_sum}),
       "file identity table"},
      {"a build-id it does not claim", ImageBuilder().FileMapping("/p", {no_kind}),
       "file identity table"},
      {"the section in a version 5 image",
       ImageBuilder().FileMapping("/p", {BuildId(1, "ab")}).Version(5),
       "file identity section in an image of a version without one"},
  };
  for (const auto& [what, builder, expect] : bad) {
    ImageBuilder b = builder;
    Status st = OpenBytes(b.BuildDefault(out_, 10));
    EXPECT_FALSE(st.ok()) << what;
    EXPECT_NE(st.message().find(expect), std::string::npos) << what << ": " << st.message();
  }
}

TEST_F(ImageTest, HostileLockRecordsAreRefused) {
  const uint64_t max = std::numeric_limits<int64_t>::max();
  const std::vector<std::pair<const char*, kcr_file_lock>> bad = {
      {"an fd the image lacks", Lock(7, KCR_LOCK_POSIX, KCR_LOCK_WRITE, 0, 0)},
      {"an unknown kind", Lock(1, 9, KCR_LOCK_WRITE, 0, 0)},
      {"an unknown type", Lock(1, KCR_LOCK_OFD, 0, 0, 0)},
      {"a flock with a range", Lock(1, KCR_LOCK_FLOCK, KCR_LOCK_WRITE, 5, 1)},
      {"a range past 2^63", Lock(1, KCR_LOCK_POSIX, KCR_LOCK_READ, max, 10)},
      {"a start past 2^63", Lock(1, KCR_LOCK_POSIX, KCR_LOCK_READ, max + 1, 0)},
  };
  for (const auto& [what, lock] : bad) {
    Status st = OpenBytes(ImageBuilder().Locks({lock}).BuildDefault(out_, 10));
    EXPECT_EQ(st.code(), -EBADMSG) << what << ": " << st.message();
    EXPECT_NE(st.message().find("file lock record"), std::string::npos) << what;
  }
}

kcr_posix_timer Timer(int32_t id, int32_t clock, int32_t notify, int32_t signo, int32_t thread) {
  kcr_posix_timer t{};
  t.id = id;
  t.clock = clock;
  t.notify = notify;
  t.signo = signo;
  t.thread = thread;
  t.left_ns = 1000;
  t.interval_ns = 1000;
  return t;
}

TEST_F(ImageTest, ReadsThePosixTimersOfAVersion5Image) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(ImageBuilder()
                            .Timers({Timer(3, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN, 0),
                                     Timer(1, CLOCK_REALTIME, SIGEV_THREAD_ID, SIGALRM, 42),
                                     Timer(0, CLOCK_BOOTTIME, SIGEV_NONE, 0, 0)})
                            .BuildDefault(out_, 10),
                        &img)
                  .ok());
  ASSERT_EQ(img->timers().size(), 3u);
  EXPECT_EQ(img->header().version, uint32_t{KCR_IMAGE_VERSION_TIMERS});
  EXPECT_EQ(img->timers()[1].thread, 42);
  EXPECT_NE(img->DescribeJson().find(R"("posix_timers":[{"id":3)"), std::string::npos);
}

TEST_F(ImageTest, HostileTimerRecordsAreRefused) {
  kcr_posix_timer far = Timer(1, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGALRM, 0);
  far.left_ns = uint64_t{1} << 63;
  kcr_posix_timer flagged = Timer(1, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGALRM, 0);
  flagged.flags = 2;
  const std::vector<std::pair<const char*, std::vector<kcr_posix_timer>>> bad = {
      {"a CPU-time clock", {Timer(1, CLOCK_PROCESS_CPUTIME_ID, SIGEV_SIGNAL, SIGALRM, 0)}},
      {"an alarm clock", {Timer(1, CLOCK_BOOTTIME_ALARM, SIGEV_SIGNAL, SIGALRM, 0)}},
      {"SIGEV_THREAD, which only glibc knows", {Timer(1, CLOCK_MONOTONIC, SIGEV_THREAD, 1, 0)}},
      {"no signal", {Timer(1, CLOCK_MONOTONIC, SIGEV_SIGNAL, 0, 0)}},
      {"a signal past SIGRTMAX", {Timer(1, CLOCK_MONOTONIC, SIGEV_SIGNAL, 65, 0)}},
      {"a thread the image lacks", {Timer(1, CLOCK_MONOTONIC, SIGEV_THREAD_ID, SIGALRM, 43)}},
      {"a negative id", {Timer(-1, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGALRM, 0)}},
      {"an id past the bound", {Timer(KCR_TIMER_ID_MAX + 1, CLOCK_MONOTONIC, SIGEV_NONE, 0, 0)}},
      {"one id twice",
       {Timer(2, CLOCK_MONOTONIC, SIGEV_NONE, 0, 0), Timer(2, CLOCK_MONOTONIC, SIGEV_NONE, 0, 0)}},
      {"a time past 2^63 ns", {far}},
      {"unknown flags", {flagged}},
  };
  for (const auto& [what, timers] : bad) {
    Status st = OpenBytes(ImageBuilder().Timers(timers).BuildDefault(out_, 10));
    EXPECT_EQ(st.code(), -EBADMSG) << what << ": " << st.message();
    EXPECT_NE(st.message().find("timer record"), std::string::npos) << what;
  }
  Status st = OpenBytes(ImageBuilder()
                            .Version(KCR_IMAGE_VERSION_TREE)
                            .Timers({Timer(1, CLOCK_MONOTONIC, SIGEV_NONE, 0, 0)})
                            .BuildDefault(out_, 10));
  EXPECT_NE(st.message().find("timer section in an image of a version without one"),
            std::string::npos)
      << st.message();
}

TEST_F(ImageTest, ReadsTheMemfdsOfAVersion5Image) {
  std::unique_ptr<Image> img;
  ASSERT_TRUE(OpenBytes(ImageBuilder()
                            .Memfd("state", "hello, memfd", F_SEAL_SHRINK | F_SEAL_GROW, 0)
                            .BuildDefault(out_, 10),
                        &img)
                  .ok());
  ASSERT_EQ(img->memfds().size(), 1u);
  EXPECT_EQ(img->memfds()[0].name, "state");
  EXPECT_EQ(std::string(img->memfds()[0].contents.begin(), img->memfds()[0].contents.end()),
            "hello, memfd");
  EXPECT_EQ(img->header().version, uint32_t{KCR_IMAGE_VERSION_MEMFD});
  EXPECT_NE(img->DescribeJson().find(R"("memfds":[{"id":0,"name":"state","size":12)"),
            std::string::npos);
}

TEST_F(ImageTest, HostileMemfdRecordsAreRefused) {
  kcr_memfd wrong_id{};
  wrong_id.id = 1;
  kcr_memfd too_big{};
  too_big.size = uint64_t{1} << 40;
  kcr_memfd wrapping{};
  wrapping.size = ~uint64_t{0} - 3;
  kcr_memfd long_name{};
  long_name.name_len = KCR_MEMFD_NAME_MAX + 1;
  const std::vector<std::tuple<const char*, ImageBuilder, const char*>> bad = {
      {"an fd of a memfd the image lacks", ImageBuilder().Memfd("m", "x", 0, 1),
       "fd of a memfd the image lacks"},
      {"unknown seals", ImageBuilder().Memfd("m", "x", 0x40, -1), "memfd record"},
      {"a record out of order", ImageBuilder().Memfd("m", "x", 0, -1, wrong_id), "memfd record"},
      {"contents past the section", ImageBuilder().Memfd("m", "x", 0, -1, too_big), "memfd record"},
      {"a size that wraps when aligned", ImageBuilder().Memfd("m", "x", 0, -1, wrapping),
       "memfd record"},
      {"a name past memfd_create's", ImageBuilder().Memfd("m", "x", 0, -1, long_name),
       "memfd record"},
      {"a name with a NUL", ImageBuilder().Memfd(std::string("a\0b", 3), "x", 0, -1),
       "memfd record"},
      {"a memfd section in a version 4 image",
       ImageBuilder().Version(KCR_IMAGE_VERSION_TREE).Memfd("m", "x", 0, -1),
       "memfd section in an image of a version without one"},
  };
  for (auto [what, builder, message] : bad) {
    Status st = OpenBytes(builder.BuildDefault(out_, 10));
    EXPECT_EQ(st.code(), -EBADMSG) << what << ": " << st.message();
    EXPECT_NE(st.message().find(message), std::string::npos) << what << ": " << st.message();
  }
}

TEST_F(ImageTest, LocksInAVersion2ImageAreRefused) {
  Status st = OpenBytes(ImageBuilder()
                            .Version(2)
                            .Locks({Lock(1, KCR_LOCK_POSIX, KCR_LOCK_WRITE, 0, 0)})
                            .BuildDefault(out_, 10));
  EXPECT_EQ(st.code(), -EBADMSG) << st.message();
}

TEST(XStateTest, NamesFeatures) {
  EXPECT_EQ(XFeatureNames(0x7), "x87 sse avx");
  EXPECT_EQ(XFeatureNames(0xe7), "x87 sse avx avx512-opmask avx512-zmm_hi256 avx512-hi16_zmm");
  EXPECT_EQ(XFeatureNames(0), "none");
}

TEST(StatusTest, CarriesCodeAndContext) {
  Status st = Errorf(ENOENT, "file {} missing", "x");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), -ENOENT);
  EXPECT_EQ(st.With("restart").message(), "restart: file x missing");
  EXPECT_TRUE(Status::Ok().With("anything").ok());
}

}  // namespace
}  // namespace kcr
