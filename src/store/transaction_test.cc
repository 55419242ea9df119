// Store::Transact over both backings: all or nothing, a revision and a watch event per object
// in the order the writes were made, later writes seeing earlier ones, and what a reopen finds.
#include <gtest/gtest.h>

#include "api/resource.h"
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
const api::ResourceInfo& Svcs() { return api::ServiceResource(); }

class TransactTest : public ::asb::testing::StoreBackingTest {
 protected:
  std::unique_ptr<Watcher> WatchFrom(const api::ResourceInfo& res, int64_t rev) {
    auto w = store_->Watch(res, "default", {.resource_version = rev});
    EXPECT_TRUE(w) << w.error().message;
    return w ? std::move(*w) : nullptr;
  }

  // Every event until none arrives for a while: (type, name, revision).
  std::vector<std::tuple<EventType, std::string, int64_t>> Drain(Watcher& w) {
    std::vector<std::tuple<EventType, std::string, int64_t>> out;
    while (true) {
      auto ev = w.Next(std::chrono::milliseconds(50));
      EXPECT_TRUE(ev) << ev.error().message;
      if (!ev || !*ev) return out;
      out.emplace_back((*ev)->type, GetString((*ev)->object, "metadata.name"),
                       (*ev)->resource_version);
    }
  }
};

ASB_INSTANTIATE_FOR_EVERY_BACKING(TransactTest);

std::string Rv(const Json& o) { return GetString(o, "metadata.resourceVersion"); }

// A write's outcome as fn's Status.
Status Done(const Result<Object>& r) { return r ? OkStatus() : Status(tl::unexpected(r.error())); }

// The warm claim's shape: the member goes (compare-and-set), the new Sandbox is created and the
// pod re-pointed at it; one revision and one event each, in that order.
TEST_P(TransactTest, CommitsEveryWriteWithItsOwnRevisionAndEventInOrder) {
  Json member = MustCreate(Sbx(), MakeObj("default", "member"));
  Json pod = MakeObj("default", "pod");
  pod["metadata"]["ownerReferences"] = Json::array({OwnerRef(member)});
  pod = MustCreate(Pods(), pod);
  const int64_t r0 = store_->CurrentRevision();
  auto sandboxes = WatchFrom(Sbx(), r0);
  auto pods = WatchFrom(Pods(), r0);

  Json created, moved;
  ASSERT_OK(store_->Transact([&](Txn& txn) -> Status {
    ASB_RETURN_IF_ERROR(txn.Delete(Sbx(), "default", "member",
                                   {.precondition_uid = GetString(member, "metadata.uid"),
                                    .precondition_resource_version = Rv(member)}));
    ASB_ASSIGN_OR_RETURN(created, txn.Create(Sbx(), MakeObj("default", "claimed")));
    Json next = pod;
    next["metadata"]["ownerReferences"] = Json::array({OwnerRef(created)});
    ASB_ASSIGN_OR_RETURN(moved, txn.Update(Pods(), next));
    return OkStatus();
  }));

  EXPECT_EQ(store_->CurrentRevision(), r0 + 3);
  EXPECT_EQ(Rv(created), std::to_string(r0 + 2));
  EXPECT_EQ(Rv(moved), std::to_string(r0 + 3));
  EXPECT_FALSE(store_->Get(Sbx(), "default", "member"));
  ASSERT_OK_AND_ASSIGN(Json got, store_->Get(Sbx(), "default", "claimed"));
  EXPECT_EQ(got, created);
  ASSERT_OK_AND_ASSIGN(Json got_pod, store_->Get(Pods(), "default", "pod"));
  EXPECT_EQ(got_pod, moved);
  using E = std::tuple<EventType, std::string, int64_t>;
  EXPECT_EQ(Drain(*sandboxes), (std::vector<E>{{EventType::kDeleted, "member", r0 + 1},
                                               {EventType::kAdded, "claimed", r0 + 2}}));
  EXPECT_EQ(Drain(*pods), (std::vector<E>{{EventType::kModified, "pod", r0 + 3}}));

  // The member's other dependents are collected; the pod, re-pointed in the same write, is not.
  EXPECT_TRUE(WaitFor([&] { return store_->GcIdle(); }, std::chrono::seconds(5)));
  EXPECT_TRUE(store_->Get(Pods(), "default", "pod"));
}

TEST_P(TransactTest, GcCollectsTheDeletedOwnersOtherDependentsOnly) {
  Json member = MustCreate(Sbx(), MakeObj("default", "member"));
  Json pod = MakeObj("default", "pod");
  pod["metadata"]["ownerReferences"] = Json::array({OwnerRef(member)});
  pod = MustCreate(Pods(), pod);
  Json svc = MakeObj("default", "svc");
  svc["metadata"]["ownerReferences"] = Json::array({OwnerRef(member)});
  MustCreate(Svcs(), svc);
  ASSERT_OK(store_->Transact([&](Txn& txn) -> Status {
    ASB_RETURN_IF_ERROR(txn.Delete(Sbx(), "default", "member", {}));
    ASB_ASSIGN_OR_RETURN(Json created, txn.Create(Sbx(), MakeObj("default", "claimed")));
    pod["metadata"]["ownerReferences"] = Json::array({OwnerRef(created)});
    return Done(txn.Update(Pods(), pod));
  }));
  EXPECT_TRUE(
      WaitFor([&] { return !store_->Get(Svcs(), "default", "svc"); }, std::chrono::seconds(5)));
  EXPECT_TRUE(WaitFor([&] { return store_->GcIdle(); }, std::chrono::seconds(5)));
  EXPECT_TRUE(store_->Get(Pods(), "default", "pod"));
}

TEST_P(TransactTest, LaterWritesSeeEarlierOnes) {
  const int64_t r0 = store_->CurrentRevision();
  auto sandboxes = WatchFrom(Sbx(), r0);
  ASSERT_OK(store_->Transact([&](Txn& txn) -> Status {
    EXPECT_EQ(txn.Get(Sbx(), "default", "a").error().code, Code::kNotFound);
    ASB_ASSIGN_OR_RETURN(Json a, txn.Create(Sbx(), MakeObj("default", "a", nullptr, {{"v", 1}})));
    ASB_ASSIGN_OR_RETURN(Json seen, txn.Get(Sbx(), "default", "a"));
    EXPECT_EQ(seen, a);
    // A second create of the same name fails as it would outside (and would abort the write,
    // so this test does not make it); an update compare-and-sets on the staged revision.
    a["spec"]["v"] = 2;
    ASB_ASSIGN_OR_RETURN(Json a2, txn.Update(Sbx(), a));
    EXPECT_EQ(a2["metadata"]["generation"], 2);
    ASB_RETURN_IF_ERROR(txn.Create(Sbx(), MakeObj("default", "b")));
    ASB_RETURN_IF_ERROR(txn.Delete(Sbx(), "default", "b", {}));
    EXPECT_EQ(txn.Get(Sbx(), "default", "b").error().code, Code::kNotFound);
    return OkStatus();
  }));
  ASSERT_OK_AND_ASSIGN(Json a, store_->Get(Sbx(), "default", "a"));
  EXPECT_EQ(a["spec"]["v"], 2);
  EXPECT_EQ(Rv(a), std::to_string(r0 + 2));
  EXPECT_FALSE(store_->Get(Sbx(), "default", "b"));
  using E = std::tuple<EventType, std::string, int64_t>;
  EXPECT_EQ(Drain(*sandboxes), (std::vector<E>{{EventType::kAdded, "a", r0 + 1},
                                               {EventType::kModified, "a", r0 + 2},
                                               {EventType::kAdded, "b", r0 + 3},
                                               {EventType::kDeleted, "b", r0 + 4}}));
  EXPECT_EQ(store_->CurrentRevision(), r0 + 4);
}

// A compare-and-set conflict on any object aborts every write, even one fn ignores.
TEST_P(TransactTest, AConflictAbortsEveryWrite) {
  Json b = MustCreate(Sbx(), MakeObj("default", "b"));
  Json stale = b;
  b["spec"]["v"] = 1;
  ASSERT_TRUE(store_->Update(Sbx(), b));
  const int64_t r0 = store_->CurrentRevision();
  auto sandboxes = WatchFrom(Sbx(), r0);

  for (bool ignore_error : {false, true}) {
    Status st = store_->Transact([&](Txn& txn) -> Status {
      ASB_RETURN_IF_ERROR(txn.Create(Sbx(), MakeObj("default", "a")));
      auto updated = txn.Update(Sbx(), stale);
      EXPECT_FALSE(updated);
      if (!ignore_error && !updated) return tl::unexpected(updated.error());
      return OkStatus();
    });
    ASSERT_FALSE(st) << "ignore_error=" << ignore_error;
    EXPECT_EQ(st.error().code, Code::kAborted);
    EXPECT_NE(st.error().message.find("the object has been modified"), std::string::npos);
    EXPECT_FALSE(store_->Get(Sbx(), "default", "a"));
    EXPECT_EQ(store_->CurrentRevision(), r0);
  }
  // An error of fn's own aborts too.
  Status st = store_->Transact([&](Txn& txn) -> Status {
    ASB_RETURN_IF_ERROR(txn.Create(Sbx(), MakeObj("default", "a")));
    return MakeError(Code::kUnavailable, "changed my mind");
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kUnavailable);
  EXPECT_FALSE(store_->Get(Sbx(), "default", "a"));
  EXPECT_EQ(store_->CurrentRevision(), r0);
  EXPECT_TRUE(Drain(*sandboxes).empty());

  // And the revision after an aborted write is the next one, not one after the staged writes.
  Json next = MustCreate(Sbx(), MakeObj("default", "c"));
  EXPECT_EQ(Rv(next), std::to_string(r0 + 1));
}

TEST_P(TransactTest, StoreWritesFromInsideAreRefusedNotDeadlocked) {
  Status st = store_->Transact([&](Txn&) -> Status {
    auto direct = store_->Create(Sbx(), MakeObj("default", "a"));
    EXPECT_FALSE(direct);
    EXPECT_EQ(direct.error().code, Code::kFailedPrecondition);
    auto nested = store_->Transact([](Txn&) { return OkStatus(); });
    EXPECT_FALSE(nested);
    return OkStatus();
  });
  EXPECT_OK(st);
  EXPECT_FALSE(store_->Get(Sbx(), "default", "a"));
  // Other threads' writes wait for the transaction, then go ahead.
  EXPECT_TRUE(store_->Create(Sbx(), MakeObj("default", "a")));
}

TEST_P(TransactTest, OrphanDeleteIsRefused) {
  MustCreate(Sbx(), MakeObj("default", "a"));
  Status st = store_->Transact([&](Txn& txn) -> Status {
    return Done(txn.Delete(Sbx(), "default", "a", {.propagation = Propagation::kOrphan}));
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Code::kInvalidArgument);
  EXPECT_TRUE(store_->Get(Sbx(), "default", "a"));
}

// What a reopen finds: every write of a committed transaction at its revision; nothing of an
// aborted one, and the revision counter where the last commit left it.
TEST_P(TransactTest, ReopenSeesCommittedWritesOnly) {
  Json b = MustCreate(Sbx(), MakeObj("default", "b"));
  const int64_t r0 = store_->CurrentRevision();
  ASSERT_OK(store_->Transact([&](Txn& txn) -> Status {
    ASB_RETURN_IF_ERROR(txn.Create(Sbx(), MakeObj("default", "a")));
    ASB_RETURN_IF_ERROR(txn.Delete(Sbx(), "default", "b", {}));
    return Done(txn.Create(Pods(), MakeObj("default", "p")));
  }));
  Status aborted = store_->Transact([&](Txn& txn) -> Status {
    ASB_RETURN_IF_ERROR(txn.Create(Sbx(), MakeObj("default", "never")));
    return Done(txn.Update(Sbx(), b));  // b is gone: kNotFound
  });
  ASSERT_FALSE(aborted);
  EXPECT_EQ(aborted.error().code, Code::kNotFound);
  Reopen();
  EXPECT_EQ(store_->CurrentRevision(), r0 + 3);
  ASSERT_OK_AND_ASSIGN(Json a, store_->Get(Sbx(), "default", "a"));
  EXPECT_EQ(Rv(a), std::to_string(r0 + 1));
  ASSERT_OK_AND_ASSIGN(Json p, store_->Get(Pods(), "default", "p"));
  EXPECT_EQ(Rv(p), std::to_string(r0 + 3));
  EXPECT_FALSE(store_->Get(Sbx(), "default", "b"));
  EXPECT_FALSE(store_->Get(Sbx(), "default", "never"));
}

}  // namespace
}  // namespace asb::store
