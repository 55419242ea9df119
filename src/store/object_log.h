// ObjectLog: the durable record underneath ObjectStore. It knows nothing of Kubernetes: it keeps
// the latest JSON of each (resource, namespace, name) and the store-wide revision counter, and
// replays them at open. Everything with meaning (uid, generation, finalizers, watches, GC) lives
// in ObjectStore above it, so a backing is a few dozen lines: SqliteLog for the daemon,
// MemoryLog for unit tests.
//
// ObjectStore calls Commit from one thread at a time (under its writer lock), with strictly
// increasing revisions, and calls Load once before any Commit. A log need not be thread-safe.
// One Commit may carry several writes (Store::Transact): they become durable together or not
// at all.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <span>
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

// One object's new state at `revision`: `object` (carrying metadata.resourceVersion ==
// revision), or nullptr to remove `key`.
struct LogWrite {
  int64_t revision = 0;
  const ObjectKey* key = nullptr;
  const Json* object = nullptr;
};

class ObjectLog {
 public:
  virtual ~ObjectLog() = default;

  // Calls `fn` once per stored object (in no particular order) and returns the last committed
  // revision, which is at least every object's metadata.resourceVersion. Errors: kInternal.
  [[nodiscard]] virtual Result<int64_t> Load(const std::function<void(ObjectKey, Json)>& fn) = 0;

  // Makes `writes` (non-empty, consecutive revisions in order; a key may appear more than once,
  // the last write wins) durable, and moves the revision counter to the last one. All or
  // nothing: on error nothing changed, and the revision counter did not move. Errors: kInternal.
  [[nodiscard]] virtual Status Commit(std::span<const LogWrite> writes) = 0;
};

}  // namespace asb::store
