// MemoryStore: ObjectStore over a MemoryLog. The same Kubernetes object semantics as the
// daemon's SqliteStore with no database, for unit tests of everything above the store.
#pragma once

#include <memory>

#include "store/memory_log.h"
#include "store/object_store.h"

namespace asb::store {

class MemoryStore final : public ObjectStore {
 public:
  // A store over `log` (a fresh, empty one by default; pass MemoryLog::Share() of an earlier
  // store's log to "reopen" it). See ObjectStore::Open.
  [[nodiscard]] static Result<std::unique_ptr<MemoryStore>> Open(
      ObjectStoreOptions options = {},
      std::unique_ptr<MemoryLog> log = std::make_unique<MemoryLog>()) {
    std::unique_ptr<MemoryStore> store(new MemoryStore(std::move(log), options));
    ASB_RETURN_IF_ERROR(store->Init());
    return store;
  }

 private:
  using ObjectStore::ObjectStore;
};

}  // namespace asb::store
