#include "node/recovery.h"

#include <gtest/gtest.h>

#include "runtime/fake_runtime.h"
#include "tests/testing/test_util.h"

namespace asb::node {
namespace {

using runtime::FakeRuntime;
using runtime::SandboxState;
using std::chrono::milliseconds;

Json Pod(const std::string& uid, const std::string& node, Json extra_spec = Json::object()) {
  Json pod = {
      {"metadata", {{"name", "p-" + uid}, {"namespace", "default"}, {"uid", uid}}},
      {"spec",
       {{"nodeName", node}, {"containers", Json::array({{{"name", "main"}, {"image", "img"}}})}}}};
  for (auto& [k, v] : extra_spec.items()) pod["spec"][k] = v;
  return pod;
}

class RecoveryTest : public ::testing::Test {
 protected:
  FakeRuntime native_{"native"};
  FakeRuntime gvisor_{"gvisor"};
  RuntimeSet runtimes_{{{"native", &native_}, {"gvisor", &gvisor_}}, "native"};
};

// Every case in one pass, as an asbd restart meets them.
TEST_F(RecoveryTest, AdoptsRestartsLeavesAloneAndStopsOrphans) {
  std::vector<Json> pods = {
      Pod("live", "node-1"),                                        // running: re-adopt
      Pod("dead", "node-1"),                                        // exited: remove, restart
      Pod("elsewhere", "node-2"),                                   // another node's: stop
      Pod("moved", "node-1", {{"runtimeClassName", "gvisor"}}),     // in the wrong runtime: stop
      Pod("gone-class", "node-1", {{"runtimeClassName", "kata"}}),  // class not here: stop
      Pod("done", "node-1"),                                        // finished: stop
      Pod("deleting", "node-1"),                                    // being deleted: leave
  };
  pods[5]["status"]["phase"] = "Succeeded";
  pods[6]["metadata"]["deletionTimestamp"] = "2026-12-01T10:00:00Z";
  native_.Plant("live", SandboxState::kRunning);
  native_.Plant("dead", SandboxState::kExited);
  native_.Plant("elsewhere", SandboxState::kRunning);
  native_.Plant("moved", SandboxState::kRunning);
  native_.Plant("gone-class", SandboxState::kRunning);
  native_.Plant("done", SandboxState::kRunning);
  native_.Plant("deleting", SandboxState::kRunning);
  native_.Plant("no-pod", SandboxState::kRunning);
  gvisor_.Plant("moved-twin", SandboxState::kRunning);

  Recovery recovery(runtimes_, "node-1", milliseconds(1234));
  ASSERT_OK_AND_ASSIGN(std::vector<RecoveredSandbox> found, recovery.Run(pods));

  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].sandbox_id, "dead");
  EXPECT_EQ(found[0].pod, &pods[1]);
  EXPECT_EQ(found[0].runtime, &native_);
  EXPECT_FALSE(found[0].running.has_value());
  EXPECT_EQ(found[1].sandbox_id, "live");
  EXPECT_EQ(found[1].pod, &pods[0]);
  ASSERT_TRUE(found[1].running.has_value());
  EXPECT_EQ(found[1].running->state, SandboxState::kRunning);

  EXPECT_TRUE(native_.Has("live"));
  EXPECT_TRUE(native_.Has("deleting"));  // its deletion is a normal sync, with its own grace
  for (const char* id : {"dead", "elsewhere", "moved", "gone-class", "done", "no-pod"}) {
    EXPECT_FALSE(native_.Has(id)) << id;
  }
  EXPECT_FALSE(gvisor_.Has("moved-twin"));  // no pod at all
  EXPECT_EQ(gvisor_.LastGrace(), milliseconds(1234));
}

TEST_F(RecoveryTest, AListingFailureIsAnError) {
  class Broken final : public runtime::Runtime {
   public:
    std::string_view name() const override { return "native"; }
    Status Start(const runtime::SandboxSpec&) override { return OkStatus(); }
    Result<runtime::SandboxStatus> Inspect(const std::string&) override {
      return runtime::SandboxStatus{};
    }
    Status Stop(const std::string&, milliseconds) override { return OkStatus(); }
    Result<UniqueFd> DialPort(const std::string&, uint16_t) override {
      return MakeError(Code::kUnavailable, "no");
    }
    Result<runtime::ExecResult> Exec(const std::string&, const runtime::ProcessSpec&,
                                     milliseconds) override {
      return MakeError(Code::kUnavailable, "no");
    }
    Result<std::vector<std::string>> List() override {
      return MakeError(Code::kPermissionDenied, "state dir unreadable");
    }
  } broken;
  RuntimeSet runtimes({{"native", &broken}}, "native");
  auto r = Recovery(runtimes, "node-1", milliseconds(0)).Run({});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kPermissionDenied);
  EXPECT_NE(r.error().message.find("listing native sandboxes"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace asb::node
