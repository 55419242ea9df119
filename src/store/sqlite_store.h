// SqliteStore: the daemon's store, ObjectStore (Kubernetes object semantics, in memory) over a
// SqliteLog (state_dir/store.db). A write acknowledged to the caller survives kill -9; one
// process owns a state dir at a time.
#pragma once

#include <memory>
#include <string>

#include "store/object_store.h"
#include "store/sqlite_log.h"

namespace asb::store {

class SqliteStore final : public ObjectStore {
 public:
  // Opens (creating if needed) the store in state_dir; see ObjectStore::Open.
  // Errors: kFailedPrecondition (another process holds the state dir), kInternal (SQLite).
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const std::string& state_dir,
                                                                 ObjectStoreOptions options = {}) {
    ASB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteLog> log, SqliteLog::Open(state_dir));
    std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(log), options));
    ASB_RETURN_IF_ERROR(store->Init());
    return store;
  }

 private:
  using ObjectStore::ObjectStore;
};

}  // namespace asb::store
