// SqliteLog: the daemon's ObjectLog, one SQLite database in a state dir.
//
// Layout: state_dir/store.db (WAL mode) with an `objects` table keyed by (resource, namespace,
// name) holding each object's JSON and revision, and a `meta` table holding the store-wide
// revision counter (so revisions are never reused, even after deletes and restarts). A commit
// acknowledged to the caller survives kill -9 (see the durability note in sqlite_log.cc).
//
// One process owns a state dir at a time (flock on state_dir/store.lock).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "store/object_log.h"

struct sqlite3;
struct sqlite3_stmt;

namespace asb::store {

class SqliteLog final : public ObjectLog {
 public:
  // Opens (creating if needed) the database in state_dir. A state dir another process holds is
  // waited for up to `lock_wait`: right after a crash the lock can outlive the daemon for a
  // moment (a child it forked holds the lock's open file until that child execs or exits).
  // Errors: kFailedPrecondition (still held after lock_wait), kInternal (SQLite, or the dir
  // cannot be created).
  [[nodiscard]] static Result<std::unique_ptr<SqliteLog>> Open(
      const std::string& state_dir, std::chrono::milliseconds lock_wait = std::chrono::seconds(5));
  ~SqliteLog() override;

  SqliteLog(const SqliteLog&) = delete;
  SqliteLog& operator=(const SqliteLog&) = delete;

  Result<int64_t> Load(const std::function<void(ObjectKey, Json)>& fn) override;
  Status Commit(std::span<const LogWrite> writes) override;

 private:
  explicit SqliteLog(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  [[nodiscard]] Status Init(std::chrono::milliseconds lock_wait);
  [[nodiscard]] Status Prepare(const char* sql, sqlite3_stmt** stmt);
  [[nodiscard]] Status Exec(const char* sql);

  const std::string state_dir_;
  UniqueFd lock_fd_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_begin_ = nullptr;
  sqlite3_stmt* stmt_commit_ = nullptr;
  sqlite3_stmt* stmt_rollback_ = nullptr;
  sqlite3_stmt* stmt_put_ = nullptr;
  sqlite3_stmt* stmt_delete_ = nullptr;
  sqlite3_stmt* stmt_set_rev_ = nullptr;
};

}  // namespace asb::store
