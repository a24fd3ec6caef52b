// image_dir patterns (kcr/config/image_dir.h): the one rule kcr.yaml,
// plugstack.conf's dir=, --checkpoint-dir, the Slurm agent and `kcr catalog
// rebuild` share. Earlier each had its own copy: kcr.yaml refused a stray
// '}' but allowed '..', --checkpoint-dir the other way round. Now both are
// refused everywhere.
#include <gtest/gtest.h>

#include <string>

#include "kcr/config/config.h"
#include "kcr/config/image_dir.h"

namespace kcr::config {
namespace {

// Why `pattern` is refused; empty when it is valid.
std::string Problem(std::string_view pattern) {
  return CheckImageDir(pattern).message();
}

TEST(ImageDirRule, KnownPlaceholdersAreValid) {
  EXPECT_TRUE(CheckImageDir("/var/spool/kcr/{user}/{job}").ok());
  EXPECT_TRUE(CheckImageDir("/scratch/{user}/{job}/{step}.{task}").ok());
  EXPECT_TRUE(CheckImageDir("/scratch/ckpt").ok());
  EXPECT_TRUE(CheckImageDir("/").ok());
}

TEST(ImageDirRule, RelativeIsRefused) {
  EXPECT_NE(Problem("ckpt/{job}").find("not an absolute directory"), std::string::npos);
  EXPECT_NE(Problem("").find("not an absolute directory"), std::string::npos);
}

TEST(ImageDirRule, UnknownPlaceholderIsNamed) {
  const std::string p = Problem("/ckpt/{jobid}");
  EXPECT_NE(p.find("unknown placeholder {jobid}"), std::string::npos) << p;
  EXPECT_NE(p.find("not a placeholder"), std::string::npos) << p;
}

TEST(ImageDirRule, EmptyBracesAreAnUnknownPlaceholder) {
  EXPECT_NE(Problem("/ckpt/{}").find("unknown placeholder {}"), std::string::npos);
}

TEST(ImageDirRule, UnclosedBraceIsRefused) {
  EXPECT_NE(Problem("/ckpt/{job").find("'{' without '}'"), std::string::npos);
}

TEST(ImageDirRule, StrayClosingBraceIsRefused) {
  EXPECT_NE(Problem("/ckpt/job}").find("'}' without '{' at column 10"), std::string::npos);
  EXPECT_NE(Problem("/ckpt/{job}}").find("'}' without '{' at column 12"), std::string::npos);
}

TEST(ImageDirRule, DotDotComponentIsRefused) {
  for (const char* p : {"/ckpt/../etc", "/ckpt/..", "/../{job}", "/ckpt/{user}/../{job}"}) {
    EXPECT_NE(Problem(p).find("'..'"), std::string::npos) << p;
  }
}

TEST(ImageDirRule, DotsInsideANameAreAllowed) {
  EXPECT_TRUE(CheckImageDir("/ckpt/..hidden/{job}..").ok());
  EXPECT_TRUE(CheckImageDir("/ckpt/{job}.{step}..{task}").ok());
}

TEST(ImageDirRule, KcrYamlAppliesTheSameRule) {
  Config c;
  EXPECT_FALSE(Parse("image_dir: /ckpt/../{job}\n", "kcr.yaml", &c).ok());
  EXPECT_FALSE(Parse("image_dir: /ckpt/job}\n", "kcr.yaml", &c).ok());
  ErrorLocation where;
  Status st = Parse("image_dir: /ckpt/../{job}\n", "kcr.yaml", &c, &where);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(where.key, "image_dir");
  EXPECT_NE(st.message().find("'..'"), std::string::npos) << st.message();
}

TEST(ImageDirExpand, EveryPlaceholderIsFilled) {
  EXPECT_EQ(ExpandImageDir("/ckpt/{user}/{job}/{step}.{task}",
                           {.job = "42", .step = "batch", .task = "3", .user = "alice"}),
            "/ckpt/alice/42/batch.3");
}

TEST(ImageDirExpand, LiteralTextStays) {
  EXPECT_EQ(ExpandImageDir("/ckpt/fixed", {.job = "42", .step = "", .task = "", .user = ""}),
            "/ckpt/fixed");
}

TEST(ImageDirPrefix, StopsBeforeTheFirstPlaceholder) {
  EXPECT_EQ(ImageDirFixedPrefix("/var/spool/kcr/{user}/{job}"), "/var/spool/kcr");
  EXPECT_EQ(ImageDirFixedPrefix("/var/spool/kcr/job-{job}"), "/var/spool/kcr");
}

TEST(ImageDirPrefix, PlaceholderBelowTheRootIsTheRoot) {
  EXPECT_EQ(ImageDirFixedPrefix("/{user}/{job}"), "/");
}

TEST(ImageDirPrefix, WithoutPlaceholdersItIsTheWholePattern) {
  EXPECT_EQ(ImageDirFixedPrefix("/scratch/ckpt"), "/scratch/ckpt");
}

TEST(ImageDirMatch, ReadsThePlaceholdersBack) {
  ImageDirMatcher m("/ckpt/{user}/{job}/{step}.{task}");
  auto f = m.Match("/ckpt/alice/42/batch.3/42.batch.3.r0.1-periodic.kcr");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->user, "alice");
  EXPECT_EQ(f->job, "42");
  EXPECT_EQ(f->step, "batch");
  EXPECT_EQ(f->task, "3");
}

TEST(ImageDirMatch, TriesTheAncestorsOfTheImage) {
  ImageDirMatcher m("/ckpt/{user}/{job}");
  auto f = m.Match("/ckpt/bob/manual/deeper/x.kcr");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->job, "manual");
  EXPECT_FALSE(f->step);
}

TEST(ImageDirMatch, LiteralRegexCharactersAreLiteral) {
  ImageDirMatcher m("/ckpt+x/{job}");
  EXPECT_TRUE(m.Match("/ckpt+x/7/a.kcr"));
  EXPECT_FALSE(m.Match("/ckpttx/7/a.kcr"));
}

TEST(ImageDirMatch, AnImageElsewhereDoesNotMatch) {
  EXPECT_FALSE(ImageDirMatcher("/ckpt/{job}").Match("/other/7/a.kcr"));
}

TEST(ImageDirMatch, AnInvalidPatternMatchesNothing) {
  EXPECT_FALSE(ImageDirMatcher("/ckpt/{jobid}").Match("/ckpt/7/a.kcr"));
}

TEST(ImageName, NamesJobStepTaskRunSequenceAndTrigger) {
  EXPECT_EQ(ImageFileName({.job = "42",
                           .step = "batch",
                           .task = "0",
                           .restart = 1,
                           .seq = 3,
                           .trigger = "preempt"}),
            "42.batch.0.r1.3-preempt.kcr");
}

}  // namespace
}  // namespace kcr::config
