#include "node/pod_status.h"

#include <gtest/gtest.h>

namespace asb::node {
namespace {

using State = ContainerView::State;

const Json kPod = {{"metadata", {{"name", "p"}, {"namespace", "default"}}},
                   {"spec", {{"containers", {{{"name", "main"}, {"image", "img"}}}}}}};

const Json* Cond(const Json& status, const std::string& type) {
  for (const Json& c : status["conditions"]) {
    if (c["type"] == type) return &c;
  }
  return nullptr;
}

TEST(PodStatusTest, PhaseTable) {
  struct Case {
    State state;
    int exit_code;
    bool restarted;
    bool failure;
    std::string phase;
  } cases[] = {
      {State::kWaiting, 0, false, false, "Pending"},
      {State::kWaiting, 0, true, false, "Running"},  // back-off after a crash
      {State::kRunning, 0, false, false, "Running"},
      {State::kTerminated, 0, false, false, "Succeeded"},
      {State::kTerminated, 3, false, false, "Failed"},
      {State::kWaiting, 0, false, true, "Failed"},
  };
  for (const Case& c : cases) {
    PodView v;
    v.container.state = c.state;
    v.container.terminated.exit_code = c.exit_code;
    if (c.restarted) v.container.restart_count = 1;
    if (c.failure) v.failure = PodFailure{"X", "y"};
    EXPECT_EQ(ComputePhase(v), c.phase);
  }
}

TEST(PodStatusTest, RunningReadyAndTransitionTimes) {
  SystemTime t0 = *ParseRfc3339("2026-01-01T00:00:00Z");
  PodView v;
  v.start_time = t0;
  v.qos_class = "BestEffort";
  v.container.state = State::kRunning;
  v.container.started_at = t0;
  v.container.image_id = "sha256:abc";
  v.container.container_id = "native://uid";
  Json s1 = ComputePodStatus(kPod, v, Json::object(), t0);
  EXPECT_EQ(s1["phase"], "Running");
  EXPECT_EQ((*Cond(s1, "Ready"))["status"], "False");
  EXPECT_EQ((*Cond(s1, "Ready"))["reason"], "ContainersNotReady");
  EXPECT_EQ((*Cond(s1, "PodScheduled"))["status"], "True");
  EXPECT_EQ(s1["hostIP"], "127.0.0.1");
  EXPECT_FALSE(s1.contains("podIP"));
  EXPECT_EQ(s1["qosClass"], "BestEffort");
  EXPECT_EQ(s1["startTime"], "2026-01-01T00:00:00Z");
  const Json& cs = s1["containerStatuses"][0];
  EXPECT_EQ(cs["name"], "main");
  EXPECT_EQ(cs["image"], "img");
  EXPECT_EQ(cs["imageID"], "sha256:abc");
  EXPECT_EQ(cs["started"], true);
  EXPECT_EQ(cs["ready"], false);
  EXPECT_EQ(cs["state"]["running"]["startedAt"], "2026-01-01T00:00:00Z");

  // Same facts later: identical status (no write), transition times kept.
  SystemTime t1 = t0 + std::chrono::seconds(30);
  EXPECT_EQ(ComputePodStatus(kPod, v, s1, t1), s1);

  v.container.ready = true;
  Json s2 = ComputePodStatus(kPod, v, s1, t1);
  EXPECT_EQ((*Cond(s2, "Ready"))["status"], "True");
  EXPECT_EQ((*Cond(s2, "Ready"))["lastTransitionTime"], "2026-01-01T00:00:30Z");
  EXPECT_EQ((*Cond(s2, "PodScheduled"))["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(s2["containerStatuses"][0]["ready"], true);
}

TEST(PodStatusTest, TerminatedAndLastState) {
  SystemTime t0 = *ParseRfc3339("2026-01-01T00:00:00Z");
  PodView v;
  v.container.state = State::kWaiting;
  v.container.waiting_reason = kReasonCrashLoopBackOff;
  v.container.waiting_message = "back-off 10s restarting failed container";
  v.container.restart_count = 2;
  v.container.last_terminated =
      TerminatedState{137, 9, kReasonOomKilled, "", t0, t0 + std::chrono::seconds(1)};
  Json s = ComputePodStatus(kPod, v, Json::object(), t0);
  EXPECT_EQ(s["phase"], "Running");
  const Json& cs = s["containerStatuses"][0];
  EXPECT_EQ(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(cs["lastState"]["terminated"]["exitCode"], 137);
  EXPECT_EQ(cs["lastState"]["terminated"]["signal"], 9);
  EXPECT_EQ(cs["lastState"]["terminated"]["reason"], "OOMKilled");
  EXPECT_EQ(cs["restartCount"], 2);
  EXPECT_EQ(cs["started"], false);

  v.container.state = State::kTerminated;
  v.container.terminated = TerminatedState{0, 0, kReasonCompleted, "", t0, t0};
  Json done = ComputePodStatus(kPod, v, s, t0);
  EXPECT_EQ(done["phase"], "Succeeded");
  EXPECT_EQ((*Cond(done, "Ready"))["reason"], "PodCompleted");
  EXPECT_EQ(done["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
}

TEST(PodStatusTest, FailedPodCarriesReason) {
  PodView v;
  v.failure = PodFailure{kReasonRuntimeClassNotFound,
                         "runtime class \"kata\" is not available on this node"};
  Json s = ComputePodStatus(kPod, v, Json::object(), SystemTime{});
  EXPECT_EQ(s["phase"], "Failed");
  EXPECT_EQ(s["reason"], "RuntimeClassNotFound");
  EXPECT_EQ(s["message"], "runtime class \"kata\" is not available on this node");
}

TEST(PodStatusTest, TerminatedReason) {
  EXPECT_EQ(TerminatedReason(0, false), "Completed");
  EXPECT_EQ(TerminatedReason(1, false), "Error");
  EXPECT_EQ(TerminatedReason(137, true), "OOMKilled");
}

}  // namespace
}  // namespace asb::node
