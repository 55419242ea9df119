// WatchHub: the watch half of ObjectStore. It keeps the last `log_capacity` events so a watch
// can resume from an older revision (older than the window -> kGone "too old resource
// version"), and fans each new event out to the registered watchers, each with a bounded queue:
// a slow watcher gets kGone instead of blocking writers.
//
// Not locked itself: ObjectStore calls every method with its state lock held exclusively, which
// is what makes "snapshot or replay, then register" atomic with respect to writes.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/selector.h"
#include "store/store.h"

namespace asb::store {

namespace internal {
class WatchChannel;
}

class WatchHub {
 public:
  using ObjPtr = std::shared_ptr<const Json>;
  struct Event {
    int64_t revision;
    std::string resource;  // api::ResourceInfo::GroupResource()
    EventType type;        // kAdded, kModified or kDeleted
    ObjPtr object;         // new state (for kDeleted: last state, resourceVersion = revision)
    ObjPtr prev;           // previous state for kModified/kDeleted (label-selector transitions)
  };

  WatchHub(size_t log_capacity, size_t watcher_buffer);
  // Ends every watcher: a pending or later Next returns kUnavailable "store closed".
  ~WatchHub();

  // The window starts empty at `revision` (after the store loaded its log).
  void StartAt(int64_t revision) { floor_ = revision; }

  // A watcher of `resource` in `ns` ("" = all) through the selectors. It sees nothing until
  // Register; before that the caller queues its starting events with Initial or Replay.
  std::shared_ptr<internal::WatchChannel> NewChannel(std::string ns, LabelSelector labels,
                                                     FieldSelector fields);
  // True when `obj` passes the channel's namespace and selectors.
  static bool Wants(const internal::WatchChannel& ch, const Json& obj);
  // Queues a synthetic ADDED event for an object of the current state (resource_version 0). The
  // channel shares `obj` (the consumer copies it in Next, off the store's lock).
  static void Initial(internal::WatchChannel& ch, ObjPtr obj, int64_t revision);
  // Queues every retained event of `resource` after revision `from`. kGone when `from` is older
  // than the window.
  [[nodiscard]] Status Replay(internal::WatchChannel& ch, const std::string& resource,
                              int64_t from) const;
  // Starts live delivery and hands the channel to its consumer.
  std::unique_ptr<Watcher> Register(const std::string& resource,
                                    std::shared_ptr<internal::WatchChannel> ch);

  // Delivers `event` to the watchers of its resource and retains it.
  void Publish(Event event);

 private:
  const size_t log_capacity_;
  const size_t watcher_buffer_;
  std::deque<Event> log_;
  int64_t floor_ = 0;  // every event with revision > floor_ is in log_
  std::unordered_map<std::string, std::vector<std::shared_ptr<internal::WatchChannel>>> watchers_;
};

}  // namespace asb::store
