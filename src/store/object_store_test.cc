// The store's Kubernetes semantics, run against both backings: every TEST_P runs once over
// SqliteLog (the daemon) and once over MemoryLog (what unit tests above the store use), so the
// two cannot drift (tests/testing/store_backings.h). Reopen() reopens the same contents in either.
#include <gtest/gtest.h>

#include <thread>

#include "api/resource.h"
#include "store/memory_store.h"
#include "store/object_meta.h"
#include "store/selector.h"
#include "store/sqlite_store.h"
#include "store/store_util.h"
#include "tests/testing/store_backings.h"
#include "tests/testing/store_fixtures.h"
#include "tests/testing/test_util.h"

namespace asb::store {
namespace {

using ::asb::testing::MakeObj;
using ::asb::testing::OwnerRef;
using ::asb::testing::TempDir;
using ::asb::testing::WaitFor;

const api::ResourceInfo& Sbx() { return api::SandboxResource(); }
const api::ResourceInfo& Pods() { return api::PodResource(); }
const api::ResourceInfo& Pools() { return api::SandboxWarmPoolResource(); }
const api::ResourceInfo& Ns() { return api::NamespaceResource(); }

// clock_ is a FakeClock, so timestamps and expiries are exact.
class ObjectStoreTest : public ::asb::testing::StoreBackingTest {
 protected:
  bool Exists(const api::ResourceInfo& res, const std::string& ns, const std::string& name) {
    return store_->Get(res, ns, name).has_value();
  }

  // Drains events until none arrives for `quiet`.
  std::vector<WatchEvent> Drain(Watcher& w,
                                std::chrono::milliseconds quiet = std::chrono::milliseconds(50)) {
    std::vector<WatchEvent> out;
    while (true) {
      auto ev = w.Next(quiet);
      EXPECT_TRUE(ev) << ev.error().message;
      if (!ev || !*ev) return out;
      out.push_back(std::move(**ev));
    }
  }
};

ASB_INSTANTIATE_FOR_EVERY_BACKING(ObjectStoreTest);

TEST_P(ObjectStoreTest, CreateSetsServerFields) {
  Json got = MustCreate(Sbx(), MakeObj("default", "sb1", {{"app", "x"}}, {{"replicas", 1}}));
  EXPECT_EQ(got["apiVersion"], "agents.x-k8s.io/v1beta1");
  EXPECT_EQ(got["kind"], "Sandbox");
  EXPECT_EQ(got["metadata"]["generation"], 1);
  std::string uid = got["metadata"]["uid"];
  EXPECT_EQ(uid.size(), 36u);
  EXPECT_EQ(uid[14], '4');
  EXPECT_EQ(got["metadata"]["creationTimestamp"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(got["metadata"]["resourceVersion"], std::to_string(store_->CurrentRevision()));
  auto again = store_->Get(Sbx(), "default", "sb1");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, got);
}

TEST_P(ObjectStoreTest, CreateErrors) {
  MustCreate(Sbx(), MakeObj("default", "sb1"));
  auto dup = store_->Create(Sbx(), MakeObj("default", "sb1"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "sandboxes.agents.x-k8s.io \"sb1\" already exists");

  auto no_ns = store_->Create(Sbx(), MakeObj("nope", "sb1"));
  ASSERT_FALSE(no_ns);
  EXPECT_EQ(no_ns.error().code, Code::kNotFound);
  EXPECT_EQ(no_ns.error().message, "namespaces \"nope\" not found");
  ASSERT_NE(no_ns.error().details, nullptr);  // about the namespace, not the sandbox
  EXPECT_EQ(no_ns.error().details->kind, "namespaces");
  EXPECT_EQ(no_ns.error().details->name, "nope");

  auto no_name = store_->Create(Sbx(), Json{{"metadata", {{"namespace", "default"}}}});
  ASSERT_FALSE(no_name);
  EXPECT_EQ(no_name.error().code, Code::kInvalidArgument);

  auto bad_name = store_->Create(Sbx(), MakeObj("default", "Bad_Name"));
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad_name.error().message.find("RFC 1123"), std::string::npos);

  auto not_obj = store_->Create(Sbx(), Json::array());
  ASSERT_FALSE(not_obj);
  EXPECT_EQ(not_obj.error().code, Code::kInvalidArgument);

  Json with_rv = MakeObj("default", "sb2");
  with_rv["metadata"]["resourceVersion"] = "5";
  EXPECT_EQ(store_->Create(Sbx(), with_rv).error().code, Code::kInvalidArgument);

  Json bad_labels = MakeObj("default", "sb3", {{"app", 5}});
  EXPECT_EQ(store_->Create(Sbx(), bad_labels).error().code, Code::kInvalidArgument);

  auto missing = store_->Get(Sbx(), "default", "zz");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_EQ(missing.error().message, "sandboxes.agents.x-k8s.io \"zz\" not found");
}

TEST_P(ObjectStoreTest, GenerateName) {
  Json obj = {{"metadata", {{"namespace", "default"}, {"generateName", "pool-"}}}};
  Json a = MustCreate(Sbx(), obj);
  Json b = MustCreate(Sbx(), obj);
  std::string na = a["metadata"]["name"], nb = b["metadata"]["name"];
  EXPECT_EQ(na.size(), 10u);
  EXPECT_EQ(na.substr(0, 5), "pool-");
  EXPECT_NE(na, nb);
  EXPECT_TRUE(Exists(Sbx(), "default", na));
}

TEST_P(ObjectStoreTest, DefaultNamespacesExist) {
  EXPECT_TRUE(Exists(Ns(), "", "default"));
  EXPECT_TRUE(Exists(Ns(), "", "kube-system"));
  auto d = store_->Get(Ns(), "", "default");
  EXPECT_EQ((*d)["status"]["phase"], "Active");
  EXPECT_EQ(store_->Delete(Ns(), "", "default").error().code, Code::kPermissionDenied);
}

TEST_P(ObjectStoreTest, ListWithSelectorsLimitAndContinue) {
  MustCreate(Ns(), MakeObj("", "other"));
  for (int i = 0; i < 5; ++i)
    MustCreate(Sbx(),
               MakeObj("default", "sb" + std::to_string(i), {{"tier", i % 2 ? "odd" : "even"}}));
  MustCreate(Sbx(), MakeObj("other", "sb9", {{"tier", "odd"}}));

  auto all = store_->List(Sbx(), "", {});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->items.size(), 6u);
  EXPECT_EQ(all->items[0]["metadata"]["name"], "sb0");
  EXPECT_EQ(all->items[5]["metadata"]["namespace"], "other");
  EXPECT_EQ(all->resource_version, store_->CurrentRevision());

  auto def = store_->List(Sbx(), "default", {});
  EXPECT_EQ(def->items.size(), 5u);

  ListOptions odd;
  odd.label_selector = "tier=odd";
  EXPECT_EQ(store_->List(Sbx(), "", odd)->items.size(), 3u);
  odd.label_selector = "tier in (odd),tier!=even";
  EXPECT_EQ(store_->List(Sbx(), "default", odd)->items.size(), 2u);

  ListOptions by_name;
  by_name.field_selector = "metadata.name=sb3";
  auto one = store_->List(Sbx(), "", by_name);
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0]["metadata"]["name"], "sb3");
  by_name.field_selector = "metadata.namespace!=default";
  EXPECT_EQ(store_->List(Sbx(), "", by_name)->items.size(), 1u);

  ListOptions bad;
  bad.field_selector = "spec.foo=bar";
  auto b = store_->List(Sbx(), "", bad);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Code::kInvalidArgument);
  EXPECT_EQ(b.error().message, "field label not supported: spec.foo");
  bad = {};
  bad.label_selector = "a in x";
  EXPECT_EQ(store_->List(Sbx(), "", bad).error().code, Code::kInvalidArgument);

  // Pages of 2 over the 6 objects.
  ListOptions page;
  page.limit = 2;
  std::vector<std::string> names;
  int pages = 0;
  while (true) {
    auto r = store_->List(Sbx(), "", page);
    ASSERT_TRUE(r) << r.error().message;
    ++pages;
    for (auto& o : r->items) names.push_back(o["metadata"]["name"]);
    if (r->continue_token.empty()) break;
    page.continue_token = r->continue_token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"sb0", "sb1", "sb2", "sb3", "sb4", "sb9"}));

  // Paging within one namespace with a selector.
  ListOptions even;
  even.label_selector = "tier=even";
  even.limit = 1;
  auto p1 = store_->List(Sbx(), "default", even);
  ASSERT_EQ(p1->items.size(), 1u);
  ASSERT_FALSE(p1->continue_token.empty());
  even.continue_token = p1->continue_token;
  auto p2 = store_->List(Sbx(), "default", even);
  EXPECT_EQ(p2->items[0]["metadata"]["name"], "sb2");
}

// List's label selectors are answered from the store's label index: it must follow every label
// change (value changed, label removed or added, object deleted, store reopened) and give exactly
// what a scan of every object would, in the same order and pages.
TEST_P(ObjectStoreTest, ListByLabelFollowsLabelChanges) {
  MustCreate(Ns(), MakeObj("", "other"));
  for (int i = 0; i < 6; ++i)
    MustCreate(Sbx(), MakeObj(i < 4 ? "default" : "other", "sb" + std::to_string(i),
                              {{"pool", i % 2 ? "b" : "a"}, {"uid", "u" + std::to_string(i)}}));
  auto names = [&](const std::string& ns, const std::string& sel) {
    ListOptions lo;
    lo.label_selector = sel;
    std::vector<std::string> out;
    auto r = store_->List(Sbx(), ns, lo);
    EXPECT_TRUE(r) << r.error().message;
    if (r)
      for (const Json& o : r->items) out.push_back(o["metadata"]["name"]);
    // The same selector matched against every object, as a scan would.
    auto all = store_->List(Sbx(), ns, {});
    auto parsed = ParseLabelSelector(sel);
    std::vector<std::string> scan;
    for (const Json& o : all->items)
      if (parsed->MatchesObject(o)) scan.push_back(o["metadata"]["name"]);
    EXPECT_EQ(out, scan) << sel;
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("", "pool=a"), (V{"sb0", "sb2", "sb4"}));
  EXPECT_EQ(names("default", "pool=a"), (V{"sb0", "sb2"}));
  EXPECT_EQ(names("", "pool in (b),uid=u3"), (V{"sb3"}));
  EXPECT_EQ(names("", "pool"), (V{"sb0", "sb1", "sb2", "sb3", "sb4", "sb5"}));
  EXPECT_EQ(names("", "pool=c"), V{});
  EXPECT_EQ(names("", "nolabel"), V{});
  EXPECT_EQ(names("", "pool=a,!uid"), V{});

  // sb0 moves to pool b, sb2 loses its pool label, sb1 gains one, sb4 goes away.
  auto relabel = [&](const std::string& ns, const std::string& name, Json labels) {
    Json obj = *store_->Get(Sbx(), ns, name);
    obj["metadata"]["labels"] = std::move(labels);
    ASSERT_TRUE(store_->Update(Sbx(), obj));
  };
  relabel("default", "sb0", {{"pool", "b"}, {"uid", "u0"}});
  relabel("default", "sb2", {{"uid", "u2"}});
  relabel("default", "sb1", {{"pool", "b"}, {"uid", "u1"}, {"extra", "x"}});
  ASSERT_TRUE(store_->Delete(Sbx(), "other", "sb4"));
  for (int round = 0; round < 2; ++round) {  // before and after a reopen (the index is rebuilt)
    EXPECT_EQ(names("", "pool=a"), V{});
    EXPECT_EQ(names("", "pool=b"), (V{"sb0", "sb1", "sb3", "sb5"}));
    EXPECT_EQ(names("", "pool"), (V{"sb0", "sb1", "sb3", "sb5"}));
    EXPECT_EQ(names("", "uid=u2"), (V{"sb2"}));
    EXPECT_EQ(names("", "uid=u4"), V{});
    EXPECT_EQ(names("", "extra=x,pool=b"), (V{"sb1"}));
    EXPECT_EQ(names("", "pool!=b"), (V{"sb2"}));
    // Pages of one across namespaces, through the index.
    ListOptions page;
    page.label_selector = "pool=b";
    page.limit = 1;
    V paged;
    for (int i = 0; i < 10; ++i) {
      auto r = store_->List(Sbx(), "", page);
      ASSERT_TRUE(r) << r.error().message;
      for (const Json& o : r->items) paged.push_back(o["metadata"]["name"]);
      if (r->continue_token.empty()) break;
      page.continue_token = r->continue_token;
    }
    EXPECT_EQ(paged, (V{"sb0", "sb1", "sb3", "sb5"}));
    if (round == 0) Reopen();
  }
}

TEST_P(ObjectStoreTest, UpdateConflictsAndGeneration) {
  Json sb = MustCreate(Sbx(), MakeObj("default", "sb", nullptr, {{"replicas", 1}}));
  Json stale = sb;

  // Metadata-only change: no generation bump, revision advances.
  sb["metadata"]["labels"] = {{"a", "b"}};
  auto u1 = store_->Update(Sbx(), sb);
  ASSERT_TRUE(u1) << u1.error().message;
  EXPECT_EQ((*u1)["metadata"]["generation"], 1);
  EXPECT_NE((*u1)["metadata"]["resourceVersion"], sb["metadata"]["resourceVersion"]);

  // Stale resourceVersion -> conflict.
  stale["spec"]["replicas"] = 3;
  auto conflict = store_->Update(Sbx(), stale);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, Code::kAborted);
  EXPECT_NE(conflict.error().message.find("the object has been modified; please apply your "
                                          "changes to the latest version and try again"),
            std::string::npos);

  // Spec change bumps generation; server fields can't be overwritten.
  Json next = *u1;
  next["spec"]["replicas"] = 2;
  next["metadata"]["uid"] = nullptr;
  next["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z";
  next["metadata"]["generation"] = 42;
  auto u2 = store_->Update(Sbx(), next);
  ASSERT_TRUE(u2) << u2.error().message;
  EXPECT_EQ((*u2)["metadata"]["generation"], 2);
  EXPECT_EQ((*u2)["metadata"]["uid"], sb["metadata"]["uid"]);
  EXPECT_EQ((*u2)["metadata"]["creationTimestamp"], sb["metadata"]["creationTimestamp"]);

  // No resourceVersion: unconditional update.
  Json blind = *u2;
  blind["metadata"].erase("resourceVersion");
  blind["spec"]["replicas"] = 5;
  auto u3 = store_->Update(Sbx(), blind);
  ASSERT_TRUE(u3);
  EXPECT_EQ((*u3)["metadata"]["generation"], 3);

  // No-op update: same object back, revision unchanged.
  int64_t rev = store_->CurrentRevision();
  auto u4 = store_->Update(Sbx(), *u3);
  ASSERT_TRUE(u4);
  EXPECT_EQ(*u4, *u3);
  EXPECT_EQ(store_->CurrentRevision(), rev);

  EXPECT_EQ(store_->Update(Sbx(), MakeObj("default", "missing")).error().code, Code::kNotFound);
}

TEST_P(ObjectStoreTest, StatusSubresourceIsolation) {
  Json sb = MustCreate(Sbx(), MakeObj("default", "sb", nullptr, {{"replicas", 1}}));
  // status in a create is dropped for kinds with a status subresource.
  EXPECT_FALSE(sb.contains("status"));
  // ... unless an in-process writer asks to keep it (one write for a Sandbox born Ready).
  Json born = MakeObj("default", "born", nullptr, {{"replicas", 1}});
  born["status"] = {{"phase", "Ready"}};
  auto kept = store_->Create(Sbx(), born, {.keep_status = true});
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ((*kept)["status"]["phase"], "Ready");
  auto got = store_->Get(Sbx(), "default", "born");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["status"]["phase"], "Ready");

  Json st = sb;
  st["status"] = {{"phase", "Ready"}};
  st["spec"]["replicas"] = 9;  // ignored by a status write
  auto s1 = store_->Update(Sbx(), st, {.status_only = true});
  ASSERT_TRUE(s1) << s1.error().message;
  EXPECT_EQ((*s1)["status"]["phase"], "Ready");
  EXPECT_EQ((*s1)["spec"]["replicas"], 1);
  EXPECT_EQ((*s1)["metadata"]["generation"], 1);

  Json main = *s1;
  main["status"] = {{"phase", "Hacked"}};
  main["spec"]["replicas"] = 2;
  auto m1 = store_->Update(Sbx(), main);
  ASSERT_TRUE(m1);
  EXPECT_EQ((*m1)["status"]["phase"], "Ready");
  EXPECT_EQ((*m1)["spec"]["replicas"], 2);
  EXPECT_EQ((*m1)["metadata"]["generation"], 2);

  // Kinds without a status subresource store status with the main resource.
  Json tpl = MustCreate(
      api::SandboxTemplateResource(),
      Json{{"metadata", {{"name", "t"}, {"namespace", "default"}}}, {"status", {{"x", 1}}}});
  EXPECT_EQ(tpl["status"]["x"], 1);

  // Pods start Pending.
  Json pod = MustCreate(Pods(), MakeObj("default", "p"));
  EXPECT_EQ(pod["status"]["phase"], "Pending");
}

TEST_P(ObjectStoreTest, RevisionsMonotonicAcrossReopenAndDeletes) {
  Json a = MustCreate(Sbx(), MakeObj("default", "a"));
  auto del = store_->Delete(Sbx(), "default", "a");
  ASSERT_TRUE(del) << del.error().message;
  int64_t rev = store_->CurrentRevision();
  EXPECT_EQ((*del)["metadata"]["resourceVersion"], std::to_string(rev));
  EXPECT_GT(rev, std::stoll(a["metadata"]["resourceVersion"].get<std::string>()));
  Reopen();
  EXPECT_EQ(store_->CurrentRevision(), rev);
  Json b = MustCreate(Sbx(), MakeObj("default", "b"));
  EXPECT_EQ(b["metadata"]["resourceVersion"], std::to_string(rev + 1));
}

TEST_P(ObjectStoreTest, PersistsAcrossReopen) {
  Json a = MustCreate(Sbx(), MakeObj("default", "a", {{"k", "v"}}, {{"x", 1}}));
  MustCreate(Ns(), MakeObj("", "team"));
  Json p = MustCreate(Pods(), MakeObj("team", "p"));
  Reopen();
  auto got = store_->Get(Sbx(), "default", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, a);
  EXPECT_EQ(*store_->Get(Pods(), "team", "p"), p);
}

TEST(SqliteStoreTest, SecondOpenOfSameDirFails) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto first, SqliteStore::Open(dir.path(), {}));
  auto second = SqliteStore::Open(dir.path(), {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Code::kFailedPrecondition);
}

TEST_P(ObjectStoreTest, DeletePreconditions) {
  Json a = MustCreate(Sbx(), MakeObj("default", "a"));
  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "nope";
  EXPECT_EQ(store_->Delete(Sbx(), "default", "a", wrong_uid).error().code, Code::kAborted);
  DeleteOptions wrong_rv;
  wrong_rv.precondition_resource_version = "1";
  EXPECT_EQ(store_->Delete(Sbx(), "default", "a", wrong_rv).error().code, Code::kAborted);
  DeleteOptions right;
  right.precondition_uid = a["metadata"]["uid"].get<std::string>();
  EXPECT_TRUE(store_->Delete(Sbx(), "default", "a", right));
  EXPECT_EQ(store_->Delete(Sbx(), "default", "a").error().code, Code::kNotFound);
}

TEST_P(ObjectStoreTest, FinalizersKeepObjectUntilRemoved) {
  Json obj = MakeObj("default", "f");
  obj["metadata"]["finalizers"] = {"example.com/hold"};
  MustCreate(Sbx(), obj);
  auto d1 = store_->Delete(Sbx(), "default", "f");
  ASSERT_TRUE(d1);
  EXPECT_TRUE((*d1)["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ((*d1)["metadata"]["deletionGracePeriodSeconds"], 0);
  EXPECT_EQ((*d1)["metadata"]["generation"], 2);
  auto d2 = store_->Delete(Sbx(), "default", "f");
  ASSERT_TRUE(d2);
  EXPECT_EQ(*d2, *d1);
  ASSERT_TRUE(Exists(Sbx(), "default", "f"));

  // An update can't clear deletionTimestamp nor add finalizers.
  Json upd = *d2;
  upd["metadata"].erase("deletionTimestamp");
  upd["metadata"]["labels"] = {{"a", "b"}};
  auto u = store_->Update(Sbx(), upd);
  ASSERT_TRUE(u);
  EXPECT_TRUE((*u)["metadata"].contains("deletionTimestamp"));
  Json more = *u;
  more["metadata"]["finalizers"].push_back("example.com/more");
  EXPECT_EQ(store_->Update(Sbx(), more).error().code, Code::kInvalidArgument);

  auto w = store_->Watch(Sbx(), "default", {.resource_version = store_->CurrentRevision()});
  ASSERT_TRUE(w);
  auto done = UpdateWithRetry(*store_, Sbx(), "default", "f", [](Object& o) -> Status {
    o["metadata"]["finalizers"] = Json::array();
    return OkStatus();
  });
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_FALSE(Exists(Sbx(), "default", "f"));
  auto evs = Drain(**w);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, EventType::kDeleted);
}

TEST_P(ObjectStoreTest, WatchFromZeroThenLive) {
  MustCreate(Sbx(), MakeObj("default", "a"));
  MustCreate(Sbx(), MakeObj("default", "b"));
  auto w = store_->Watch(Sbx(), "", {});
  ASSERT_TRUE(w);
  auto init = Drain(**w);
  ASSERT_EQ(init.size(), 2u);
  EXPECT_EQ(init[0].type, EventType::kAdded);
  EXPECT_EQ(init[0].object["metadata"]["name"], "a");

  Json c = MustCreate(Sbx(), MakeObj("default", "c"));
  c["spec"]["x"] = 1;
  ASSERT_TRUE(store_->Update(Sbx(), c));
  ASSERT_TRUE(store_->Delete(Sbx(), "default", "c"));
  MustCreate(Pods(), MakeObj("default", "p"));  // other kind: not seen
  auto live = Drain(**w);
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live[0].type, EventType::kAdded);
  EXPECT_EQ(live[1].type, EventType::kModified);
  EXPECT_EQ(live[2].type, EventType::kDeleted);
  EXPECT_EQ(live[1].object["spec"]["x"], 1);
  EXPECT_EQ(live[2].resource_version,
            std::stoll(live[2].object["metadata"]["resourceVersion"].get<std::string>()));
  EXPECT_LT(live[0].resource_version, live[1].resource_version);

  (*w)->Stop();
  auto after = (*w)->Next(std::chrono::milliseconds(10));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Code::kAborted);
}

// NextShared hands every watcher the object the store published, not a copy each: two watchers
// get the same immutable object, in the same order and revisions Next gives; Stop ends it too.
TEST_P(ObjectStoreTest, WatchNextSharedIsTheStoresObject) {
  auto w1 = store_->Watch(Sbx(), "", {.resource_version = store_->CurrentRevision()});
  auto w2 = store_->Watch(Sbx(), "", {.resource_version = store_->CurrentRevision()});
  ASSERT_TRUE(w1 && w2);
  Json a = MustCreate(Sbx(), MakeObj("default", "a"));
  ASSERT_TRUE(store_->Delete(Sbx(), "default", "a"));
  for (EventType want : {EventType::kAdded, EventType::kDeleted}) {
    auto e1 = (*w1)->NextShared(std::chrono::seconds(2));
    auto e2 = (*w2)->NextShared(std::chrono::seconds(2));
    ASSERT_TRUE(e1 && *e1 && e2 && *e2);
    EXPECT_EQ((*e1)->type, want);
    EXPECT_EQ((*e1)->object.get(), (*e2)->object.get());  // one object, shared
    EXPECT_EQ((*e1)->object->at("metadata").at("name"), "a");
    EXPECT_EQ((*e1)->resource_version,
              std::stoll((*e1)->object->at("metadata").at("resourceVersion").get<std::string>()));
  }
  (*w1)->Stop();
  auto after = (*w1)->NextShared(std::chrono::milliseconds(10));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Code::kAborted);
}

TEST_P(ObjectStoreTest, WatchResumeFromRevision) {
  MustCreate(Sbx(), MakeObj("default", "a"));
  int64_t rv = store_->CurrentRevision();
  MustCreate(Sbx(), MakeObj("default", "b"));
  ASSERT_TRUE(store_->Delete(Sbx(), "default", "a"));
  auto w = store_->Watch(Sbx(), "default", {.resource_version = rv});
  ASSERT_TRUE(w);
  MustCreate(Sbx(), MakeObj("default", "c"));
  auto evs = Drain(**w);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].object["metadata"]["name"], "b");
  EXPECT_EQ(evs[1].type, EventType::kDeleted);
  EXPECT_EQ(evs[2].object["metadata"]["name"], "c");

  // Resume from the middle.
  auto w2 = store_->Watch(Sbx(), "default", {.resource_version = evs[1].resource_version});
  auto evs2 = Drain(**w2);
  ASSERT_EQ(evs2.size(), 1u);
  EXPECT_EQ(evs2[0].object["metadata"]["name"], "c");
}

TEST_P(ObjectStoreTest, WatchCompactedIsGone) {
  Reopen({.watch_log_capacity = 3});
  int64_t start = store_->CurrentRevision();
  for (int i = 0; i < 5; ++i) MustCreate(Sbx(), MakeObj("default", "s" + std::to_string(i)));
  auto w = store_->Watch(Sbx(), "", {.resource_version = start});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Code::kGone);
  EXPECT_EQ(w.error().message.rfind("too old resource version: " + std::to_string(start), 0), 0u)
      << w.error().message;
  // Still within the window.
  auto ok = store_->Watch(Sbx(), "", {.resource_version = store_->CurrentRevision() - 3});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(Drain(**ok).size(), 3u);

  // After a restart, the log starts at the current revision.
  int64_t before = store_->CurrentRevision();
  Reopen();
  EXPECT_EQ(store_->Watch(Sbx(), "", {.resource_version = before - 1}).error().code, Code::kGone);
  EXPECT_TRUE(store_->Watch(Sbx(), "", {.resource_version = before}));
}

TEST_P(ObjectStoreTest, WatcherOverflowIsGone) {
  Reopen({.watcher_buffer = 4});
  MustCreate(Sbx(), MakeObj("default", "pre0"));
  MustCreate(Sbx(), MakeObj("default", "pre1"));
  MustCreate(Sbx(), MakeObj("default", "pre2"));
  MustCreate(Sbx(), MakeObj("default", "pre3"));
  MustCreate(Sbx(), MakeObj("default", "pre4"));
  // Initial events (5) exceed the buffer but don't count against it.
  auto w = store_->Watch(Sbx(), "", {});
  ASSERT_TRUE(w);
  for (int i = 0; i < 4; ++i) MustCreate(Sbx(), MakeObj("default", "s" + std::to_string(i)));
  auto evs = Drain(**w);
  EXPECT_EQ(evs.size(), 9u);

  // Five live events with nobody reading: the fifth overflows; the writer never blocks.
  for (int i = 4; i < 9; ++i) MustCreate(Sbx(), MakeObj("default", "s" + std::to_string(i)));
  auto next = (*w)->Next(std::chrono::milliseconds(10));
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, Code::kGone);
}

TEST_P(ObjectStoreTest, WatchLabelSelectorTransitions) {
  Json obj = MustCreate(Sbx(), MakeObj("default", "a", {{"role", "web"}}));
  auto w =
      store_->Watch(Sbx(), "default",
                    {.resource_version = store_->CurrentRevision(), .label_selector = "role=db"});
  ASSERT_TRUE(w);
  obj["metadata"]["labels"]["role"] = "db";
  auto u1 = store_->Update(Sbx(), obj);
  ASSERT_TRUE(u1);
  Json u1obj = *u1;
  u1obj["spec"]["x"] = 1;
  auto u2 = store_->Update(Sbx(), u1obj);
  ASSERT_TRUE(u2);
  Json u2obj = *u2;
  u2obj["metadata"]["labels"]["role"] = "web";
  auto u3 = store_->Update(Sbx(), u2obj);
  ASSERT_TRUE(u3);
  auto evs = Drain(**w);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].type, EventType::kAdded);
  EXPECT_EQ(evs[1].type, EventType::kModified);
  EXPECT_EQ(evs[2].type, EventType::kDeleted);
  // The DELETED carries the last matching content at the new revision.
  EXPECT_EQ(evs[2].object["metadata"]["labels"]["role"], "db");
  EXPECT_EQ(evs[2].object["metadata"]["resourceVersion"], (*u3)["metadata"]["resourceVersion"]);

  // Replay from before gives the same view.
  auto w2 = store_->Watch(
      Sbx(), "default",
      {.resource_version = std::stoll(obj["metadata"]["resourceVersion"].get<std::string>()),
       .label_selector = "role=db"});
  auto evs2 = Drain(**w2);
  ASSERT_EQ(evs2.size(), 3u);
  EXPECT_EQ(evs2[2].type, EventType::kDeleted);
}

TEST_P(ObjectStoreTest, WatchFieldSelectorByName) {
  auto w = store_->Watch(Sbx(), "default", {.field_selector = "metadata.name=b"});
  ASSERT_TRUE(w);
  MustCreate(Sbx(), MakeObj("default", "a"));
  MustCreate(Sbx(), MakeObj("default", "b"));
  auto evs = Drain(**w);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].object["metadata"]["name"], "b");
  EXPECT_EQ(store_->Watch(Sbx(), "", {.field_selector = "spec.nodeName=x"}).error().code,
            Code::kInvalidArgument);
  EXPECT_TRUE(store_->Watch(Pods(), "", {.field_selector = "spec.nodeName=x"}));
}

TEST_P(ObjectStoreTest, CascadeBackgroundMultiLevel) {
  Json pool = MustCreate(Pools(), MakeObj("default", "pool"));
  Json sb = MakeObj("default", "sb");
  sb["metadata"]["ownerReferences"] = {OwnerRef(pool)};
  sb = MustCreate(Sbx(), sb);
  Json pod = MakeObj("default", "sb");
  pod["metadata"]["ownerReferences"] = {OwnerRef(sb)};
  MustCreate(Pods(), pod);
  Json other = MustCreate(Sbx(), MakeObj("default", "unrelated"));

  auto del = store_->Delete(Pools(), "default", "pool");
  ASSERT_TRUE(del);
  EXPECT_FALSE(Exists(Pools(), "default", "pool"));
  EXPECT_TRUE(
      WaitFor([&] { return !Exists(Sbx(), "default", "sb") && !Exists(Pods(), "default", "sb"); }));
  EXPECT_TRUE(Exists(Sbx(), "default", "unrelated"));
}

TEST_P(ObjectStoreTest, CascadeForeground) {
  Json pool = MustCreate(Pools(), MakeObj("default", "pool"));
  Json sb = MakeObj("default", "sb");
  sb["metadata"]["ownerReferences"] = {OwnerRef(pool)};
  sb = MustCreate(Sbx(), sb);
  Json pod = MakeObj("default", "sb");
  pod["metadata"]["ownerReferences"] = {OwnerRef(sb)};
  pod["metadata"]["finalizers"] = {"test/hold"};
  MustCreate(Pods(), pod);

  auto w = store_->Watch(Pools(), "default", {.resource_version = store_->CurrentRevision()});
  auto del = store_->Delete(Pools(), "default", "pool", {.propagation = Propagation::kForeground});
  ASSERT_TRUE(del);
  EXPECT_TRUE((*del)["metadata"].contains("deletionTimestamp"));
  // The pod's finalizer holds the whole chain: the pod is marked, the sandbox and pool wait.
  ASSERT_TRUE(WaitFor([&] {
    auto p = store_->Get(Pods(), "default", "sb");
    return p && p->at("metadata").contains("deletionTimestamp");
  }));
  ASSERT_TRUE(WaitFor([&] { return store_->GcIdle(); }));
  EXPECT_TRUE(Exists(Sbx(), "default", "sb"));
  EXPECT_TRUE(Exists(Pools(), "default", "pool"));
  auto s = store_->Get(Sbx(), "default", "sb");
  EXPECT_TRUE(internal::HasFinalizer(*s, "foregroundDeletion"));

  ASSERT_TRUE(UpdateWithRetry(*store_, Pods(), "default", "sb", [](Object& o) -> Status {
    o["metadata"].erase("finalizers");
    return OkStatus();
  }));
  EXPECT_TRUE(WaitFor([&] { return !Exists(Pools(), "default", "pool"); }));
  EXPECT_FALSE(Exists(Sbx(), "default", "sb"));
  EXPECT_FALSE(Exists(Pods(), "default", "sb"));
  auto evs = Drain(**w);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().type, EventType::kDeleted);
}

TEST_P(ObjectStoreTest, CascadeOrphan) {
  Json pool = MustCreate(Pools(), MakeObj("default", "pool"));
  Json sb = MakeObj("default", "sb");
  sb["metadata"]["ownerReferences"] = {OwnerRef(pool)};
  MustCreate(Sbx(), sb);
  auto del = store_->Delete(Pools(), "default", "pool", {.propagation = Propagation::kOrphan});
  ASSERT_TRUE(del);
  EXPECT_FALSE(Exists(Pools(), "default", "pool"));
  ASSERT_TRUE(WaitFor([&] { return store_->GcIdle(); }));
  auto s = store_->Get(Sbx(), "default", "sb");
  ASSERT_TRUE(s);
  EXPECT_FALSE((*s)["metadata"].contains("ownerReferences"));
}

TEST_P(ObjectStoreTest, DependentWithAnotherLiveOwnerKeepsIt) {
  Json a = MustCreate(Pools(), MakeObj("default", "a"));
  Json b = MustCreate(Pools(), MakeObj("default", "b"));
  Json sb = MakeObj("default", "sb");
  sb["metadata"]["ownerReferences"] = {OwnerRef(a), OwnerRef(b)};
  MustCreate(Sbx(), sb);
  ASSERT_TRUE(store_->Delete(Pools(), "default", "a"));
  ASSERT_TRUE(WaitFor([&] {
    auto s = store_->Get(Sbx(), "default", "sb");
    return s && (*s)["metadata"]["ownerReferences"].size() == 1;
  }));
  ASSERT_TRUE(store_->Delete(Pools(), "default", "b"));
  EXPECT_TRUE(WaitFor([&] { return !Exists(Sbx(), "default", "sb"); }));
}

TEST_P(ObjectStoreTest, DanglingOwnerCollectedAtOpen) {
  Reopen({.gc = false});
  Json pool = MustCreate(Pools(), MakeObj("default", "pool"));
  Json sb = MakeObj("default", "sb");
  sb["metadata"]["ownerReferences"] = {OwnerRef(pool)};
  MustCreate(Sbx(), sb);
  ASSERT_TRUE(store_->Delete(Pools(), "default", "pool"));
  EXPECT_TRUE(Exists(Sbx(), "default", "sb"));  // no collector running
  Reopen();
  EXPECT_TRUE(WaitFor([&] { return !Exists(Sbx(), "default", "sb"); }));
}

TEST_P(ObjectStoreTest, NamespaceDeletion) {
  MustCreate(Ns(), MakeObj("", "team"));
  MustCreate(Sbx(), MakeObj("team", "a"));
  Json held = MakeObj("team", "held");
  held["metadata"]["finalizers"] = {"test/hold"};
  MustCreate(Pods(), held);
  MustCreate(Sbx(), MakeObj("default", "keep"));

  auto del = store_->Delete(Ns(), "", "team");
  ASSERT_TRUE(del);
  EXPECT_EQ((*del)["status"]["phase"], "Terminating");
  auto create = store_->Create(Sbx(), MakeObj("team", "late"));
  ASSERT_FALSE(create);
  // Kubernetes answers 403 Forbidden here: the code says so, not the message's wording.
  EXPECT_EQ(create.error().code, Code::kPermissionDenied);

  ASSERT_TRUE(WaitFor([&] { return !Exists(Sbx(), "team", "a"); }));
  ASSERT_TRUE(WaitFor([&] { return store_->GcIdle(); }));
  EXPECT_TRUE(Exists(Ns(), "", "team"));  // the held pod keeps it
  ASSERT_TRUE(UpdateWithRetry(*store_, Pods(), "team", "held", [](Object& o) -> Status {
    o["metadata"].erase("finalizers");
    return OkStatus();
  }));
  EXPECT_TRUE(WaitFor([&] { return !Exists(Ns(), "", "team"); }));
  EXPECT_TRUE(Exists(Sbx(), "default", "keep"));
}

TEST_P(ObjectStoreTest, UpdateWithRetryAndGetOptional) {
  MustCreate(Sbx(), MakeObj("default", "a"));
  auto none = GetOptional(*store_, Sbx(), "default", "zz");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto some = GetOptional(*store_, Sbx(), "default", "a");
  ASSERT_TRUE(some && some->has_value());

  int calls = 0;
  int64_t rev = store_->CurrentRevision();
  auto r = UpdateWithRetry(*store_, Sbx(), "default", "a", [&](Object& o) -> Status {
    ++calls;
    if (calls == 1) {
      // Someone else writes between our read and our write.
      Json other = o;
      other["spec"]["by"] = "other";
      EXPECT_TRUE(store_->Update(Sbx(), other));
    }
    o["metadata"]["labels"] = {{"mine", "yes"}};
    return OkStatus();
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(calls, 2);
  EXPECT_EQ((*r)["spec"]["by"], "other");
  EXPECT_EQ((*r)["metadata"]["labels"]["mine"], "yes");

  rev = store_->CurrentRevision();
  auto same =
      UpdateWithRetry(*store_, Sbx(), "default", "a", [](Object&) { return Status(NoChange()); });
  ASSERT_TRUE(same);
  EXPECT_EQ(store_->CurrentRevision(), rev);
}

TEST_P(ObjectStoreTest, ConcurrentWritersPublishInRevisionOrder) {
  auto w = store_->Watch(Sbx(), "", {.resource_version = store_->CurrentRevision()});
  ASSERT_TRUE(w);
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = store_->Create(Sbx(), MakeObj("default", name));
        EXPECT_TRUE(r) << r.error().message;
        auto u = UpdateWithRetry(*store_, Sbx(), "default", name, [](Object& o) -> Status {
          o["spec"]["touched"] = true;
          return OkStatus();
        });
        EXPECT_TRUE(u) << u.error().message;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto evs = Drain(**w);
  ASSERT_EQ(evs.size(), static_cast<size_t>(kThreads * kPerThread * 2));
  for (size_t i = 1; i < evs.size(); ++i)
    EXPECT_EQ(evs[i].resource_version, evs[i - 1].resource_version + 1);
  EXPECT_EQ(evs.back().resource_version, store_->CurrentRevision());
}

TEST_P(ObjectStoreTest, ClusterScopedWatchAndList) {
  auto w = store_->Watch(Ns(), "", {});
  ASSERT_TRUE(w);
  auto init = Drain(**w);
  ASSERT_EQ(init.size(), 2u);  // default, kube-system
  Json ns = MakeObj("ignored", "team");
  Json created = MustCreate(Ns(), ns);
  EXPECT_FALSE(created["metadata"].contains("namespace"));
  auto evs = Drain(**w);
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].object["metadata"]["name"], "team");
  EXPECT_EQ(store_->List(Ns(), "", {})->items.size(), 3u);
}

TEST_P(ObjectStoreTest, WatcherOutlivingStoreGetsUnavailable) {
  auto w = store_->Watch(Sbx(), "", {.resource_version = store_->CurrentRevision()});
  ASSERT_TRUE(w);
  store_.reset();
  auto next = (*w)->Next(std::chrono::milliseconds(100));
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace asb::store
