// Test-only helpers for controller tests: an in-memory store (the store's own semantics, no
// database), object builders,
// and a fake "node" that plays the kubelet by writing pod status.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/resource.h"
#include "base/clock.h"
#include "controller/conditions.h"
#include "controller/object_util.h"
#include "store/memory_store.h"
#include "tests/testing/test_util.h"

namespace asb::controller::testing {

inline std::unique_ptr<store::MemoryStore> OpenStore(Clock* clock) {
  store::ObjectStoreOptions o;
  o.clock = clock;
  auto s = store::MemoryStore::Open(o);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

// A reconciler test's world: a FakeClock and an in-memory store on it, with readers of objects
// in namespace "default".
class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(&clock_);
    ASSERT_TRUE(store_);
  }
  // The stored object, or null when there is none.
  Json Get(const api::ResourceInfo& r, const std::string& name) {
    auto o = store_->Get(r, "default", name);
    return o ? *o : Json();
  }
  bool Exists(const api::ResourceInfo& r, const std::string& name) {
    return store_->Get(r, "default", name).has_value();
  }
  // The Sandbox's Ready condition, or {} when it has none.
  Json ReadyCond(const std::string& sandbox) {
    Json sb = Get(api::SandboxResource(), sandbox);
    const Json* c = FindCondition(sb, kCondReady);
    return c ? *c : Json::object();
  }

  FakeClock clock_;
  std::unique_ptr<store::MemoryStore> store_;
};

inline Json PodTemplate() {
  return {{"metadata", {{"labels", {{"sandbox", "python-sandbox-example"}}}}},
          {"spec",
           {{"runtimeClassName", "gvisor"},
            {"containers",
             Json::array({{{"name", "python-runtime"},
                           {"image", "registry.k8s.io/agent-sandbox/python-runtime-sandbox:v0.1.0"},
                           {"ports", Json::array({{{"containerPort", 8888}}})}}})}}}};
}

inline Json TemplateObj(const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"podTemplate", PodTemplate()}}}};
}

inline Json PoolObj(const std::string& name, const std::string& tmpl, int replicas) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"replicas", replicas}, {"sandboxTemplateRef", {{"name", tmpl}}}}}};
}

inline Json ClaimObj(const std::string& name, const std::string& tmpl) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"sandboxTemplateRef", {{"name", tmpl}}}}}};
}

inline Json SandboxObj(const std::string& name, Json spec_extra = Json::object()) {
  Json sb = {{"metadata", {{"name", name}, {"namespace", "default"}}},
             {"spec", {{"podTemplate", PodTemplate()}}}};
  for (auto it = spec_extra.begin(); it != spec_extra.end(); ++it)
    sb["spec"][it.key()] = it.value();
  return sb;
}

// Writes pod status the way the node agent does.
inline Status SetPodStatus(store::Store& s, const std::string& name, const std::string& phase,
                           bool ready) {
  auto pod = s.Get(api::PodResource(), "default", name);
  if (!pod) return tl::unexpected(pod.error());
  (*pod)["status"] = {
      {"phase", phase},
      {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}};
  (*pod)["metadata"].erase("resourceVersion");
  store::UpdateOptions o;
  o.status_only = true;
  auto r = s.Update(api::PodResource(), *pod, o);
  if (!r) return tl::unexpected(r.error());
  return OkStatus();
}

// Plays the node: every pod that appears is marked Running + Ready (optionally only those whose
// name passes `accept`).
class FakeNode {
 public:
  explicit FakeNode(store::Store& s) : store_(s) {
    auto w = s.Watch(api::PodResource(), "", store::WatchOptions{});
    EXPECT_TRUE(w.has_value());
    watcher_ = std::move(*w);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeNode() {
    stop_ = true;
    {
      std::lock_guard l(mu_);
      watcher_->Stop();
    }
    thread_.join();
  }
  std::atomic<int> readied{0};

 private:
  void Run() {
    while (!stop_) {
      auto ev = watcher_->Next(std::chrono::milliseconds(500));
      if (!ev) {
        // Fell behind (kGone): watch again; the initial events replay every pod.
        std::lock_guard l(mu_);
        if (stop_) return;
        auto w = store_.Watch(api::PodResource(), "", store::WatchOptions{});
        if (!w) return;
        watcher_ = std::move(*w);
        continue;
      }
      if (!*ev || (*ev)->type == store::EventType::kDeleted) continue;
      const Json& pod = (*ev)->object;
      if (IsDeleting(pod) || GetString(pod, "status.phase") == "Running") continue;
      if (SetPodStatus(store_, Name(pod), "Running", true)) ++readied;
    }
  }
  store::Store& store_;
  std::mutex mu_;
  std::unique_ptr<store::Watcher> watcher_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace asb::controller::testing
