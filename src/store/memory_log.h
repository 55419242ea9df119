// MemoryLog: an ObjectLog that keeps everything in process memory, for unit tests (and anything
// else that wants the Kubernetes object semantics without a database). Nothing survives the
// process; Share() gives a second log over the same contents, which is how a test "reopens" a
// store the way SqliteLog reopens a state dir.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "store/object_log.h"

namespace asb::store {

class MemoryLog final : public ObjectLog {
 public:
  MemoryLog() : data_(std::make_shared<Data>()) {}

  // A log over the same contents (a store opened on it sees everything committed so far).
  std::unique_ptr<MemoryLog> Share() const {
    return std::unique_ptr<MemoryLog>(new MemoryLog(data_));
  }

  Result<int64_t> Load(const std::function<void(ObjectKey, Json)>& fn) override {
    std::lock_guard l(data_->mu);
    for (const auto& [key, obj] : data_->objects) fn(key, obj);
    return data_->revision;
  }

  Status Commit(std::span<const LogWrite> writes) override {
    std::lock_guard l(data_->mu);
    for (const LogWrite& w : writes) {
      if (w.object == nullptr) {
        data_->objects.erase(*w.key);
      } else {
        data_->objects[*w.key] = *w.object;
      }
      data_->revision = w.revision;
    }
    return OkStatus();
  }

 private:
  struct Data {
    std::mutex mu;  // Share() lets two stores (one after the other) reach the same contents
    std::map<ObjectKey, Json> objects;
    int64_t revision = 0;
  };
  explicit MemoryLog(std::shared_ptr<Data> data) : data_(std::move(data)) {}

  std::shared_ptr<Data> data_;
};

}  // namespace asb::store
