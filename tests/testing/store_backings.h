// A fixture for store tests that run once per backing: SqliteLog (what the daemon uses) and
// MemoryLog (what every unit test above the store uses), so the two cannot drift. Reopen()
// closes the store and opens the same contents again, in either backing.
//
//   class FooTest : public asb::testing::StoreBackingTest {};
//   ASB_INSTANTIATE_FOR_EVERY_BACKING(FooTest);
//   TEST_P(FooTest, Bar) { MustCreate(api::SandboxResource(), MakeObj("default", "a")); }
//
// Header-only: include it only from tests that link the store.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "api/resource.h"
#include "base/clock.h"
#include "base/json_util.h"
#include "store/memory_store.h"
#include "store/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace asb::testing {

enum class Backing { kSqlite, kMemory };

inline std::string BackingName(Backing b) { return b == Backing::kSqlite ? "Sqlite" : "Memory"; }
inline void PrintTo(Backing b, std::ostream* os) { *os << BackingName(b); }

class StoreBackingTest : public ::testing::TestWithParam<Backing> {
 protected:
  void SetUp() override { Reopen(); }

  // Closes the store and opens its contents again (the state dir, or the shared MemoryLog).
  // The store's clock is clock_ unless `opts` names another.
  void Reopen(store::ObjectStoreOptions opts = {}) {
    store_.reset();
    if (!opts.clock) opts.clock = &clock_;
    if (GetParam() == Backing::kSqlite) {
      ASSERT_OK_AND_ASSIGN(store_, store::SqliteStore::Open(dir_.path(), opts));
    } else {
      ASSERT_OK_AND_ASSIGN(store_, store::MemoryStore::Open(opts, memory_.Share()));
    }
  }

  Json MustCreate(const api::ResourceInfo& res, Json obj) {
    auto r = store_->Create(res, std::move(obj));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Json();
  }

  TempDir dir_;
  store::MemoryLog memory_;
  FakeClock clock_;
  std::unique_ptr<store::ObjectStore> store_;
};

}  // namespace asb::testing

// Runs every TEST_P of `suite` once per backing, named .../Sqlite and .../Memory.
#define ASB_INSTANTIATE_FOR_EVERY_BACKING(suite)                                             \
  INSTANTIATE_TEST_SUITE_P(                                                                  \
      Backings, suite,                                                                       \
      ::testing::Values(::asb::testing::Backing::kSqlite, ::asb::testing::Backing::kMemory), \
      [](const ::testing::TestParamInfo<::asb::testing::Backing>& p) {                       \
        return ::asb::testing::BackingName(p.param);                                         \
      })
