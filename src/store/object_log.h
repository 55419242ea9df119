// ObjectLog: the durable record underneath ObjectStore. It knows nothing of Kubernetes: it keeps
// the latest JSON of each (resource, namespace, name) and the store-wide revision counter, and
// replays them at open. Everything with meaning (uid, generation, finalizers, watches, GC) lives
// in ObjectStore above it, so a backing is a few dozen lines: SqliteLog for the daemon,
// MemoryLog for unit tests.
//
// ObjectStore calls Commit from one thread at a time (under its writer lock), with strictly
// increasing revisions, and calls Load once before any Commit. A log need not be thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

#include "base/json_util.h"
#include "base/result.h"

namespace asb::store {

// Where an object lives: its kind (api::ResourceInfo::GroupResource()), namespace ("" for
// cluster-scoped kinds) and name.
struct ObjectKey {
  std::string resource;
  std::string ns;
  std::string name;
  auto operator<=>(const ObjectKey&) const = default;
};

class ObjectLog {
 public:
  virtual ~ObjectLog() = default;

  // Calls `fn` once per stored object (in no particular order) and returns the last committed
  // revision, which is at least every object's metadata.resourceVersion. Errors: kInternal.
  [[nodiscard]] virtual Result<int64_t> Load(const std::function<void(ObjectKey, Json)>& fn) = 0;

  // Makes one write durable at `revision`: `object` is the new state of `key` (carrying
  // metadata.resourceVersion == revision), nullptr removes it. All or nothing: on error nothing
  // changed, and the revision counter did not move. Errors: kInternal.
  [[nodiscard]] virtual Status Commit(int64_t revision, const ObjectKey& key,
                                      const Json* object) = 0;
};

}  // namespace asb::store
