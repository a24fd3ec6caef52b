// kcr.yaml: defaults, every key, and errors that name the key and the line.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <fstream>

#include "catalog_test_util.h"
#include "kcr/config/config.h"
#include "kcr/util/units.h"

namespace kcr::config {
namespace {

using namespace std::chrono_literals;

// A parse that must fail: its Status and where it says the error is.
struct ParseFailure {
  Status status;
  ErrorLocation where;
  std::string what() const { return status.message(); }
};

ParseFailure ParseError(const std::string& yaml) {
  ParseFailure f;
  Config c;
  f.status = Parse(yaml, "test.yaml", &c, &f.where);
  if (f.status.ok()) {
    ADD_FAILURE() << "no error for:\n" << yaml;
  }
  return f;
}

// The configuration in `yaml`, which must parse.
Config Parsed(const std::string& yaml, std::string_view name = "x") {
  Config c;
  Status st = Parse(yaml, name, &c);
  EXPECT_TRUE(st.ok()) << st.message();
  return c;
}

void ExpectError(const std::string& yaml, const std::string& key, int line,
                 const std::string& says) {
  auto e = ParseError(yaml);
  EXPECT_EQ(e.where.key, key) << e.what();
  EXPECT_EQ(e.where.line, line) << e.what();
  std::string msg = e.what();
  EXPECT_EQ(msg.rfind("test.yaml:" + std::to_string(line) + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find(key), std::string::npos) << msg;
  EXPECT_NE(msg.find(says), std::string::npos) << msg;
}

TEST(ConfigParse, EmptyOrCommentOnlyFileMeansDefaults) {
  for (const char* text : {"", "# nothing here\n", "---\n"}) {
    Config c = Parsed(text);
    EXPECT_EQ(c.image_dir, "/var/spool/kcr/{user}/{job}");
    EXPECT_EQ(c.catalog_path, "/var/lib/kcr/catalog.db");
    EXPECT_EQ(c.checkpoint.interval.kind, Interval::Kind::kFixed);
    EXPECT_EQ(c.checkpoint.interval.every, 1h);
    EXPECT_EQ(c.checkpoint.grace_margin, 5min);
    EXPECT_TRUE(c.checkpoint.verify_after_write);
    EXPECT_EQ(c.checkpoint.compression, "none");
    EXPECT_EQ(c.retention.keep_last, 3u);
    EXPECT_EQ(c.retention.max_age, 168h);
    EXPECT_EQ(c.retention.user_quota, 0u);
    EXPECT_EQ(c.retention.writing_timeout, 1h);
    EXPECT_EQ(c.retention.keep_history, 0s);
    EXPECT_EQ(c.slurm.mtbf, 0s);
    EXPECT_EQ(c.log_level, LogLevel::kInfo);
  }
}

TEST(ConfigParse, ShippedFileParsesToTheDefaults) {
  Config shipped;
  Status st = LoadFile(std::string(KCR_SOURCE_DIR) + "/config/kcr.yaml", &shipped);
  ASSERT_TRUE(st.ok()) << st.message();
  Config defaults;
  EXPECT_EQ(shipped.image_dir, defaults.image_dir);
  EXPECT_EQ(shipped.catalog_path, defaults.catalog_path);
  EXPECT_EQ(shipped.checkpoint.interval.every, defaults.checkpoint.interval.every);
  EXPECT_EQ(shipped.checkpoint.grace_margin, defaults.checkpoint.grace_margin);
  EXPECT_EQ(shipped.checkpoint.verify_after_write, defaults.checkpoint.verify_after_write);
  EXPECT_EQ(shipped.retention.keep_last, defaults.retention.keep_last);
  EXPECT_EQ(shipped.retention.max_age, defaults.retention.max_age);
  EXPECT_EQ(shipped.retention.user_quota, defaults.retention.user_quota);
  EXPECT_EQ(shipped.retention.writing_timeout, defaults.retention.writing_timeout);
  EXPECT_EQ(shipped.retention.keep_history, defaults.retention.keep_history);
  EXPECT_EQ(shipped.slurm.mtbf, defaults.slurm.mtbf);
  EXPECT_EQ(shipped.log_level, defaults.log_level);
}

TEST(ConfigParse, EveryKeyIsRead) {
  Config c = Parsed(R"(
image_dir: /scratch/ckpt/{user}/{job}.{step}.{task}
catalog_path: /var/db/kcr.sqlite
checkpoint:
  interval: auto
  grace_margin: 90s
  verify_after_write: false
  compression: none
retention:
  keep_last: 0
  max_age: none
  user_quota: 10GiB
  writing_timeout: 2h30m
  keep_history: 90d
slurm:
  mtbf: 1d
log_level: debug
)");
  EXPECT_EQ(c.image_dir, "/scratch/ckpt/{user}/{job}.{step}.{task}");
  EXPECT_EQ(c.catalog_path, "/var/db/kcr.sqlite");
  EXPECT_EQ(c.checkpoint.interval.kind, Interval::Kind::kAuto);
  EXPECT_EQ(c.checkpoint.grace_margin, 90s);
  EXPECT_FALSE(c.checkpoint.verify_after_write);
  EXPECT_EQ(c.retention.keep_last, 0u);
  EXPECT_EQ(c.retention.max_age, 0s);
  EXPECT_EQ(c.retention.user_quota, 10ULL << 30);
  EXPECT_EQ(c.retention.writing_timeout, 150min);
  EXPECT_EQ(c.retention.keep_history, 90 * 24h);
  EXPECT_EQ(c.slurm.mtbf, 24h);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);

  EXPECT_EQ(Parsed("checkpoint:\n  interval: none\n").checkpoint.interval.kind,
            Interval::Kind::kNone);
  EXPECT_EQ(Parsed("retention:\n").retention.keep_last, 3u);  // empty section: defaults
}

TEST(ConfigErrors, UnknownKeysNameTheLineAndSuggest) {
  ExpectError("image_dir: /a\nretention:\n  keep: 3\n", "retention.keep", 3,
              "did you mean retention.keep_last?");
  ExpectError("catalog: /x\n", "catalog", 1, "unknown key");
  auto e = ParseError("retention:\n  foo: 1\n");
  EXPECT_NE(
      std::string(e.what()).find("keep_last, max_age, user_quota, writing_timeout, keep_history"),
      std::string::npos)
      << e.what();
}

TEST(ConfigErrors, WrongTypesSayWhatWasExpected) {
  ExpectError("retention: 5\n", "retention", 1, "must be a mapping");
  ExpectError("checkpoint:\n  - interval\n", "checkpoint", 1, "not a list");
  ExpectError("image_dir:\n  a: b\n", "image_dir", 1, "not a mapping");
  ExpectError("checkpoint:\n  verify_after_write: maybe\n", "checkpoint.verify_after_write", 2,
              "not true or false");
  ExpectError("retention:\n  keep_last: -1\n", "retention.keep_last", 2, "whole number");
  ExpectError("retention:\n  keep_last: three\n", "retention.keep_last", 2, "whole number");
  ExpectError("log_level: loud\n", "log_level", 1, "not a log level");
  ExpectError("retention:\n  max_age:\n", "retention.max_age", 2, "has no value");
}

TEST(ConfigErrors, BadDurationsAndSizes) {
  ExpectError("checkpoint:\n  interval: 10x\n", "checkpoint.interval", 2, "not a duration");
  ExpectError("checkpoint:\n  interval: 3600\n", "checkpoint.interval", 2, "a number needs a unit");
  ExpectError("checkpoint:\n  interval: 0\n", "checkpoint.interval", 2, "write none");
  ExpectError("\n\ncheckpoint:\n  grace_margin: soon\n", "checkpoint.grace_margin", 4,
              "not a duration");
  ExpectError("retention:\n  user_quota: 10 gigs\n", "retention.user_quota", 2, "not a size");
  ExpectError("retention:\n  user_quota: 1000\n", "retention.user_quota", 2, "not a size");
  ExpectError("retention:\n  writing_timeout: 0\n", "retention.writing_timeout", 2,
              "longer than 0");
}

TEST(ConfigErrors, ValuesThatCannotWork) {
  ExpectError("checkpoint:\n  compression: zstd\n", "checkpoint.compression", 2,
              "only value is none");
  ExpectError("image_dir: /ckpt/{jobid}\n", "image_dir", 1, "unknown placeholder {jobid}");
  ExpectError("image_dir: /ckpt/{job\n", "image_dir", 1, "without '}'");
  ExpectError("image_dir: ckpt/{job}\n", "image_dir", 1, "not an absolute path");
  ExpectError("catalog_path: kcr.db\n", "catalog_path", 1, "not an absolute path");
  ExpectError("log_level: info\ncheckpoint:\n  interval: auto\n", "checkpoint.interval", 3,
              "needs slurm.mtbf");
  ExpectError("log_level: info\nlog_level: debug\n", "log_level", 2, "given twice");
}

TEST(ConfigErrors, SyntaxErrorsNameTheLine) {
  auto e = ParseError("image_dir: /a\nretention:\n  keep_last: [1\n");
  EXPECT_NE(std::string(e.what()).find("not valid YAML"), std::string::npos) << e.what();
  EXPECT_GE(e.where.line, 3);
  auto top = ParseError("- a\n- b\n");
  EXPECT_NE(std::string(top.what()).find("must be a mapping"), std::string::npos);
}

// Restores an environment variable when the test ends.
class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = ::getenv(name)) {
      old_ = v;
    }
  }
  ~EnvGuard() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConfigLoad, CommandLineThenEnvironmentThenDefault) {
  EnvGuard guard("KCR_CONFIG");
  ::unsetenv("KCR_CONFIG");
  EXPECT_EQ(Resolve("").path, kDefaultPath);
  EXPECT_EQ(Resolve("").origin, Source::Origin::kDefault);
  ::setenv("KCR_CONFIG", "/env/kcr.yaml", 1);
  EXPECT_EQ(Resolve("").path, "/env/kcr.yaml");
  EXPECT_EQ(Resolve("").origin, Source::Origin::kEnvironment);
  EXPECT_EQ(Resolve("/cli.yaml").path, "/cli.yaml");
  EXPECT_EQ(Resolve("/cli.yaml").origin, Source::Origin::kCommandLine);
}

TEST(ConfigLoad, ANamedFileMustExist) {
  EnvGuard guard("KCR_CONFIG");
  catalog::testing::TempDir dir;
  auto missing = (dir / "nope.yaml").string();
  Config c;
  Status st = Load(missing, &c);
  if (st.ok()) {
    ADD_FAILURE() << "missing --config file accepted";
  } else {
    EXPECT_NE(st.message().find("--config"), std::string::npos) << st.message();
  }
  ::setenv("KCR_CONFIG", missing.c_str(), 1);
  st = Load("", &c);
  if (st.ok()) {
    ADD_FAILURE() << "missing $KCR_CONFIG file accepted";
  } else {
    EXPECT_NE(st.message().find("$KCR_CONFIG"), std::string::npos) << st.message();
  }
  std::ofstream(dir / "kcr.yaml") << "retention:\n  keep_last: 9\n";
  ::setenv("KCR_CONFIG", (dir / "kcr.yaml").c_str(), 1);
  st = Load("", &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.retention.keep_last, 9u);
  EXPECT_EQ(c.source, (dir / "kcr.yaml").string());
}

TEST(ConfigLoad, WithoutConfigOrEnvironmentTheDefaultFileIsUsed) {
  EnvGuard guard("KCR_CONFIG");
  ::unsetenv("KCR_CONFIG");
  Source src = Resolve("");
  EXPECT_EQ(src.path, std::filesystem::path(kDefaultPath));
  EXPECT_EQ(src.origin, Source::Origin::kDefault);
}

TEST(ConfigLoad, AMissingDefaultFileMeansDefaults) {
  // The machine's own /etc/kcr/kcr.yaml may exist: the default place is
  // given here, pointing nowhere.
  catalog::testing::TempDir dir;
  Config c;
  c.retention.keep_last = 99;
  Status st = Load(Source{dir / "kcr.yaml", Source::Origin::kDefault}, &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.source, "");
  EXPECT_EQ(c.retention.keep_last, 3u);
}

TEST(ConfigUnits, Durations) {
  EXPECT_EQ(ParseDuration("90s"), 90s);
  EXPECT_EQ(ParseDuration("10m"), 10min);
  EXPECT_EQ(ParseDuration("2h"), 2h);
  EXPECT_EQ(ParseDuration("1d"), 24h);
  EXPECT_EQ(ParseDuration("1h30m"), 90min);
  EXPECT_EQ(ParseDuration("0"), 0s);
  for (const char* bad : {"", "10", "h", "1x", "-5m", "1.5h", "5 m", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
  EXPECT_EQ(util::FormatDuration(168h), "7d");
  EXPECT_EQ(util::FormatDuration(90min), "90m");
  EXPECT_EQ(util::FormatDuration(61s), "61s");
}

TEST(ConfigUnits, Sizes) {
  EXPECT_EQ(ParseSize("500M"), 500ULL << 20);
  EXPECT_EQ(ParseSize("10GiB"), 10ULL << 30);
  EXPECT_EQ(ParseSize("10G"), 10ULL << 30);
  EXPECT_EQ(ParseSize("2GB"), 2'000'000'000ULL);
  EXPECT_EQ(ParseSize("1.5T"), 3ULL << 39);
  EXPECT_EQ(ParseSize("100B"), 100u);
  EXPECT_EQ(ParseSize("0"), 0u);
  for (const char* bad : {"", "100", "M", "10X", "10GiBs", "-1G", "1e3G"}) {
    EXPECT_FALSE(ParseSize(bad)) << bad;
  }
}

TEST(ConfigImageDir, PlaceholdersAreFilled) {
  EXPECT_EQ(ExpandImageDir("/ckpt/{user}/{job}/{step}.{task}",
                           {.job = "1234", .step = "batch", .task = "0", .user = "alice"}),
            "/ckpt/alice/1234/batch.0");
  EXPECT_EQ(
      ExpandImageDir("/ckpt/{job}/{job}", {.job = "manual", .step = "", .task = "", .user = ""}),
      "/ckpt/manual/manual");
}

TEST(ConfigInterval, YoungDalyAndFixed) {
  // C = 60 s, M = 1 day: sqrt(2CM) = 3220 s, plus Daly's correction, minus C.
  auto t = YoungDalyInterval(std::chrono::duration<double>(60), 24h);
  EXPECT_NEAR(static_cast<double>(t.count()),
              3220.0 * (1 + std::sqrt(60.0 / 172800) / 3 + 60.0 / 172800 / 9) - 60, 1.0);
  EXPECT_EQ(YoungDalyInterval(std::chrono::duration<double>(1e6), 1h), 1h);  // C >= 2M
  EXPECT_EQ(YoungDalyInterval(std::chrono::duration<double>(60), 0s), 0s);

  Config c;
  EXPECT_EQ(PeriodicInterval(c, std::chrono::duration<double>(5)), 1h);
  c.checkpoint.interval.kind = Interval::Kind::kNone;
  EXPECT_EQ(PeriodicInterval(c, std::chrono::duration<double>(5)), 0s);
}

}  // namespace
}  // namespace kcr::config
