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

std::string problem(std::string_view pattern) {
  return image_dir_problem(pattern).value_or("");
}

TEST(ImageDirRule, KnownPlaceholdersAreValid) {
  EXPECT_FALSE(image_dir_problem("/var/spool/kcr/{user}/{job}"));
  EXPECT_FALSE(image_dir_problem("/scratch/{user}/{job}/{step}.{task}"));
  EXPECT_FALSE(image_dir_problem("/scratch/ckpt"));
  EXPECT_FALSE(image_dir_problem("/"));
}

TEST(ImageDirRule, RelativeIsRefused) {
  EXPECT_NE(problem("ckpt/{job}").find("not an absolute directory"), std::string::npos);
  EXPECT_NE(problem("").find("not an absolute directory"), std::string::npos);
}

TEST(ImageDirRule, UnknownPlaceholderIsNamed) {
  const std::string p = problem("/ckpt/{jobid}");
  EXPECT_NE(p.find("unknown placeholder {jobid}"), std::string::npos) << p;
  EXPECT_NE(p.find("not a placeholder"), std::string::npos) << p;
}

TEST(ImageDirRule, EmptyBracesAreAnUnknownPlaceholder) {
  EXPECT_NE(problem("/ckpt/{}").find("unknown placeholder {}"), std::string::npos);
}

TEST(ImageDirRule, UnclosedBraceIsRefused) {
  EXPECT_NE(problem("/ckpt/{job").find("'{' without '}'"), std::string::npos);
}

TEST(ImageDirRule, StrayClosingBraceIsRefused) {
  EXPECT_NE(problem("/ckpt/job}").find("'}' without '{' at column 10"), std::string::npos);
  EXPECT_NE(problem("/ckpt/{job}}").find("'}' without '{' at column 12"), std::string::npos);
}

TEST(ImageDirRule, DotDotComponentIsRefused) {
  for (const char* p : {"/ckpt/../etc", "/ckpt/..", "/../{job}", "/ckpt/{user}/../{job}"}) {
    EXPECT_NE(problem(p).find("'..'"), std::string::npos) << p;
  }
}

TEST(ImageDirRule, DotsInsideANameAreAllowed) {
  EXPECT_FALSE(image_dir_problem("/ckpt/..hidden/{job}.."));
  EXPECT_FALSE(image_dir_problem("/ckpt/{job}.{step}..{task}"));
}

TEST(ImageDirRule, KcrYamlAppliesTheSameRule) {
  EXPECT_THROW(parse("image_dir: /ckpt/../{job}\n", "kcr.yaml"), ConfigError);
  EXPECT_THROW(parse("image_dir: /ckpt/job}\n", "kcr.yaml"), ConfigError);
  try {
    parse("image_dir: /ckpt/../{job}\n", "kcr.yaml");
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "image_dir");
    EXPECT_NE(std::string(e.what()).find("'..'"), std::string::npos) << e.what();
  }
}

TEST(ImageDirExpand, EveryPlaceholderIsFilled) {
  EXPECT_EQ(expand_image_dir("/ckpt/{user}/{job}/{step}.{task}",
                             {.job = "42", .step = "batch", .task = "3", .user = "alice"}),
            "/ckpt/alice/42/batch.3");
}

TEST(ImageDirExpand, LiteralTextStays) {
  EXPECT_EQ(expand_image_dir("/ckpt/fixed", {.job = "42", .step = "", .task = "", .user = ""}),
            "/ckpt/fixed");
}

TEST(ImageDirPrefix, StopsBeforeTheFirstPlaceholder) {
  EXPECT_EQ(image_dir_fixed_prefix("/var/spool/kcr/{user}/{job}"), "/var/spool/kcr");
  EXPECT_EQ(image_dir_fixed_prefix("/var/spool/kcr/job-{job}"), "/var/spool/kcr");
}

TEST(ImageDirPrefix, PlaceholderBelowTheRootIsTheRoot) {
  EXPECT_EQ(image_dir_fixed_prefix("/{user}/{job}"), "/");
}

TEST(ImageDirPrefix, WithoutPlaceholdersItIsTheWholePattern) {
  EXPECT_EQ(image_dir_fixed_prefix("/scratch/ckpt"), "/scratch/ckpt");
}

TEST(ImageDirMatch, ReadsThePlaceholdersBack) {
  ImageDirMatcher m("/ckpt/{user}/{job}/{step}.{task}");
  auto f = m.match("/ckpt/alice/42/batch.3/42.batch.3.r0.1-periodic.kcr");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->user, "alice");
  EXPECT_EQ(f->job, "42");
  EXPECT_EQ(f->step, "batch");
  EXPECT_EQ(f->task, "3");
}

TEST(ImageDirMatch, TriesTheAncestorsOfTheImage) {
  ImageDirMatcher m("/ckpt/{user}/{job}");
  auto f = m.match("/ckpt/bob/manual/deeper/x.kcr");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->job, "manual");
  EXPECT_FALSE(f->step);
}

TEST(ImageDirMatch, LiteralRegexCharactersAreLiteral) {
  ImageDirMatcher m("/ckpt+x/{job}");
  EXPECT_TRUE(m.match("/ckpt+x/7/a.kcr"));
  EXPECT_FALSE(m.match("/ckpttx/7/a.kcr"));
}

TEST(ImageDirMatch, AnImageElsewhereDoesNotMatch) {
  EXPECT_FALSE(ImageDirMatcher("/ckpt/{job}").match("/other/7/a.kcr"));
}

TEST(ImageDirMatch, AnInvalidPatternMatchesNothing) {
  EXPECT_FALSE(ImageDirMatcher("/ckpt/{jobid}").match("/ckpt/7/a.kcr"));
}

TEST(ImageName, NamesJobStepTaskRunSequenceAndTrigger) {
  EXPECT_EQ(image_file_name({.job = "42",
                             .step = "batch",
                             .task = "0",
                             .restart = 1,
                             .seq = 3,
                             .trigger = "preempt"}),
            "42.batch.0.r1.3-preempt.kcr");
}

}  // namespace
}  // namespace kcr::config
