#include "store/sqlite_log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "base/file_util.h"
#include "base/log.h"

namespace asb::store {

Result<std::unique_ptr<SqliteLog>> SqliteLog::Open(const std::string& state_dir,
                                                   std::chrono::milliseconds lock_wait) {
  std::unique_ptr<SqliteLog> log(new SqliteLog(state_dir));
  ASB_RETURN_IF_ERROR(log->Init(lock_wait));
  return log;
}

Status SqliteLog::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return MakeError(Code::kInternal, std::string("sqlite: ") + sql + ": " + msg);
  }
  return OkStatus();
}

Status SqliteLog::Prepare(const char* sql, sqlite3_stmt** stmt) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK)
    return MakeError(Code::kInternal,
                     std::string("sqlite prepare: ") + sql + ": " + sqlite3_errmsg(db_));
  return OkStatus();
}

Status SqliteLog::Init(std::chrono::milliseconds lock_wait) {
  ASB_RETURN_IF_ERROR(MakeDirs(state_dir_, 0700));
  std::string lock_path = state_dir_ + "/store.lock";
  lock_fd_.Reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd_) return ErrnoUnexpected("open " + lock_path);
  const auto deadline = std::chrono::steady_clock::now() + lock_wait;
  bool logged = false;
  while (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return ErrnoUnexpected("flock " + lock_path);
    if (std::chrono::steady_clock::now() >= deadline)
      return MakeError(
          Code::kFailedPrecondition,
          "store " + state_dir_ + " is in use by another process (flock " + lock_path + ")");
    if (!logged) {
      ASB_LOG(WARN, "store is locked; waiting for the process holding it to exit", "lock",
              lock_path, "wait_ms", lock_wait.count());
      logged = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::string db_path = state_dir_ + "/store.db";
  // ObjectStore serializes every call (its writer lock, and Load before any Commit), so no
  // SQLite mutexes are needed.
  if (sqlite3_open_v2(db_path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    return MakeError(Code::kInternal, "sqlite open " + db_path + ": " + msg);
  }
  // Durability choice: WAL + synchronous=NORMAL. A commit appends the transaction to the WAL
  // with write(2) before sqlite3_step returns, so it is in the kernel page cache: it survives
  // the process crashing or being SIGKILLed (our requirement), and the database is never
  // corrupted. Only an OS crash or power loss can drop the last transactions before the next
  // checkpoint fsync. synchronous=FULL would fsync every commit (~1-10 ms each here), which is
  // 10-100x our latency budget for a create; if a deployment needs power-loss durability this
  // is the one line to change.
  // Exclusive locking before WAL is entered: this process is the database's only user (the
  // flock above), so SQLite keeps the WAL index in heap memory instead of a shared-memory file
  // and takes no file locks per transaction: a commit is its WAL writes and nothing else.
  ASB_RETURN_IF_ERROR(Exec("PRAGMA locking_mode=EXCLUSIVE"));
  ASB_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  ASB_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
  ASB_RETURN_IF_ERROR(Exec("PRAGMA busy_timeout=5000"));
  // Checkpoints fsync; doing them every 8k pages (~32 MiB of WAL) instead of every 1k keeps
  // that cost off most writes. The WAL is only read back at Open.
  ASB_RETURN_IF_ERROR(Exec("PRAGMA wal_autocheckpoint=8192"));
  ASB_RETURN_IF_ERROR(
      Exec("CREATE TABLE IF NOT EXISTS objects ("
           " resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
           " rev INTEGER NOT NULL, data TEXT NOT NULL,"
           " PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;"
           "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
           "INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);"
           "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1);"));
  ASB_RETURN_IF_ERROR(Prepare("BEGIN", &stmt_begin_));
  ASB_RETURN_IF_ERROR(Prepare("COMMIT", &stmt_commit_));
  ASB_RETURN_IF_ERROR(Prepare("ROLLBACK", &stmt_rollback_));
  ASB_RETURN_IF_ERROR(Prepare(
      "INSERT INTO objects (resource, namespace, name, rev, data) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (resource, namespace, name) DO UPDATE SET rev = excluded.rev, "
      "data = excluded.data",
      &stmt_put_));
  ASB_RETURN_IF_ERROR(Prepare(
      "DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3", &stmt_delete_));
  ASB_RETURN_IF_ERROR(Prepare("UPDATE meta SET value = ?1 WHERE key = 'revision'", &stmt_set_rev_));
  return OkStatus();
}

SqliteLog::~SqliteLog() {
  for (sqlite3_stmt* st :
       {stmt_begin_, stmt_commit_, stmt_rollback_, stmt_put_, stmt_delete_, stmt_set_rev_})
    if (st) sqlite3_finalize(st);
  if (db_) sqlite3_close(db_);
  // lock_fd_ closes after the database, releasing the state dir last.
}

Result<int64_t> SqliteLog::Load(const std::function<void(ObjectKey, Json)>& fn) {
  int64_t rev = 0;
  {
    sqlite3_stmt* st = nullptr;
    ASB_RETURN_IF_ERROR(Prepare("SELECT value FROM meta WHERE key = 'revision'", &st));
    if (sqlite3_step(st) == SQLITE_ROW) rev = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_stmt* st = nullptr;
  ASB_RETURN_IF_ERROR(Prepare("SELECT resource, namespace, name, rev, data FROM objects", &st));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto text = [&](int col) {
      const unsigned char* p = sqlite3_column_text(st, col);
      return std::string(p ? reinterpret_cast<const char*>(p) : "",
                         static_cast<size_t>(sqlite3_column_bytes(st, col)));
    };
    ObjectKey key{text(0), text(1), text(2)};
    int64_t obj_rev = sqlite3_column_int64(st, 3);
    auto parsed = ParseJson(text(4));
    if (!parsed || !parsed->is_object()) {
      ASB_LOG(ERROR, "store: skipping unreadable object", "resource", key.resource, "namespace",
              key.ns, "name", key.name);
      continue;
    }
    rev = std::max(rev, obj_rev);
    fn(std::move(key), std::move(*parsed));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return MakeError(Code::kInternal, std::string("sqlite load: ") + sqlite3_errmsg(db_));
  return rev;
}

Status SqliteLog::Commit(std::span<const LogWrite> writes) {
  if (writes.empty()) return OkStatus();
  auto step = [&](sqlite3_stmt* st) -> bool {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
  };
  auto fail = [&](const char* what) -> tl::unexpected<Error> {
    std::string msg = sqlite3_errmsg(db_);
    step(stmt_rollback_);
    ASB_LOG(ERROR, "store write failed", "op", what, "error", msg);
    return MakeError(Code::kInternal, std::string("store: ") + what + ": " + msg);
  };
  auto bind_key = [&](sqlite3_stmt* st, const ObjectKey& key) {
    sqlite3_bind_text(st, 1, key.resource.data(), static_cast<int>(key.resource.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key.ns.data(), static_cast<int>(key.ns.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key.name.data(), static_cast<int>(key.name.size()), SQLITE_STATIC);
  };
  // One SQLite transaction for the whole batch: one WAL append, all or nothing.
  if (!step(stmt_begin_)) return fail("begin");
  for (const LogWrite& w : writes) {
    if (w.object == nullptr) {
      bind_key(stmt_delete_, *w.key);
      bool ok = step(stmt_delete_);
      sqlite3_clear_bindings(stmt_delete_);
      if (!ok) return fail("delete");
    } else {
      std::string text = DumpJson(*w.object);
      bind_key(stmt_put_, *w.key);
      sqlite3_bind_int64(stmt_put_, 4, w.revision);
      sqlite3_bind_text(stmt_put_, 5, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
      bool ok = step(stmt_put_);
      sqlite3_clear_bindings(stmt_put_);
      if (!ok) return fail("put");
    }
  }
  sqlite3_bind_int64(stmt_set_rev_, 1, writes.back().revision);
  bool ok = step(stmt_set_rev_);
  sqlite3_clear_bindings(stmt_set_rev_);
  if (!ok) return fail("set revision");
  if (!step(stmt_commit_)) return fail("commit");
  return OkStatus();
}

}  // namespace asb::store
