// The node agent's schedule on a FakeClock: the whole agent (store, queue, trackers) runs on
// NodeOptions::clock, so these tests move time by hand and check *when* the agent acted, in fake
// time, instead of sleeping through real intervals. The rules themselves are table-tested in
// probe_tracker_test.cc and restart_tracker_test.cc; these prove the agent schedules by them.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "api/resource.h"
#include "node/node_agent.h"
#include "runtime/fake_runtime.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

using asb::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

class OneImage final : public image::ImageResolver {
 public:
  Result<image::ResolvedImage> Resolve(const std::string& ref) override {
    image::ResolvedImage img;
    img.rootfs.lower_dir = "/images/" + ref;
    img.entrypoint = {"/bin/server"};
    img.image_id = "sha256:" + ref;
    return img;
  }
};

// A FakeRuntime whose sandboxes exit on their own at a time on the fake clock, and which records
// the fake time of every start and of every inspect that saw an exited sandbox.
class TimedRuntime final : public runtime::Runtime {
 public:
  explicit TimedRuntime(FakeClock& clock) : clock_(clock) {}

  // Every sandbox started from now on exits `after` its start (0: at once), with `exit_code`.
  void ExitAfter(milliseconds after, int exit_code) {
    std::lock_guard l(mu_);
    exit_after_ = after;
    exit_code_ = exit_code;
  }
  // Exec (the probes) succeeds from the `fail_first`+1-th call on; each call's fake time is kept.
  void FailProbes(int fail_first) {
    std::lock_guard l(mu_);
    probe_failures_left_ = fail_first;
  }
  std::vector<SystemTime> probes() {
    std::lock_guard l(mu_);
    return probes_;
  }
  std::vector<SystemTime> starts() {
    std::lock_guard l(mu_);
    return starts_;
  }
  std::vector<SystemTime> exits_seen() {
    std::lock_guard l(mu_);
    return exits_seen_;
  }

  std::string_view name() const override { return "native"; }
  Status Start(const runtime::SandboxSpec& spec) override {
    std::lock_guard l(mu_);
    starts_.push_back(clock_.Now());
    if (exit_after_) exit_at_[spec.id] = clock_.Now() + *exit_after_;
    return inner_.Start(spec);
  }
  Result<runtime::SandboxStatus> Inspect(const std::string& id) override {
    std::lock_guard l(mu_);
    if (auto it = exit_at_.find(id); it != exit_at_.end() && clock_.Now() >= it->second) {
      inner_.Exit(id, exit_code_);
      exit_at_.erase(it);
    }
    auto st = inner_.Inspect(id);
    if (st && st->state == runtime::SandboxState::kExited) exits_seen_.push_back(clock_.Now());
    return st;
  }
  Status Stop(const std::string& id, milliseconds grace) override { return inner_.Stop(id, grace); }
  Result<UniqueFd> DialPort(const std::string& id, uint16_t port) override {
    return inner_.DialPort(id, port);
  }
  Result<runtime::ExecResult> Exec(const std::string& id, const runtime::ProcessSpec& /*process*/,
                                   milliseconds /*timeout*/) override {
    std::lock_guard l(mu_);
    if (!inner_.Has(id)) return MakeError(Code::kNotFound, "no sandbox " + id);
    probes_.push_back(clock_.Now());
    return runtime::ExecResult{.exit_code = probe_failures_left_-- > 0 ? 1 : 0};
  }
  Result<std::vector<std::string>> List() override { return inner_.List(); }

 private:
  FakeClock& clock_;
  runtime::FakeRuntime inner_{"native"};
  std::mutex mu_;
  std::optional<milliseconds> exit_after_;
  int exit_code_ = 0;
  std::map<std::string, SystemTime> exit_at_;
  std::vector<SystemTime> starts_;
  std::vector<SystemTime> exits_seen_;
  int probe_failures_left_ = 0;
  std::vector<SystemTime> probes_;
};

class NodeAgentClockTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(store_, store::MemoryStore::Open()); }
  void TearDown() override {
    if (agent_) agent_->Stop();
  }

  void StartAgent(NodeOptions o) {
    o.node_name = "node-1";
    o.clock = &clock_;
    agent_ = std::make_unique<NodeAgent>(
        *store_, std::map<std::string, runtime::Runtime*>{{"native", &runtime_}}, images_, o);
    ASSERT_TRUE(agent_->Start().has_value());
  }
  void CreatePod(const std::string& name, const std::string& restart_policy,
                 Json container_extra = Json::object()) {
    Json c = {{"name", "main"}, {"image", "img"}};
    for (auto& [k, v] : container_extra.items()) c[k] = v;
    Json pod = {{"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"restartPolicy", restart_policy}, {"containers", Json::array({c})}}}};
    ASSERT_TRUE(store_->Create(api::PodResource(), pod).has_value());
  }
  Json Get(const std::string& name) {
    auto r = store_->Get(api::PodResource(), "default", name);
    return r ? *r : Json();
  }
  std::string Phase(const std::string& name) { return GetString(Get(name), "status.phase"); }
  int RestartCount(const std::string& name) {
    const Json pod = Get(name);
    const Json* cs = Find(pod, "status.containerStatuses");
    return cs && cs->is_array() && !cs->empty() ? (*cs)[0].value("restartCount", -1) : -1;
  }
  std::string Ready(const std::string& name) {
    const Json pod = Get(name);
    const Json* conds = Find(pod, "status.conditions");
    if (conds == nullptr || !conds->is_array()) return "";
    for (const Json& c : *conds) {
      if (c.value("type", "") == "Ready") return c.value("status", "");
    }
    return "";
  }
  std::string WaitingReason(const std::string& name) {
    const Json pod = Get(name);
    const Json* cs = Find(pod, "status.containerStatuses");
    return cs && cs->is_array() && !cs->empty() ? GetString((*cs)[0], "state.waiting.reason") : "";
  }
  // Moves fake time on and lets the agent's timers see it.
  void Advance(milliseconds d) {
    clock_.Advance(d);
    agent_->WakeTimers();
  }
  // Nothing becomes true within a short real-time window (the agent acts within milliseconds
  // of a wake when it acts at all); used only to check the agent did not act too early.
  static bool StaysFalse(const std::function<bool()>& pred) {
    return !WaitFor(pred, milliseconds(200));
  }

  FakeClock clock_;
  TimedRuntime runtime_{clock_};
  OneImage images_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<NodeAgent> agent_;
};

// A running sandbox is inspected every exit_check_interval: one that exits 30 s into a 60 s
// interval is noticed at 60 s, not before, and not on a real-time cadence.
TEST_F(NodeAgentClockTest, ExitIsNoticedAtTheNextExitCheck) {
  NodeOptions o;
  o.exit_check_interval = seconds(60);
  runtime_.ExitAfter(seconds(30), 0);
  StartAgent(o);
  const SystemTime t0 = clock_.Now();
  CreatePod("job", "Never");
  ASSERT_TRUE(WaitFor([&] { return Phase("job") == "Running"; }));

  Advance(seconds(30));  // it has exited now, but no check is due
  EXPECT_TRUE(StaysFalse([&] { return !runtime_.exits_seen().empty(); }));
  Advance(seconds(30) - milliseconds(1));
  EXPECT_TRUE(StaysFalse([&] { return !runtime_.exits_seen().empty(); }));
  EXPECT_EQ(Phase("job"), "Running");
  Advance(milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return Phase("job") == "Succeeded"; }));
  ASSERT_FALSE(runtime_.exits_seen().empty());
  EXPECT_EQ(runtime_.exits_seen().front(), t0 + seconds(60));
}

// A crash loop restarts exactly when each back-off ends: base, doubling, capped.
TEST_F(NodeAgentClockTest, CrashLoopRestartsWhenEachBackoffEnds) {
  NodeOptions o;
  o.backoff_base = seconds(10);
  o.backoff_cap = seconds(40);
  runtime_.ExitAfter(milliseconds(0), 1);  // every start crashes at once
  StartAgent(o);
  const SystemTime t0 = clock_.Now();
  CreatePod("crash", "Always");
  ASSERT_TRUE(WaitFor([&] { return runtime_.starts().size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return WaitingReason("crash") == "CrashLoopBackOff"; }));
  std::vector<SystemTime> want = {t0};
  SystemTime at = t0;
  for (milliseconds delay : {seconds(10), seconds(20), seconds(40), seconds(40)}) {
    Advance(delay - milliseconds(1));
    EXPECT_TRUE(StaysFalse([&] { return runtime_.starts().size() > want.size(); }))
        << "restarted before its " << delay.count() << " ms back-off ended";
    Advance(milliseconds(1));
    at += delay;
    want.push_back(at);
    ASSERT_TRUE(WaitFor([&] { return runtime_.starts().size() == want.size(); }))
        << "no restart when the " << delay.count() << " ms back-off ended";
    // The agent notices the crash after the start is recorded; time may move on only once it
    // has (else the next back-off would count from a later moment).
    const int restarts = static_cast<int>(want.size()) - 1;
    ASSERT_TRUE(WaitFor([&] {
      return WaitingReason("crash") == "CrashLoopBackOff" && RestartCount("crash") == restarts;
    })) << "the crash after restart "
        << restarts << " was not reported: " << Get("crash")["status"];
  }
  EXPECT_EQ(runtime_.starts(), want);
  Json cs = Get("crash")["status"]["containerStatuses"][0];
  EXPECT_EQ(cs["restartCount"], 4);
}

// Until its first success the probe runs after initialDelaySeconds, then every 2, 4, 8 ms..., and
// once Ready every periodSeconds; successThreshold successes in a row make the pod Ready.
TEST_F(NodeAgentClockTest, ProbesBackOffFromTheFirstIntervalThenRunEveryPeriod) {
  NodeOptions o;
  o.first_probe_interval = milliseconds(2);
  o.exit_check_interval = seconds(60);
  runtime_.FailProbes(3);
  StartAgent(o);
  const SystemTime t0 = clock_.Now();
  CreatePod("web", "Always",
            {{"readinessProbe",
              {{"exec", {{"command", Json::array({"true"})}}},
               {"initialDelaySeconds", 1},
               {"periodSeconds", 10},
               {"successThreshold", 2}}}});
  ASSERT_TRUE(WaitFor([&] { return Phase("web") == "Running"; }));
  // Probe times, from the start: 1 s (initial delay), then +2, +4, +8 ms while failing (3
  // failures), +16 ms (first success, not yet Ready), then +10 s (Ready: every period).
  const milliseconds gaps[] = {seconds(1),      milliseconds(2),  milliseconds(4),
                               milliseconds(8), milliseconds(16), seconds(10)};
  std::vector<SystemTime> want;
  SystemTime at = t0;
  for (milliseconds gap : gaps) {
    Advance(gap - milliseconds(1));
    EXPECT_TRUE(StaysFalse([&] { return runtime_.probes().size() > want.size(); }))
        << "probed before its " << gap.count() << " ms interval ended";
    Advance(milliseconds(1));
    at += gap;
    want.push_back(at);
    ASSERT_TRUE(WaitFor([&] { return runtime_.probes().size() == want.size(); }))
        << "no probe when the " << gap.count() << " ms interval ended";
    if (want.size() == 4) {
      EXPECT_EQ(Ready("web"), "False");  // one success of two
    }
  }
  EXPECT_EQ(runtime_.probes(), want);
  EXPECT_EQ(Ready("web"), "True");
}

}  // namespace
}  // namespace asb::node
