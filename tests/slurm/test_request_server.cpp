// The agent's request socket (spank_plugin/request_server.h) with a real
// unix socket in a temporary spool directory: who may ask what, and that
// every line a client sent is served, even when it hung up right after.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <kcr/slurm_request.h>
#include "request_server.h"

// Slurm's loggers, which slurmstepd provides to the plugin at load time.
extern "C" {
void slurm_info(const char*, ...) {}
void slurm_error(const char*, ...) {}
void slurm_verbose(const char*, ...) {}
void slurm_debug(const char*, ...) {}
}

namespace kcr::spank {
namespace {

namespace verb = slurm::verb;
namespace field = slurm::field;

constexpr std::uint32_t kJob = 42;
constexpr std::uint32_t kStep = 0;
constexpr std::uint32_t kLocalId = 7;

struct FakeAgent : RequestHandler {
  std::vector<slurm::TaskResult> checkpoint_results;
  PlanAnswer plan;
  std::vector<std::string> calls;

  std::vector<slurm::TaskResult> OnCheckpoint(const Peer& peer) override {
    calls.push_back("checkpoint uid=" + std::to_string(peer.uid));
    return checkpoint_results;
  }
  PlanAnswer OnRestorePlan(std::uint32_t local_id, std::int64_t restart) override {
    calls.push_back("plan " + std::to_string(local_id) + " restart=" + std::to_string(restart));
    return plan;
  }
  void OnRestoreTry(std::uint32_t local_id, std::int64_t checkpoint,
                    const std::string& image) override {
    calls.push_back("try " + std::to_string(local_id) + " " + std::to_string(checkpoint) + " " +
                    image);
  }
  void OnRestoreFailed(std::uint32_t local_id, std::int64_t checkpoint, bool image_corrupt,
                       const std::string& reason) override {
    calls.push_back("failed " + std::to_string(local_id) + " " + std::to_string(checkpoint) +
                    (image_corrupt ? " corrupt " : " ") + reason);
  }
  void OnRestoreCold(std::uint32_t local_id, const std::string& reason) override {
    calls.push_back("cold " + std::to_string(local_id) + " " + reason);
  }
  Status OnMapIds(std::uint32_t local_id, pid_t process, const std::string& clocks) override {
    calls.push_back("map-ids " + std::to_string(local_id) + " pid=" + std::to_string(process) +
                    (clocks.empty() ? "" : " clocks=" + clocks));
    return process == 4710 ? Status::Ok() : Status::Error(EPERM, "not the task's child");
  }
  void OnRestored(std::uint32_t local_id, pid_t program, bool clocks_continued) override {
    calls.push_back("restored " + std::to_string(local_id) + " pid=" + std::to_string(program) +
                    (clocks_continued ? " clocks continued" : ""));
  }
};

class RequestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kcr-spool-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    spool_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(spool_); }

  // A server whose only task is this process (or none).
  RequestServer Server(bool caller_is_a_task) {
    return RequestServer(
        kJob, kStep, ::getuid(),
        [caller_is_a_task](pid_t pid) -> std::optional<std::uint32_t> {
          return caller_is_a_task && pid == ::getpid() ? std::optional(kLocalId) : std::nullopt;
        },
        agent_);
  }
  slurm::LineSocket Connect() {
    slurm::LineSocket s;
    EXPECT_TRUE(slurm::LineSocket::Connect(slurm::SocketPath(spool_, kJob, kStep), &s).ok());
    return s;
  }
  std::vector<std::string> Answers(slurm::LineSocket& s) {
    std::vector<std::string> lines;
    for (;;) {
      std::optional<std::string> line;
      if (!s.Receive(std::chrono::seconds(2), &line).ok() || !line)
        return lines;
      lines.push_back(*line);
    }
  }

  std::string spool_;
  FakeAgent agent_;
};

TEST_F(RequestServerTest, ListensOnTheStepsSocket) {
  RequestServer server = Server(true);
  ASSERT_TRUE(server.Listen(spool_ + "/run"));
  EXPECT_TRUE(std::filesystem::exists(slurm::SocketPath(spool_ + "/run", kJob, kStep)));
  server.Close();
  EXPECT_FALSE(std::filesystem::exists(slurm::SocketPath(spool_ + "/run", kJob, kStep)));
}

TEST_F(RequestServerTest, LinesSentJustBeforeAHangUpAreServed) {
  RequestServer server = Server(true);
  ASSERT_TRUE(server.Listen(spool_));
  {
    slurm::LineSocket task = Connect();
    ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kRestoreTry,
                                               {{field::kId, "21"}, {field::kImage, "/a b.kcr"}}))
                    .ok());
  }  // hung up, as a restoring task's descriptors are replaced
  server.Serve();
  EXPECT_EQ(agent_.calls, (std::vector<std::string>{"try 7 21 /a b.kcr"}));
}

TEST_F(RequestServerTest, ARestorePlanIsCandidatesThenEnd) {
  RequestServer server = Server(true);
  ASSERT_TRUE(server.Listen(spool_));
  agent_.plan.candidates = {{21, "preempt", "/ckpt/21.kcr"}, {17, "periodic", "/ckpt/17.kcr"}};
  slurm::LineSocket task = Connect();
  ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kRestorePlan,
                                             {{field::kTask, "0"}, {field::kRestart, "1"}}))
                  .ok());
  server.Serve();
  std::optional<std::string> line;
  std::vector<std::string> got;
  for (int i = 0; i < 3 && task.Receive(std::chrono::seconds(2), &line).ok() && line; i++)
    got.push_back(*line);
  EXPECT_EQ(got, (std::vector<std::string>{"candidate id=21 trigger=preempt image=/ckpt/21.kcr",
                                           "candidate id=17 trigger=periodic image=/ckpt/17.kcr",
                                           "end reason="}));
  EXPECT_EQ(agent_.calls, (std::vector<std::string>{"plan 7 restart=1"}));
}

TEST_F(RequestServerTest, EveryRestoreVerbReachesItsHandler) {
  RequestServer server = Server(true);
  ASSERT_TRUE(server.Listen(spool_));
  {
    slurm::LineSocket task = Connect();
    ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kRestoreFailed, {{field::kId, "21"},
                                                                      {field::kCorrupt, "1"},
                                                                      {field::kReason, "bad sum"}}))
                    .ok());
    ASSERT_TRUE(
        task.Send(slurm::FormatMessage(verb::kRestoreCold, {{field::kReason, "none worked"}}))
            .ok());
    ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kRestored, {{field::kPid, "4711"},
                                                                 {field::kImage, "/i/a b.kcr"}}))
                    .ok());
    ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kRestored, {{field::kPid, "4712"},
                                                                 {field::kClocks, "continued"},
                                                                 {field::kImage, "/i/c.kcr"}}))
                    .ok());
  }
  server.Serve();
  EXPECT_EQ(agent_.calls, (std::vector<std::string>{"failed 7 21 corrupt bad sum",
                                                    "cold 7 none worked", "restored 7 pid=4711",
                                                    "restored 7 pid=4712 clocks continued"}));
}

TEST_F(RequestServerTest, MapIdsIsAnsweredMappedOrFailedAndTheTaskStaysConnected) {
  RequestServer server = Server(true);
  ASSERT_TRUE(server.Listen(spool_));
  slurm::LineSocket task = Connect();
  ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kMapIds, {{field::kPid, "4710"}})).ok());
  server.Serve();
  std::optional<std::string> line;
  ASSERT_TRUE(task.Receive(std::chrono::seconds(2), &line).ok());
  EXPECT_EQ(line, std::string(verb::kMapped));
  ASSERT_TRUE(task.Send(slurm::FormatMessage(verb::kMapIds,
                                             {{field::kPid, "99"},
                                              {field::kClocks, "monotonic:-5:10,boottime:7:0"}}))
                  .ok());
  server.Serve();
  ASSERT_TRUE(task.Receive(std::chrono::seconds(2), &line).ok());
  ASSERT_TRUE(line);
  EXPECT_EQ(slurm::ParseMessage(*line).verb, verb::kFailed);
  EXPECT_EQ(slurm::ParseMessage(*line).Get(field::kReason), "not the task's child");
  EXPECT_EQ(agent_.calls,
            (std::vector<std::string>{"map-ids 7 pid=4710",
                                      "map-ids 7 pid=99 clocks=monotonic:-5:10,boottime:7:0"}));
}

TEST_F(RequestServerTest, RestoreVerbsFromOutsideTheStepAreRefused) {
  RequestServer server = Server(false);
  ASSERT_TRUE(server.Listen(spool_));
  slurm::LineSocket stranger = Connect();
  ASSERT_TRUE(stranger.Send(slurm::FormatMessage(verb::kRestorePlan, {})).ok());
  server.Serve();
  EXPECT_EQ(Answers(stranger),
            (std::vector<std::string>{"error reason=unknown request 'restore-plan'"}));
  EXPECT_TRUE(agent_.calls.empty());
}

TEST_F(RequestServerTest, AnUnknownVerbIsRefused) {
  RequestServer server = Server(true);
  ASSERT_TRUE(server.Listen(spool_));
  slurm::LineSocket task = Connect();
  ASSERT_TRUE(task.Send("reboot").ok());
  server.Serve();
  EXPECT_EQ(Answers(task), (std::vector<std::string>{"error reason=unknown request 'reboot'"}));
}

TEST_F(RequestServerTest, TheOwnerGetsOneLinePerTaskThenDone) {
  RequestServer server = Server(false);
  ASSERT_TRUE(server.Listen(spool_));
  slurm::TaskResult ok;
  ok.task = 0;
  ok.ok = true;
  ok.checkpoint_id = 17;
  ok.bytes = 4096;
  ok.ms = 41;
  ok.image = "/ckpt/17.kcr";
  slurm::TaskResult refused;
  refused.task = 1;
  refused.checkpoint_id = 18;
  refused.reason = "process tree";
  agent_.checkpoint_results = {ok, refused};
  slurm::LineSocket owner = Connect();
  ASSERT_TRUE(owner.Send(verb::kCheckpoint).ok());
  server.Serve();
  std::optional<std::string> line;
  std::vector<std::string> got;
  for (int i = 0; i < 3 && owner.Receive(std::chrono::seconds(2), &line).ok() && line; i++)
    got.push_back(*line);
  EXPECT_EQ(got, (std::vector<std::string>{"ok task=0 id=17 bytes=4096 ms=41 image=/ckpt/17.kcr",
                                           "failed task=1 id=18 reason=process tree",
                                           "done ok=1 failed=1"}));
}

}  // namespace
}  // namespace kcr::spank
