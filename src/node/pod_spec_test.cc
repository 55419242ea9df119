#include "node/pod_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace asb::node {
namespace {

Json Pod(Json container, Json spec_extra = Json::object()) {
  Json pod = {{"metadata", {{"name", "p1"}, {"namespace", "ns1"}, {"uid", "AbC-123_x"}}},
              {"spec", {{"containers", Json::array({container})}}}};
  for (auto& [k, v] : spec_extra.items()) pod["spec"][k] = v;
  return pod;
}

Json Ctr(Json extra = Json::object()) {
  Json c = {{"name", "main"}, {"image", "python-runtime"}};
  for (auto& [k, v] : extra.items()) c[k] = v;
  return c;
}

TEST(ResolveArgvTest, KubernetesCommandArgsSemantics) {
  const std::vector<std::string> ep = {"/entry"}, cmd = {"cmd-arg"};
  struct Case {
    std::vector<std::string> command, args, want;
  } cases[] = {
      {{}, {}, {"/entry", "cmd-arg"}},                           // image defaults
      {{"/bin/sh"}, {}, {"/bin/sh"}},                            // command drops the image cmd
      {{}, {"x", "y"}, {"/entry", "x", "y"}},                    // args replace the image cmd
      {{"/bin/sh", "-c"}, {"echo"}, {"/bin/sh", "-c", "echo"}},  // both given
  };
  for (const Case& c : cases) {
    auto argv = ResolveArgv(c.command, c.args, ep, cmd);
    ASSERT_TRUE(argv.has_value());
    EXPECT_EQ(*argv, c.want);
  }
  auto none = ResolveArgv({}, {}, {}, {});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Code::kInvalidArgument);
  // No entrypoint: args alone run as the command.
  EXPECT_EQ(*ResolveArgv({}, {"/bin/true"}, {}, {"ignored"}),
            std::vector<std::string>{"/bin/true"});
}

TEST(WithExecAgentTest, AnOciImagesOwnProcessGetsTheAgentBesideIt) {
  image::ResolvedImage image;
  image.exec_agent = "/asb/bin/asb-agent";
  image.exec_agent_port = 8888;
  ContainerPlan c;
  EXPECT_EQ(
      WithExecAgent({"httpd", "-f"}, image, c),
      (std::vector<std::string>{"/asb/bin/asb-agent", "--port", "8888", "--", "httpd", "-f"}));
  // The agent already is the process, or the container says it serves the agent's port.
  EXPECT_EQ(WithExecAgent({"/asb/bin/asb-agent"}, image, c),
            std::vector<std::string>{"/asb/bin/asb-agent"});
  c.ports.push_back({.name = "api", .port = 8888});
  EXPECT_EQ(WithExecAgent({"server"}, image, c), std::vector<std::string>{"server"});
  // An image without one (the built-in image, whose process is the agent).
  EXPECT_EQ(WithExecAgent({"server"}, image::ResolvedImage{}, ContainerPlan{}),
            std::vector<std::string>{"server"});
}

TEST(ExpandVarsTest, Kubernetes) {
  std::vector<std::pair<std::string, std::string>> env = {{"A", "1"}, {"B", "two"}};
  EXPECT_EQ(ExpandVars("$(A)-$(B)", env), "1-two");
  EXPECT_EQ(ExpandVars("$(MISSING)", env), "$(MISSING)");
  EXPECT_EQ(ExpandVars("$$(A)", env), "$(A)");
  EXPECT_EQ(ExpandVars("cost $5 $", env), "cost $5 $");
  EXPECT_EQ(ExpandVars("$(A", env), "$(A");
}

TEST(ParsePodTest, FullSubset) {
  Json c = Ctr({{"command", {"python3"}},
                {"args", {"-m", "$(MOD)"}},
                {"env", {{{"name", "MOD"}, {"value", "http.server"}}, {{"name", "E"}}}},
                {"workingDir", "/app"},
                {"ports", {{{"name", "http"}, {"containerPort", 8888}}}},
                {"readinessProbe",
                 {{"httpGet", {{"path", "healthz"}, {"port", "http"}}},
                  {"initialDelaySeconds", 1},
                  {"periodSeconds", 2},
                  {"timeoutSeconds", 3},
                  {"successThreshold", 1},
                  {"failureThreshold", 4}}},
                {"resources",
                 {{"limits", {{"cpu", "250m"}, {"memory", "512Mi"}}},
                  {"requests", {{"cpu", "100m"}, {"ephemeral-storage", "1G"}}}}},
                {"securityContext", {{"runAsUser", 1000}}}});
  Json pod = Pod(c, {{"runtimeClassName", "gvisor"},
                     {"restartPolicy", "OnFailure"},
                     {"terminationGracePeriodSeconds", 5},
                     {"securityContext", {{"runAsUser", 7}, {"runAsGroup", 8}}}});
  auto plan = ParsePod(pod);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->runtime_class, "gvisor");
  EXPECT_EQ(plan->restart_policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(plan->termination_grace, std::chrono::seconds(5));
  EXPECT_EQ(plan->qos_class, "Burstable");
  const ContainerPlan& cp = plan->container;
  EXPECT_EQ(cp.limits.cpu_millis, 250);
  EXPECT_EQ(cp.limits.cpu_request_millis, 100);
  EXPECT_EQ(cp.limits.memory_bytes, 512LL << 20);
  EXPECT_EQ(cp.limits.ephemeral_storage_bytes, 1000000000);  // request, since no limit
  EXPECT_EQ(cp.run_as_user, 1000u);                          // container wins
  EXPECT_EQ(cp.run_as_group, 8u);                            // pod level
  ASSERT_TRUE(cp.readiness.has_value());
  EXPECT_EQ(cp.readiness->kind, ProbeSpec::Kind::kHttpGet);
  EXPECT_EQ(cp.readiness->port, 8888);
  EXPECT_EQ(cp.readiness->path, "/healthz");
  EXPECT_EQ(cp.readiness->initial_delay, std::chrono::seconds(1));
  EXPECT_EQ(cp.readiness->period, std::chrono::seconds(2));
  EXPECT_EQ(cp.readiness->timeout, std::chrono::seconds(3));
  EXPECT_EQ(cp.readiness->failure_threshold, 4);

  image::ResolvedImage image;
  image.rootfs.lower_dir = "/images/x";
  image.entrypoint = {"/ignored"};
  image.env = {"PATH=/usr/bin", "MOD=overridden"};
  image.working_dir = "/img";
  auto spec = BuildSandboxSpec(*plan, image);
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->id, "abc-123-x");
  EXPECT_EQ(spec->hostname, "p1");
  EXPECT_EQ(spec->process.argv, (std::vector<std::string>{"python3", "-m", "http.server"}));
  EXPECT_EQ(spec->process.cwd, "/app");
  EXPECT_EQ(spec->process.uid, 1000u);
  EXPECT_EQ(spec->process.gid, 8u);
  EXPECT_EQ(spec->rootfs.lower_dir, "/images/x");
  EXPECT_EQ(spec->process.env,
            (std::vector<std::string>{"PATH=/usr/bin", "MOD=http.server", "E=", "HOSTNAME=p1"}));
  EXPECT_EQ(spec->labels.at(kLabelNamespace), "ns1");
  EXPECT_EQ(spec->labels.at(kLabelName), "p1");
  EXPECT_EQ(spec->labels.at(kLabelUid), "AbC-123_x");
  EXPECT_EQ(spec->limits.cpu_millis, 250);
}

TEST(ParsePodTest, CpuRequestIsAShareNotAQuota) {
  // The seed's resources: requests only. Memory and disk are capped at the request; CPU is not
  // throttled (Kubernetes turns only a cpu limit into a CFS quota).
  Json c = Ctr(
      {{"resources",
        {{"requests", {{"cpu", "250m"}, {"memory", "512Mi"}, {"ephemeral-storage", "512Mi"}}}}}});
  auto plan = ParsePod(Pod(c));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->container.limits.cpu_millis, 0);
  EXPECT_EQ(plan->container.limits.cpu_request_millis, 250);
  EXPECT_EQ(plan->container.limits.memory_bytes, 512LL << 20);
  EXPECT_EQ(plan->container.limits.ephemeral_storage_bytes, 512LL << 20);
}

// Pods (and the Sandboxes that own them) may have 253-character names; the hostname follows the
// kubelet: the first 63 characters, without a trailing '-' or '.'.
TEST(ParsePodTest, LongNamesGiveKubeletHostnames) {
  Json pod = Pod(Ctr());
  std::string name = std::string(62, 'a') + ".b" + std::string(100, 'c');
  pod["metadata"]["name"] = name;
  auto plan = ParsePod(pod);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  image::ResolvedImage image;
  image.rootfs.lower_dir = "/images/x";
  image.entrypoint = {"/bin/sh"};
  auto spec = BuildSandboxSpec(*plan, image);
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->hostname, std::string(62, 'a'));
  EXPECT_NE(std::find(spec->process.env.begin(), spec->process.env.end(),
                      "HOSTNAME=" + std::string(62, 'a')),
            spec->process.env.end());
}

TEST(ParsePodTest, Defaults) {
  auto plan = ParsePod(Pod(Ctr()));
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->runtime_class, "");
  EXPECT_EQ(plan->restart_policy, RestartPolicy::kAlways);
  EXPECT_EQ(plan->termination_grace, std::chrono::seconds(30));
  EXPECT_EQ(plan->qos_class, "BestEffort");
  EXPECT_FALSE(plan->container.readiness.has_value());
  image::ResolvedImage image;
  image.entrypoint = {"/usr/bin/asb-agent"};
  auto spec = BuildSandboxSpec(*plan, image);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->process.cwd, "/");
  EXPECT_EQ(spec->process.uid, 0u);

  Json g = Ctr({{"resources", {{"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}}});
  EXPECT_EQ(ParsePod(Pod(g))->qos_class, "Guaranteed");
  // A request defaults to the limit (as in Kubernetes).
  EXPECT_EQ(ParsePod(Pod(g))->container.limits.cpu_request_millis, 1000);
}

TEST(ParsePodTest, ProbeKinds) {
  auto tcp = ParsePod(Pod(Ctr({{"readinessProbe", {{"tcpSocket", {{"port", 8888}}}}}})));
  ASSERT_TRUE(tcp.has_value());
  EXPECT_EQ(tcp->container.readiness->kind, ProbeSpec::Kind::kTcpSocket);
  EXPECT_EQ(tcp->container.readiness->period, std::chrono::seconds(10));
  auto ex = ParsePod(Pod(Ctr({{"readinessProbe", {{"exec", {{"command", {"true"}}}}}}})));
  ASSERT_TRUE(ex.has_value());
  EXPECT_EQ(ex->container.readiness->kind, ProbeSpec::Kind::kExec);
  EXPECT_EQ(ex->container.readiness->command, std::vector<std::string>{"true"});
}

TEST(ParsePodTest, FailuresNameTheProblem) {
  struct Case {
    Json pod;
    std::string reason;
    std::string message_part;
  } cases[] = {
      {Pod(Ctr(), {{"containers", {Ctr(), Ctr({{"name", "b"}})}}}), kReasonMultipleContainers,
       "2 containers"},
      {Pod(Ctr({{"env", {{{"name", "X"}, {"valueFrom", {{"secretKeyRef", {}}}}}}}})),
       kReasonUnsupportedPodSpec, "spec.containers[0].env[0].valueFrom"},
      {Pod(Ctr({{"resources", {{"limits", {{"memory", "lots"}}}}}})), kReasonInvalidPodSpec,
       "spec.containers[0].resources.limits.memory"},
      {Pod(Ctr({{"readinessProbe", {{"httpGet", {{"port", "nope"}}}}}})), kReasonInvalidPodSpec,
       "no container port named \"nope\""},
      {Pod(Ctr(), {{"restartPolicy", "Sometimes"}}), kReasonInvalidPodSpec, "restartPolicy"},
      {Pod(Ctr({{"image", ""}})), kReasonInvalidPodSpec, "spec.containers[0].image"},
      {Pod(Ctr(), {{"hostNetwork", true}}), kReasonUnsupportedPodSpec, "spec.hostNetwork"},
      {Pod(Ctr({{"command", "not-a-list"}})), kReasonInvalidPodSpec, "command"},
      {Pod(Ctr({{"readinessProbe", {{"periodSeconds", 1}}}})), kReasonInvalidPodSpec,
       "exactly one of"},
      {Json{{"metadata", {{"name", "x"}}}}, kReasonInvalidPodSpec, "spec"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pod.dump());
    auto r = ParsePod(c.pod);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().reason, c.reason);
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  }
}

TEST(SandboxIdTest, FilesystemSafe) {
  EXPECT_EQ(SandboxIdForUid("6b1f3c2a-0d4e-4f7a-9c1b-2e3d4f5a6b7c"),
            "6b1f3c2a-0d4e-4f7a-9c1b-2e3d4f5a6b7c");
  EXPECT_EQ(SandboxIdForUid("../X/y"), "---x-y");
  EXPECT_EQ(SandboxIdForUid(std::string(100, 'a')).size(), 63u);
}

}  // namespace
}  // namespace asb::node
