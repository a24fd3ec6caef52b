// The plugin's option rules: what sbatch accepts and refuses, plugstack.conf
// arguments, how job and site settings combine, and the request protocol's
// line format.
#include <gtest/gtest.h>

#include <kcr/slurm_request.h>
#include "options.h"

namespace kcr::spank {
namespace {

// What a parser made of `text`; nullopt, with the Status's message in
// *why, when it refused the text.
template <typename T>
std::optional<T> Parsed(Status (*parse)(std::string_view, T*), std::string_view text,
                        std::string* why) {
  T value{};
  Status st = parse(text, &value);
  if (!st.ok()) {
    *why = st.message();
    return std::nullopt;
  }
  return value;
}

// Whether a check passed; its message in *why when it did not.
bool Passed(const Status& st, std::string* why) {
  if (!st.ok()) {
    *why = st.message();
  }
  return st.ok();
}

TEST(Interval, AcceptsDurationsAndKeywords) {
  std::string why;
  EXPECT_EQ(Parsed(ParseInterval, "90s", &why),
            (Interval{Interval::Kind::kFixed, std::chrono::seconds(90)}));
  EXPECT_EQ(Parsed(ParseInterval, "10m", &why)->every, std::chrono::seconds(600));
  EXPECT_EQ(Parsed(ParseInterval, "2h", &why)->every, std::chrono::seconds(7200));
  EXPECT_EQ(Parsed(ParseInterval, "1h30m", &why)->every, std::chrono::seconds(5400));
  EXPECT_EQ(Parsed(ParseInterval, "auto", &why)->kind, Interval::Kind::kAuto);
  EXPECT_EQ(Parsed(ParseInterval, "none", &why)->kind, Interval::Kind::kNone);
  EXPECT_EQ(Parsed(ParseInterval, "off", &why)->kind, Interval::Kind::kOff);
  EXPECT_FALSE(Parsed(ParseInterval, "off", &why)->enabled());
}

TEST(Interval, RefusesWithAReason) {
  std::string why;
  EXPECT_FALSE(Parsed(ParseInterval, "abc", &why));
  EXPECT_NE(why.find("not an interval"), std::string::npos) << why;
  EXPECT_FALSE(Parsed(ParseInterval, "30", &why));
  EXPECT_NE(why.find("no unit"), std::string::npos) << why;
  EXPECT_FALSE(Parsed(ParseInterval, "0", &why));
  EXPECT_NE(why.find("off"), std::string::npos) << why;
  EXPECT_FALSE(Parsed(ParseInterval, "", &why));
  EXPECT_FALSE(Parsed(ParseInterval, "-5m", &why));
  EXPECT_FALSE(Parsed(ParseInterval, "5x", &why));
}

TEST(Triggers, ParsesLists) {
  std::string why;
  EXPECT_EQ(Parsed(ParseTriggers, "preempt,timelimit", &why), (Triggers{true, true}));
  EXPECT_EQ(Parsed(ParseTriggers, "timelimit,preempt", &why), (Triggers{true, true}));
  EXPECT_EQ(Parsed(ParseTriggers, "preempt", &why), (Triggers{true, false}));
  EXPECT_EQ(Parsed(ParseTriggers, "timelimit", &why), (Triggers{false, true}));
  EXPECT_EQ(Parsed(ParseTriggers, "none", &why), (Triggers{false, false}));
  EXPECT_FALSE(Parsed(ParseTriggers, "preempt,reboot", &why));
  EXPECT_NE(why.find("'reboot'"), std::string::npos) << why;
  EXPECT_FALSE(Parsed(ParseTriggers, "", &why));
  EXPECT_FALSE(Parsed(ParseTriggers, "preempt,", &why));
}

TEST(RestartFrom, ParsesLatestIdNone) {
  std::string why;
  EXPECT_EQ(Parsed(ParseRestartFrom, "latest", &why)->kind, RestartFrom::Kind::kLatest);
  EXPECT_EQ(Parsed(ParseRestartFrom, "none", &why)->kind, RestartFrom::Kind::kNone);
  EXPECT_EQ(Parsed(ParseRestartFrom, "42", &why), (RestartFrom{RestartFrom::Kind::kId, 42}));
  EXPECT_FALSE(Parsed(ParseRestartFrom, "0", &why));
  EXPECT_FALSE(Parsed(ParseRestartFrom, "-3", &why));
  EXPECT_FALSE(Parsed(ParseRestartFrom, "newest", &why));
  EXPECT_NE(why.find("kcr catalog list"), std::string::npos) << why;
}

TEST(DirPattern, AbsoluteWithKnownPlaceholders) {
  std::string why;
  EXPECT_TRUE(Passed(CheckDirPattern("/scratch/ckpt"), &why));
  EXPECT_TRUE(Passed(CheckDirPattern("/scratch/{user}/{job}/{step}.{task}"), &why));
  EXPECT_FALSE(Passed(CheckDirPattern("ckpt"), &why));
  EXPECT_NE(why.find("absolute"), std::string::npos) << why;
  EXPECT_FALSE(Passed(CheckDirPattern("/scratch/{jobid}"), &why));
  EXPECT_NE(why.find("{jobid}"), std::string::npos) << why;
  EXPECT_FALSE(Passed(CheckDirPattern("/scratch/{job"), &why));
  EXPECT_FALSE(Passed(CheckDirPattern("/scratch/../etc"), &why));
}

// The option and kcr.yaml's image_dir share one rule (kcr/config/image_dir.h).
TEST(DirPattern, StrayClosingBraceIsRefusedAsInKcrYaml) {
  std::string why;
  EXPECT_FALSE(Passed(CheckDirPattern("/scratch/job}"), &why));
  EXPECT_NE(why.find("'}' without '{'"), std::string::npos) << why;
}

TEST(Site, ParsesPlugstackArguments) {
  SiteOptions site;
  std::string why;
  ASSERT_TRUE(Passed(ParseSiteArgs({"config=/etc/kcr/kcr.yaml", "default=10m", "dir=/ckpt/{user}",
                                    "on=preempt", "spool=/run/x", "srun_sigterm=default",
                                    "poll=500ms", "min_interval=30s", "mtbf=6h"},
                                   &site),
                     &why))
      << why;
  EXPECT_EQ(site.config_path, "/etc/kcr/kcr.yaml");
  EXPECT_EQ(site.interval.every, std::chrono::seconds(600));
  EXPECT_EQ(site.dir, "/ckpt/{user}");
  EXPECT_EQ(site.on, (Triggers{true, false}));
  EXPECT_EQ(site.spool_dir, "/run/x");
  EXPECT_FALSE(site.srun_ignore_sigterm);
  EXPECT_EQ(site.poll, std::chrono::milliseconds(500));
  EXPECT_EQ(site.min_interval, std::chrono::seconds(30));
  EXPECT_EQ(site.mtbf, std::chrono::hours(6));
}

TEST(Site, RefusesUnknownAndBadArguments) {
  SiteOptions site;
  std::string why;
  EXPECT_FALSE(Passed(ParseSiteArgs({"intervall=5m"}, &site), &why));
  EXPECT_NE(why.find("unknown"), std::string::npos) << why;
  EXPECT_FALSE(Passed(ParseSiteArgs({"default=abc"}, &site), &why));
  EXPECT_FALSE(Passed(ParseSiteArgs({"poll=0ms"}, &site), &why));
  EXPECT_FALSE(Passed(ParseSiteArgs({"spool=relative"}, &site), &why));
  EXPECT_FALSE(Passed(ParseSiteArgs({"verbose"}, &site), &why));
}

TEST(Resolve, JobWinsOverSiteAndConfig) {
  SiteOptions site;
  JobOptions job;
  Settings s = Resolve(site, job, "/var/spool/kcr/{user}/{job}");
  EXPECT_FALSE(s.checkpoints());
  EXPECT_FALSE(s.restores());
  EXPECT_FALSE(s.active());
  EXPECT_EQ(s.dir_pattern, "/var/spool/kcr/{user}/{job}");
  EXPECT_FALSE(s.dir_from_user);

  site.interval = {Interval::Kind::kFixed, std::chrono::seconds(3600)};
  site.dir = "/site/{job}";
  s = Resolve(site, job, "/cfg");
  EXPECT_TRUE(s.checkpoints());
  EXPECT_TRUE(s.restores());
  EXPECT_EQ(s.dir_pattern, "/site/{job}");

  job.interval = Interval{};  // --checkpoint=off beats the site default
  job.dir = "/mine";
  s = Resolve(site, job, "/cfg");
  EXPECT_FALSE(s.active());
  EXPECT_EQ(s.dir_pattern, "/mine");
  EXPECT_TRUE(s.dir_from_user);

  job.restart_from = RestartFrom{RestartFrom::Kind::kId, 7};  // restore-only job
  s = Resolve(site, job, "/cfg");
  EXPECT_FALSE(s.checkpoints());
  EXPECT_TRUE(s.restores());

  job.interval = Interval{Interval::Kind::kNone, {}};
  job.restart_from = RestartFrom{RestartFrom::Kind::kNone, 0};
  s = Resolve(site, job, "/cfg");
  EXPECT_TRUE(s.checkpoints());
  EXPECT_FALSE(s.restores());
}

TEST(Format, RoundTrips) {
  std::string why;
  for (const char* text : {"45s", "10m", "2h", "1h30m", "1d2h", "auto", "none", "off"}) {
    EXPECT_EQ(ToString(*Parsed(ParseInterval, text, &why)), text);
  }
  EXPECT_EQ(ToString(*Parsed(ParseInterval, "90s", &why)), "1m30s");
  EXPECT_EQ(ToString(Triggers{true, true}), "preempt,timelimit");
  EXPECT_EQ(ToString(RestartFrom{RestartFrom::Kind::kId, 9}), "9");
}

}  // namespace
}  // namespace kcr::spank

namespace kcr::slurm {
namespace {

TEST(Request, ParsesJobSteps) {
  EXPECT_EQ(ParseJobStep("42")->job, 42u);
  EXPECT_FALSE(ParseJobStep("42")->step);
  EXPECT_EQ(ParseJobStep("42.0")->step, 0u);
  EXPECT_EQ(ParseJobStep("42.batch")->step, 0xfffffffbU);
  EXPECT_FALSE(ParseJobStep("0"));
  EXPECT_FALSE(ParseJobStep("42."));
  EXPECT_FALSE(ParseJobStep("x"));
  EXPECT_FALSE(ParseJobStep("42.extern.1"));
  EXPECT_EQ(SocketPath("/run/kcr", 42, 0xfffffffbU), "/run/kcr/42.batch.sock");
}

TEST(Request, MessagesKeepSpacesInTheLastField) {
  std::string line = FormatMessage(
      "failed", {{"task", "3"}, {"reason", "process tree: pid 5 (a b) has children\nmore"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  Message m = ParseMessage(line);
  EXPECT_EQ(m.verb, "failed");
  EXPECT_EQ(m.GetInt("task"), 3);
  EXPECT_EQ(m.Get("reason"), "process tree: pid 5 (a b) has children more");
  Message ok = ParseMessage("ok task=0 id=17 bytes=5 ms=4 image=/a b/c.kcr");
  EXPECT_EQ(ok.Get("image"), "/a b/c.kcr");
  EXPECT_EQ(ok.GetInt("bytes"), 5);
  EXPECT_FALSE(ok.GetInt("missing"));
}

TEST(Request, NoAgentIsAClearError) {
  std::vector<TaskResult> results;
  Status st = RequestCheckpoint("/nonexistent-kcr-spool", {42, std::nullopt},
                                std::chrono::seconds(1), &results);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("job 42"), std::string::npos) << st.message();
  char out[256];
  EXPECT_EQ(kcr_spank_request_checkpoint("nonsense", "/x", 1, out, sizeof(out)), -EINVAL);
  EXPECT_NE(std::string(out).find("JOBID"), std::string::npos) << out;
}

}  // namespace
}  // namespace kcr::slurm
