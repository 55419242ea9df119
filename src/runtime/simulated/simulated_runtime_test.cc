// The simulated runtime (simulated_runtime.h): records that behave like running sandboxes for
// the node agent, and nothing a caller could mistake for a real sandbox (no dial, no exec).
#include "runtime/simulated/simulated_runtime.h"

#include <gtest/gtest.h>

namespace asb::runtime {
namespace {

SandboxSpec Spec(const std::string& id) {
  SandboxSpec s;
  s.id = id;
  s.hostname = id;
  s.process.argv = {"/bin/sleep", "infinity"};
  return s;
}

TEST(SimulatedRuntimeTest, StartInspectStopAreRecords) {
  SimulatedRuntime rt;
  EXPECT_EQ(rt.name(), "simulated");
  EXPECT_TRUE(rt.simulated());
  ASSERT_TRUE(rt.Start(Spec("sb-1")));
  auto st = rt.Inspect("sb-1");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->state, SandboxState::kRunning);
  EXPECT_NE(st->started_at, SystemTime{});
  EXPECT_EQ(rt.List().value(), std::vector<std::string>{"sb-1"});

  auto again = rt.Start(Spec("sb-1"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);

  ASSERT_TRUE(rt.Stop("sb-1", std::chrono::milliseconds(0)));
  EXPECT_EQ(rt.Inspect("sb-1").error().code, Code::kNotFound);
  EXPECT_TRUE(rt.List().value().empty());
  EXPECT_TRUE(rt.Stop("sb-1", std::chrono::milliseconds(0)));  // idempotent, as Stop must be
}

TEST(SimulatedRuntimeTest, RejectsBadIdsLikeRealRuntimes) {
  SimulatedRuntime rt;
  auto st = rt.Start(Spec("../etc"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
  EXPECT_EQ(rt.size(), 0u);
}

// Nothing runs, so nothing can be reached: a caller gets a clear kUnavailable naming the
// simulation, never a connection to something else.
TEST(SimulatedRuntimeTest, DialAndExecSayTheSandboxIsSimulated) {
  SimulatedRuntime rt;
  ASSERT_TRUE(rt.Start(Spec("sb-2")));
  auto fd = rt.DialPort("sb-2", 8888);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().code, Code::kUnavailable);
  EXPECT_NE(fd.error().message.find("simulated"), std::string::npos) << fd.error().message;
  auto ex = rt.Exec("sb-2", ProcessSpec{.argv = {"true"}}, std::chrono::milliseconds(100));
  ASSERT_FALSE(ex);
  EXPECT_EQ(ex.error().code, Code::kUnavailable);
}

TEST(SimulatedRuntimeTest, RealRuntimesAreNotSimulated) {
  struct Plain : Runtime {
    std::string_view name() const override { return "plain"; }
    Status Start(const SandboxSpec&) override { return OkStatus(); }
    Result<SandboxStatus> Inspect(const std::string&) override { return SandboxStatus{}; }
    Status Stop(const std::string&, std::chrono::milliseconds) override { return OkStatus(); }
    Result<UniqueFd> DialPort(const std::string&, uint16_t) override { return UniqueFd(); }
    Result<ExecResult> Exec(const std::string&, const ProcessSpec&,
                            std::chrono::milliseconds) override {
      return ExecResult{};
    }
    Result<std::vector<std::string>> List() override { return std::vector<std::string>{}; }
  } plain;
  EXPECT_FALSE(plain.simulated());  // the default every real runtime inherits
}

}  // namespace
}  // namespace asb::runtime
