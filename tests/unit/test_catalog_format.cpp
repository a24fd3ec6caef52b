// Output formats of `kcr catalog`: aligned tables, the documented JSON,
// RFC 4180 CSV and sacct-style parsable lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "kcr/catalog/format.h"
#include "kcr/util/units.h"

namespace kcr::catalog {
namespace {

CheckpointRow Sample() {
  CheckpointRow r;
  r.id = 12;
  r.info.job_id = 1234;
  r.info.step_id = kStepBatch;
  r.info.task = 3;
  r.info.node = "n01";
  r.info.pid = 99;
  r.info.uid = 1000;
  r.info.user = "alice";
  r.info.image_path = "/ckpt/a,b \"c\".kcr";
  r.info.trigger = Trigger::kPreempt;
  r.info.kcr_version = "0.1.0";
  r.info.kernel_release = "6.1.0";
  r.info.created_ns = 1'700'000'000'000'000'000LL;
  r.state = State::kVerified;
  r.bytes = 3 * 1024 * 1024;
  r.checksum = 0xabcdef;
  r.freeze_ns = 1'500'000;
  r.write_ns = 2'000'000'000;
  r.committed_ns = 1'700'000'010'000'000'000LL;
  r.state_changed_ns = 1'700'000'010'000'000'000LL;
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

TEST(CatalogFormat, TableColumnsLineUp) {
  CheckpointRow a = Sample();
  CheckpointRow b = Sample();
  b.id = 7;
  b.info.job_id = kManualJob;
  b.info.user = "a-much-longer-name";
  std::vector<CheckpointRow> rows = {a, b};
  auto out = Lines(RenderCheckpoints(rows, Format::kTable));
  ASSERT_EQ(out.size(), 3u);
  // Every column starts at the same offset on every line.
  auto user_col = out[0].find("USER");
  EXPECT_EQ(out[1].find("alice"), user_col);
  EXPECT_EQ(out[2].find("a-much-longer-name"), user_col);
  auto state_col = out[0].find("STATE");
  EXPECT_EQ(out[1].find("VERIFIED"), state_col);
  EXPECT_NE(out[2].find("manual"), std::string::npos);
  EXPECT_NE(out[1].find("batch"), std::string::npos);
  EXPECT_NE(out[1].find("3.0 MiB"), std::string::npos);
}

// Numbers are nlohmann::json's spelling: a whole double keeps its ".0".
TEST(CatalogFormat, JsonIsTheDocumentedShape) {
  CheckpointRow r = Sample();
  std::string json = RenderCheckpoints(std::span(&r, 1), Format::kJson);
  const char* expected = R"({
  "format_version": 1,
  "checkpoints": [
    {
      "id": 12,
      "job": 1234,
      "array_job": null,
      "array_task": null,
      "partition": "",
      "step": 4294967291,
      "step_name": "batch",
      "task": 3,
      "node": "n01",
      "pid": 99,
      "uid": 1000,
      "user": "alice",
      "image_path": "/ckpt/a,b \"c\".kcr",
      "bytes": 3145728,
      "checksum": "0000000000abcdef",
      "trigger": "preempt",
      "parent": null,
      "set": null,
      "set_size": 1,
      "state": "VERIFIED",
      "state_reason": "",
      "created": "2023-11-14T22:13:20Z",
      "committed": "2023-11-14T22:13:30Z",
      "verified": null,
      "state_changed": "2023-11-14T22:13:30Z",
      "freeze_seconds": 0.0015,
      "write_seconds": 2.0,
      "kcr_version": "0.1.0",
      "kernel_release": "6.1.0"
    }
  ]
}
)";
  EXPECT_EQ(json, expected);
  EXPECT_EQ(RenderCheckpoints({}, Format::kJson),
            "{\n  \"format_version\": 1,\n  \"checkpoints\": []\n}\n");
}

TEST(CatalogFormat, CsvQuotesAndParsableSeparates) {
  CheckpointRow r = Sample();
  auto csv = Lines(RenderCheckpoints(std::span(&r, 1), Format::kCsv));
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_EQ(csv[0].rfind("id,job,step,task,user,uid,node,pid,state,trigger,bytes,", 0), 0u);
  EXPECT_NE(csv[1].find(",\"/ckpt/a,b \"\"c\"\".kcr\","), std::string::npos) << csv[1];
  auto p = Lines(RenderCheckpoints(std::span(&r, 1), Format::kParsable));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].rfind("12|1234|batch|3|alice|1000|n01|99|VERIFIED|preempt|3145728|", 0), 0u)
      << p[1];
  // Like sacct --parsable2: a separator between fields, none after the last.
  EXPECT_EQ(std::count(p[0].begin(), p[0].end(), '|'), 21);
  EXPECT_EQ(std::count(p[1].begin(), p[1].end(), '|'), 21);
  EXPECT_NE(p[0].back(), '|');
}

TEST(CatalogFormat, StatsAndPrunePlans) {
  Stats s;
  UsageStats u;
  u.user = "alice";
  u.uid = 1000;
  u.checkpoints = 4;
  u.committed = 3;
  u.failed = 1;
  u.written_bytes = 1ULL << 30;
  u.write_ns = 4'000'000'000;
  s.per_user.push_back(u);
  u.job_id = 77;
  s.per_job.push_back(u);
  auto table = RenderStats(s, Format::kTable);
  EXPECT_NE(table.find("75.0%"), std::string::npos) << table;
  EXPECT_NE(table.find("4.00"), std::string::npos) << table;
  auto json = RenderStats(s, Format::kJson);
  EXPECT_NE(json.find("\"success_rate\": 0.75"), std::string::npos) << json;
  EXPECT_NE(json.find("\"job\": 77"), std::string::npos) << json;

  PrunePlan plan;
  plan.actions.push_back({.id = 5,
                          .kind = PruneKind::kExpire,
                          .from = State::kCommitted,
                          .uid = 1000,
                          .image_path = "/ckpt/x",
                          .bytes = 2048,
                          .unlink_image = true,
                          .reason = "older than max_age 7d"});
  plan.notes.push_back("user bob stays over user_quota");
  auto dry = RenderPrune(plan, true, Format::kTable);
  EXPECT_NE(dry.find("Would prune 1 checkpoint(s), 2.0 KiB"), std::string::npos) << dry;
  EXPECT_NE(dry.find("note: user bob"), std::string::npos);
  EXPECT_NE(RenderPrune(plan, true, Format::kJson).find("\"dry_run\": true"), std::string::npos);
}

TEST(CatalogFormat, NamesAndUnits) {
  EXPECT_EQ(util::HumanBytes(1000), "1000 B");
  EXPECT_EQ(util::HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(util::HumanBytes(10ULL << 30), "10.0 GiB");
  EXPECT_EQ(UtcTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(JobName(kManualJob), "manual");
  EXPECT_EQ(StepName(kStepExtern), "extern");
  EXPECT_EQ(ParseStep("batch"), kStepBatch);
  EXPECT_EQ(ParseStep("12"), 12u);
  EXPECT_FALSE(ParseStep("12x"));
  EXPECT_EQ(ParseState("committed"), State::kCommitted);
  EXPECT_FALSE(ParseState("DONE"));
  EXPECT_EQ(ParseTrigger("requeue-test"), Trigger::kRequeueTest);
  EXPECT_EQ(ParseFormat("parsable"), Format::kParsable);
}

}  // namespace
}  // namespace kcr::catalog
