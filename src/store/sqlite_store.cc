#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "base/file_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "store/object_meta_util.h"
#include "store/selector.h"

namespace asb::store {

using internal::Finalizers;
using internal::HasFinalizer;
using internal::IsDeleting;
using internal::kForegroundFinalizer;
using internal::MetaField;
using internal::MetaString;
using internal::OwnerUids;

namespace internal {

// One watcher's queue. Producers (the store's write path, under state_mu_) call Offer; the single
// consumer calls Next. Never blocks a producer: on overflow the channel turns "gone".
class WatchChannel {
 public:
  WatchChannel(std::string ns, LabelSelector labels, FieldSelector fields, size_t capacity)
      : ns_(std::move(ns)),
        labels_(std::move(labels)),
        fields_(std::move(fields)),
        capacity_(capacity),
        limit_(capacity) {}

  bool Wants(const Json& obj) const {
    if (!ns_.empty() && MetaString(obj, "namespace") != ns_) return false;
    return labels_.MatchesObject(obj) && fields_.Matches(obj);
  }

  // Queues initial events before the channel is registered; they don't count against capacity.
  void PushInitial(WatchEvent ev) {
    std::lock_guard l(mu_);
    q_.push_back(std::move(ev));
    ++limit_;
  }

  // Translates a store change into this watcher's view (Kubernetes cacher semantics: an object
  // that starts matching is ADDED, one that stops matching is DELETED with its previous content
  // at the new revision). nullopt when the watcher doesn't see the change.
  std::optional<WatchEvent> Translate(EventType type, const Json* obj, const Json* prev,
                                      int64_t rev) const {
    switch (type) {
      case EventType::kAdded:
      case EventType::kDeleted:
        if (Wants(*obj)) return WatchEvent{type, *obj, rev};
        return std::nullopt;
      case EventType::kModified: {
        bool now = Wants(*obj);
        bool before = prev != nullptr && Wants(*prev);
        if (now) return WatchEvent{before ? EventType::kModified : EventType::kAdded, *obj, rev};
        if (!before) return std::nullopt;
        Json last = *prev;
        last["metadata"]["resourceVersion"] = std::to_string(rev);
        return WatchEvent{EventType::kDeleted, std::move(last), rev};
      }
      case EventType::kBookmark:
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Returns false when the channel is dead and should be dropped.
  bool Offer(EventType type, const Json* obj, const Json* prev, int64_t rev) {
    if (dead_.load(std::memory_order_acquire)) return false;
    std::optional<WatchEvent> ev = Translate(type, obj, prev, rev);
    if (!ev) return true;
    std::lock_guard l(mu_);
    if (stopped_ || closed_ || gone_) return false;
    if (q_.size() >= limit_) {
      gone_ = true;
      q_.clear();
      dead_.store(true, std::memory_order_release);
      cv_.notify_all();
      return false;
    }
    q_.push_back(std::move(*ev));
    cv_.notify_one();
    return true;
  }

  Result<std::optional<WatchEvent>> Next(std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return !q_.empty() || gone_ || stopped_ || closed_; });
    if (stopped_) return MakeError(Code::kAborted, "watch stopped");
    if (gone_)
      return MakeError(Code::kGone, "watcher fell too far behind (more than " +
                                        std::to_string(capacity_) +
                                        " undelivered events); re-list and watch again");
    if (q_.empty()) {
      if (closed_) return MakeError(Code::kUnavailable, "store closed");
      return std::optional<WatchEvent>();
    }
    WatchEvent ev = std::move(q_.front());
    q_.pop_front();
    if (limit_ > capacity_) --limit_;
    return std::optional<WatchEvent>(std::move(ev));
  }

  void Stop() {
    std::lock_guard l(mu_);
    stopped_ = true;
    dead_.store(true, std::memory_order_release);
    cv_.notify_all();
  }

  void Close() {
    std::lock_guard l(mu_);
    closed_ = true;
    dead_.store(true, std::memory_order_release);
    cv_.notify_all();
  }

 private:
  const std::string ns_;
  const LabelSelector labels_;
  const FieldSelector fields_;
  const size_t capacity_;
  std::atomic<bool> dead_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> q_;
  size_t limit_;
  bool gone_ = false;
  bool stopped_ = false;
  bool closed_ = false;
};

}  // namespace internal

namespace {

class ChannelWatcher final : public Watcher {
 public:
  explicit ChannelWatcher(std::shared_ptr<internal::WatchChannel> ch) : ch_(std::move(ch)) {}
  ~ChannelWatcher() override { ch_->Stop(); }
  Result<std::optional<WatchEvent>> Next(std::chrono::milliseconds timeout) override {
    return ch_->Next(timeout);
  }
  void Stop() override { ch_->Stop(); }

 private:
  std::shared_ptr<internal::WatchChannel> ch_;
};

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string NotFoundMessage(const api::ResourceInfo& res, const std::string& name) {
  return res.GroupResource() + " " + Quote(name) + " not found";
}

std::string QualifiedKind(const api::ResourceInfo& res) {
  return res.group.empty() ? res.kind : res.kind + "." + res.group;
}

std::string NewUuid() {
  std::string h = RandomHex(16);
  h[12] = '4';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

// Kubernetes' generateName alphabet (no vowels, no confusable characters).
std::string RandomSuffix() {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string hex = RandomHex(5);
  std::string out;
  for (size_t i = 0; i < 5; ++i) {
    int byte = std::stoi(hex.substr(i * 2, 2), nullptr, 16);
    out += kAlphabet[static_cast<size_t>(byte) % kAlphabet.size()];
  }
  return out;
}

bool IsDnsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// RFC 1123 subdomain (most kinds) or label (namespaces), as the apiserver validates names.
Status ValidateName(const api::ResourceInfo& res, const std::string& name) {
  bool label = res.group.empty() && res.plural == "namespaces";
  size_t max = label ? 63 : 253;
  bool ok = !name.empty() && name.size() <= max;
  if (ok) {
    for (const std::string& part : Split(name, '.')) {
      ok = ok && !part.empty() && part.front() != '-' && part.back() != '-';
      for (char c : part) ok = ok && IsDnsLabelChar(c);
    }
    if (label) ok = ok && name.find('.') == std::string::npos;
  }
  if (ok) return OkStatus();
  std::string what = label ? "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                             "characters or '-', and must start and end with an alphanumeric "
                             "character"
                           : "a lowercase RFC 1123 subdomain must consist of lower case "
                             "alphanumeric characters, '-' or '.', and must start and end with "
                             "an alphanumeric character";
  if (name.size() > max) what = "must be no more than " + std::to_string(max) + " characters";
  return MakeError(Code::kInvalidArgument,
                   QualifiedKind(res) + " " + Quote(name) +
                       " is invalid: metadata.name: Invalid value: " + Quote(name) + ": " + what);
}

// Type checks on the metadata fields the store reads, so later accessors can't throw.
Status CheckObject(const api::ResourceInfo& res, const Json& obj) {
  auto bad = [&](const std::string& why) {
    return MakeError(Code::kInvalidArgument, QualifiedKind(res) + " is invalid: " + why);
  };
  if (!obj.is_object()) return bad("the object must be a JSON object");
  auto m = obj.find("metadata");
  if (m == obj.end() || m->is_null()) return OkStatus();
  if (!m->is_object()) return bad("metadata must be an object");
  for (const char* f : {"name", "namespace", "generateName", "resourceVersion", "uid",
                        "creationTimestamp", "deletionTimestamp"}) {
    auto it = m->find(f);
    if (it != m->end() && !it->is_string() && !it->is_null())
      return bad(std::string("metadata.") + f + " must be a string");
  }
  for (const char* f : {"labels", "annotations"}) {
    auto it = m->find(f);
    if (it == m->end() || it->is_null()) continue;
    if (!it->is_object()) return bad(std::string("metadata.") + f + " must be an object");
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) return bad(std::string("metadata.") + f + "[" + k + "] must be a string");
      std::string why;
      if (std::string_view(f) == "labels") {
        if (!IsValidLabelKey(k, &why))
          return bad("metadata.labels: Invalid value: " + Quote(k) + ": " + why);
        if (!IsValidLabelValue(v.get_ref<const std::string&>(), &why))
          return bad("metadata.labels: Invalid value: " + Quote(v.get<std::string>()) + ": " + why);
      }
    }
  }
  if (auto it = m->find("finalizers"); it != m->end() && !it->is_null()) {
    if (!it->is_array()) return bad("metadata.finalizers must be a list");
    for (const Json& f : *it)
      if (!f.is_string() || f.get_ref<const std::string&>().empty())
        return bad("metadata.finalizers entries must be non-empty strings");
  }
  if (auto it = m->find("ownerReferences"); it != m->end() && !it->is_null()) {
    if (!it->is_array()) return bad("metadata.ownerReferences must be a list");
    for (const Json& r : *it) {
      if (!r.is_object()) return bad("metadata.ownerReferences entries must be objects");
      auto uid = r.find("uid");
      if (uid == r.end() || !uid->is_string() || uid->get_ref<const std::string&>().empty())
        return bad("metadata.ownerReferences.uid: Required value");
    }
  }
  return OkStatus();
}

// True when anything outside metadata and status differs (what bumps metadata.generation).
bool SpecEqual(const Json& a, const Json& b) {
  size_t na = 0, nb = 0;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "metadata" || it.key() == "status") continue;
    ++na;
    auto other = b.find(it.key());
    if (other == b.end() || *other != it.value()) return false;
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (it.key() != "metadata" && it.key() != "status") ++nb;
  return na == nb;
}

std::string EncodeContinue(const std::string& ns, const std::string& name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string raw = ns + '\x1f' + name;
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::pair<std::string, std::string>> DecodeContinue(const std::string& token) {
  auto bad = [] { return MakeError(Code::kInvalidArgument, "invalid continue token"); };
  if (token.size() % 2 != 0) return bad();
  std::string raw;
  for (size_t i = 0; i < token.size(); i += 2) {
    auto hexval = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = hexval(token[i]), lo = hexval(token[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    raw += static_cast<char>(hi * 16 + lo);
  }
  size_t sep = raw.find('\x1f');
  if (sep == std::string::npos) return bad();
  return std::make_pair(raw.substr(0, sep), raw.substr(sep + 1));
}

bool IsNamespaceResource(const api::ResourceInfo& res) {
  return res.group.empty() && res.plural == "namespaces";
}

}  // namespace

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------------------------
// Open / schema / load

SqliteStore::SqliteStore(std::string state_dir, SqliteStoreOptions options)
    : state_dir_(std::move(state_dir)),
      options_(options),
      clock_(options.clock ? options.clock : &RealClock::Get()) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& state_dir,
                                                       SqliteStoreOptions options) {
  if (options.watch_log_capacity == 0) options.watch_log_capacity = 1;
  if (options.watcher_buffer == 0) options.watcher_buffer = 1;
  std::unique_ptr<SqliteStore> store(new SqliteStore(state_dir, options));
  ASB_RETURN_IF_ERROR(store->Init());
  return store;
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return MakeError(Code::kInternal, std::string("sqlite: ") + sql + ": " + msg);
  }
  return OkStatus();
}

Status SqliteStore::Prepare(const char* sql, sqlite3_stmt** stmt) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK)
    return MakeError(Code::kInternal,
                     std::string("sqlite prepare: ") + sql + ": " + sqlite3_errmsg(db_));
  return OkStatus();
}

Status SqliteStore::Init() {
  ASB_RETURN_IF_ERROR(MakeDirs(state_dir_, 0700));
  std::string lock_path = state_dir_ + "/store.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return ErrnoUnexpected("open " + lock_path);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return MakeError(
        Code::kFailedPrecondition,
        "store " + state_dir_ + " is in use by another process (flock " + lock_path + ")");

  std::string db_path = state_dir_ + "/store.db";
  // All access is serialized by writer_mu_ (and Open/destructor), so no SQLite mutexes needed.
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
  ASB_RETURN_IF_ERROR(Load());

  for (const char* ns : {"default", "kube-system"}) {
    Json obj = {{"metadata", {{"name", ns}}}};
    auto created = Create(api::NamespaceResource(), std::move(obj));
    if (!created && created.error().code != Code::kAlreadyExists)
      return tl::unexpected(created.error());
  }
  if (options_.gc) {
    ScanForGc();
    StartGc();
  }
  return OkStatus();
}

Status SqliteStore::Load() {
  int64_t rev = 0;
  {
    sqlite3_stmt* st = nullptr;
    ASB_RETURN_IF_ERROR(Prepare("SELECT value FROM meta WHERE key = 'revision'", &st));
    if (sqlite3_step(st) == SQLITE_ROW) rev = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_stmt* st = nullptr;
  ASB_RETURN_IF_ERROR(Prepare("SELECT resource, namespace, name, rev, data FROM objects", &st));
  size_t count = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto text = [&](int col) {
      const unsigned char* p = sqlite3_column_text(st, col);
      return std::string(p ? reinterpret_cast<const char*>(p) : "",
                         static_cast<size_t>(sqlite3_column_bytes(st, col)));
    };
    Key key{text(0), text(1), text(2)};
    int64_t obj_rev = sqlite3_column_int64(st, 3);
    auto parsed = ParseJson(text(4));
    if (!parsed || !parsed->is_object()) {
      ASB_LOG(ERROR, "store: skipping unreadable object", "resource", key.resource, "namespace",
              key.ns, "name", key.name);
      continue;
    }
    rev = std::max(rev, obj_rev);
    IndexPut(key, std::make_shared<const Json>(std::move(*parsed)), nullptr);
    ++count;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return MakeError(Code::kInternal, std::string("sqlite load: ") + sqlite3_errmsg(db_));
  revision_.store(rev);
  log_floor_ = rev;
  ASB_LOG(INFO, "store opened", "dir", state_dir_, "objects", count, "revision", rev);
  return OkStatus();
}

SqliteStore::~SqliteStore() {
  StopGc();
  {
    std::unique_lock state(state_mu_);
    for (auto& [res, chans] : watchers_)
      for (auto& ch : chans) ch->Close();
    watchers_.clear();
  }
  for (sqlite3_stmt* st :
       {stmt_begin_, stmt_commit_, stmt_rollback_, stmt_put_, stmt_delete_, stmt_set_rev_})
    if (st) sqlite3_finalize(st);
  if (db_) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

// ---------------------------------------------------------------------------------------------
// Index

SqliteStore::ObjPtr SqliteStore::FindLocked(const Key& key) const {
  auto t = tables_.find(key.resource);
  if (t == tables_.end()) return nullptr;
  auto it = t->second.find({key.ns, key.name});
  return it == t->second.end() ? nullptr : it->second;
}

void SqliteStore::IndexPut(const Key& key, ObjPtr obj, const ObjPtr& prev) {
  if (prev) {
    for (const std::string& uid : OwnerUids(*prev)) {
      auto it = dependents_.find(uid);
      if (it != dependents_.end()) {
        it->second.erase(key);
        if (it->second.empty()) dependents_.erase(it);
      }
    }
  }
  for (const std::string& uid : OwnerUids(*obj)) dependents_[uid].insert(key);
  std::string uid = MetaString(*obj, "uid");
  if (!uid.empty()) by_uid_[uid] = key;
  tables_[key.resource][{key.ns, key.name}] = std::move(obj);
}

void SqliteStore::IndexErase(const Key& key, const ObjPtr& prev) {
  for (const std::string& uid : OwnerUids(*prev)) {
    auto it = dependents_.find(uid);
    if (it != dependents_.end()) {
      it->second.erase(key);
      if (it->second.empty()) dependents_.erase(it);
    }
  }
  by_uid_.erase(MetaString(*prev, "uid"));
  auto t = tables_.find(key.resource);
  if (t != tables_.end()) t->second.erase({key.ns, key.name});
}

void SqliteStore::Publish(LogEntry entry) {
  auto wit = watchers_.find(entry.resource);
  if (wit != watchers_.end()) {
    auto& chans = wit->second;
    chans.erase(std::remove_if(chans.begin(), chans.end(),
                               [&](const std::shared_ptr<internal::WatchChannel>& ch) {
                                 return !ch->Offer(entry.type, entry.object.get(), entry.prev.get(),
                                                   entry.revision);
                               }),
                chans.end());
  }
  log_.push_back(std::move(entry));
  while (log_.size() > options_.watch_log_capacity) {
    log_floor_ = log_.front().revision;
    log_.pop_front();
  }
}

// ---------------------------------------------------------------------------------------------
// Write path

Result<SqliteStore::ObjPtr> SqliteStore::WriteLocked(const api::ResourceInfo& res, const Key& key,
                                                     std::shared_ptr<Json> obj, ObjPtr prev) {
  (void)res;
  const bool remove = obj == nullptr;
  int64_t rev = revision_.load(std::memory_order_relaxed) + 1;
  std::shared_ptr<Json> published = obj;
  if (remove) {
    // The DELETED event and Delete's return value carry the last state at the deletion revision.
    published = std::make_shared<Json>(*prev);
  }
  (*published)["metadata"]["resourceVersion"] = std::to_string(rev);

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
  if (!step(stmt_begin_)) return fail("begin");
  if (remove) {
    sqlite3_bind_text(stmt_delete_, 1, key.resource.data(), static_cast<int>(key.resource.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt_delete_, 2, key.ns.data(), static_cast<int>(key.ns.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt_delete_, 3, key.name.data(), static_cast<int>(key.name.size()),
                      SQLITE_STATIC);
    bool ok = step(stmt_delete_);
    sqlite3_clear_bindings(stmt_delete_);
    if (!ok) return fail("delete");
  } else {
    std::string text = DumpJson(*published);
    sqlite3_bind_text(stmt_put_, 1, key.resource.data(), static_cast<int>(key.resource.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt_put_, 2, key.ns.data(), static_cast<int>(key.ns.size()), SQLITE_STATIC);
    sqlite3_bind_text(stmt_put_, 3, key.name.data(), static_cast<int>(key.name.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt_put_, 4, rev);
    sqlite3_bind_text(stmt_put_, 5, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    bool ok = step(stmt_put_);
    sqlite3_clear_bindings(stmt_put_);
    if (!ok) return fail("put");
  }
  sqlite3_bind_int64(stmt_set_rev_, 1, rev);
  bool ok = step(stmt_set_rev_);
  sqlite3_clear_bindings(stmt_set_rev_);
  if (!ok) return fail("set revision");
  if (!step(stmt_commit_)) return fail("commit");

  ObjPtr result = published;
  {
    std::unique_lock state(state_mu_);
    if (remove) {
      IndexErase(key, prev);
    } else {
      IndexPut(key, result, prev);
    }
    revision_.store(rev, std::memory_order_release);
    EventType type = remove ? EventType::kDeleted : prev ? EventType::kModified : EventType::kAdded;
    Publish(LogEntry{rev, key.resource, type, result, prev});
  }
  if (options_.gc) NoteWriteForGc(key, remove ? nullptr : result, remove ? result : prev);
  return result;
}

Result<Object> SqliteStore::Create(const api::ResourceInfo& res, Object obj) {
  std::lock_guard w(writer_mu_);
  return CreateLocked(res, std::move(obj));
}

Result<Object> SqliteStore::CreateLocked(const api::ResourceInfo& res, Object obj) {
  ASB_RETURN_IF_ERROR(CheckObject(res, obj));
  Json& meta = obj["metadata"];
  if (meta.is_null()) meta = Json::object();
  if (!MetaString(obj, "resourceVersion").empty())
    return MakeError(Code::kInvalidArgument,
                     "resourceVersion should not be set on objects to be created");
  std::string ns;
  if (res.namespaced) {
    ns = MetaString(obj, "namespace");
    if (ns.empty())
      return MakeError(Code::kInvalidArgument,
                       QualifiedKind(res) + " is invalid: metadata.namespace: Required value");
    ObjPtr nso = FindLocked({api::NamespaceResource().GroupResource(), "", ns});
    if (!nso) return MakeError(Code::kNotFound, "namespaces " + Quote(ns) + " not found");
    if (IsDeleting(*nso))
      return MakeError(Code::kFailedPrecondition, "unable to create new content in namespace " +
                                                      ns + " because it is being terminated");
  } else {
    meta.erase("namespace");
  }
  std::string name = MetaString(obj, "name");
  const std::string resource = res.GroupResource();
  if (name.empty()) {
    std::string prefix = MetaString(obj, "generateName");
    if (prefix.empty())
      return MakeError(Code::kInvalidArgument,
                       QualifiedKind(res) +
                           " is invalid: metadata.name: Required value: name or generateName is "
                           "required");
    if (prefix.size() > 58) prefix.resize(58);  // leave room for the suffix (Kubernetes' rule)
    for (int attempt = 0; attempt < 16; ++attempt) {
      std::string candidate = prefix + RandomSuffix();
      if (!FindLocked({resource, ns, candidate})) {
        name = std::move(candidate);
        break;
      }
    }
    if (name.empty())
      return MakeError(Code::kAlreadyExists, res.GroupResource() + " with generateName " +
                                                 Quote(prefix) + " could not find a free name");
    meta["name"] = name;
  }
  ASB_RETURN_IF_ERROR(ValidateName(res, name));
  Key key{resource, ns, name};
  if (FindLocked(key))
    return MakeError(Code::kAlreadyExists,
                     res.GroupResource() + " " + Quote(name) + " already exists");

  obj["apiVersion"] = res.ApiVersion();
  obj["kind"] = res.kind;
  meta["uid"] = NewUuid();
  meta["creationTimestamp"] = FormatRfc3339(clock_->Now());
  meta["generation"] = 1;
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  if (res.has_status) {
    // Status is owned by the status subresource: a create can't set it (Kubernetes drops it),
    // except for the initial phase the built-in kinds start in.
    obj.erase("status");
    if (IsNamespaceResource(res)) obj["status"] = {{"phase", "Active"}};
    if (res.group.empty() && res.plural == "pods") obj["status"] = {{"phase", "Pending"}};
  }
  ASB_ASSIGN_OR_RETURN(ObjPtr written,
                       WriteLocked(res, key, std::make_shared<Json>(std::move(obj)), nullptr));
  return *written;
}

Result<Object> SqliteStore::Update(const api::ResourceInfo& res, Object obj,
                                   const UpdateOptions& options) {
  std::lock_guard w(writer_mu_);
  return UpdateLocked(res, std::move(obj), options);
}

Result<Object> SqliteStore::UpdateLocked(const api::ResourceInfo& res, Object obj,
                                         const UpdateOptions& options) {
  ASB_RETURN_IF_ERROR(CheckObject(res, obj));
  std::string name = MetaString(obj, "name");
  if (name.empty())
    return MakeError(Code::kInvalidArgument,
                     QualifiedKind(res) + " is invalid: metadata.name: Required value");
  std::string ns = res.namespaced ? MetaString(obj, "namespace") : "";
  if (res.namespaced && ns.empty())
    return MakeError(Code::kInvalidArgument,
                     QualifiedKind(res) + " is invalid: metadata.namespace: Required value");
  Key key{res.GroupResource(), ns, name};
  ObjPtr old = FindLocked(key);
  if (!old) return MakeError(Code::kNotFound, NotFoundMessage(res, name));
  const std::string old_rv = MetaString(*old, "resourceVersion");
  const std::string rv = MetaString(obj, "resourceVersion");
  if (!rv.empty() && rv != old_rv)
    return MakeError(Code::kAborted, "Operation cannot be fulfilled on " + res.GroupResource() +
                                         " " + Quote(name) +
                                         ": the object has been modified; please apply your "
                                         "changes to the latest version and try again");
  const std::string old_uid = MetaString(*old, "uid");
  const std::string uid = MetaString(obj, "uid");
  if (!uid.empty() && uid != old_uid)
    return MakeError(Code::kAborted, "Operation cannot be fulfilled on " + res.GroupResource() +
                                         " " + Quote(name) +
                                         ": Precondition failed: UID in "
                                         "precondition: " +
                                         uid + ", UID in object meta: " + old_uid);

  auto next = std::make_shared<Json>();
  if (options.status_only) {
    if (!res.has_status)
      return MakeError(Code::kNotFound, res.GroupResource() + " has no status subresource");
    *next = *old;
    auto st = obj.find("status");
    if (st == obj.end() || st->is_null()) {
      next->erase("status");
    } else {
      (*next)["status"] = std::move(*st);
    }
  } else {
    *next = std::move(obj);
    if (res.has_status) {
      auto st = old->find("status");
      if (st == old->end()) {
        next->erase("status");
      } else {
        (*next)["status"] = *st;
      }
    }
    (*next)["apiVersion"] = res.ApiVersion();
    (*next)["kind"] = res.kind;
    Json& meta = (*next)["metadata"];
    if (!res.namespaced) meta.erase("namespace");
    // Fields only the store sets: carried over from the stored object.
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"}) {
      const Json* v = MetaField(*old, f);
      if (v) {
        meta[f] = *v;
      } else {
        meta.erase(f);
      }
    }
    if (IsDeleting(*old)) {
      std::vector<std::string> before = Finalizers(*old);
      for (const std::string& f : Finalizers(*next))
        if (std::find(before.begin(), before.end(), f) == before.end())
          return MakeError(Code::kInvalidArgument,
                           QualifiedKind(res) + " " + Quote(name) +
                               " is invalid: metadata.finalizers: Forbidden: no new finalizers "
                               "can be added if the object is being deleted");
    }
    if (!SpecEqual(*next, *old)) {
      const Json* g = MetaField(*old, "generation");
      int64_t gen = g && g->is_number_integer() ? g->get<int64_t>() : 0;
      meta["generation"] = gen + 1;
    }
  }
  (*next)["metadata"]["resourceVersion"] = old_rv;
  // A no-op update neither bumps the revision nor wakes watchers (as in Kubernetes), so
  // controllers that write the same status every reconcile don't cause event storms.
  if (*next == *old) return *old;
  const bool remove = IsDeleting(*next) && Finalizers(*next).empty();
  if (remove) {
    auto last = std::make_shared<const Json>(std::move(*next));
    ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(res, key, nullptr, last));
    (void)written;
    // The deletion event carries `last` (at the deletion revision); rebuild it for the caller.
    Json out = *last;
    out["metadata"]["resourceVersion"] = std::to_string(revision_.load());
    return out;
  }
  ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(res, key, next, old));
  return *written;
}

Result<Object> SqliteStore::Delete(const api::ResourceInfo& res, const std::string& ns,
                                   const std::string& name, const DeleteOptions& options) {
  std::lock_guard w(writer_mu_);
  return DeleteLocked(res, ns, name, options);
}

Result<Object> SqliteStore::DeleteLocked(const api::ResourceInfo& res, const std::string& ns_in,
                                         const std::string& name, const DeleteOptions& options) {
  const std::string ns = res.namespaced ? ns_in : "";
  Key key{res.GroupResource(), ns, name};
  ObjPtr old = FindLocked(key);
  if (!old) return MakeError(Code::kNotFound, NotFoundMessage(res, name));
  const std::string uid = MetaString(*old, "uid");
  if (options.precondition_uid && *options.precondition_uid != uid)
    return MakeError(Code::kAborted,
                     "Operation cannot be fulfilled on " + res.GroupResource() + " " + Quote(name) +
                         ": Precondition failed: UID in "
                         "precondition: " +
                         *options.precondition_uid + ", UID in object meta: " + uid);
  if (options.precondition_resource_version &&
      *options.precondition_resource_version != MetaString(*old, "resourceVersion"))
    return MakeError(
        Code::kAborted,
        "Operation cannot be fulfilled on " + res.GroupResource() + " " + Quote(name) +
            ": Precondition failed: ResourceVersion in precondition: " +
            *options.precondition_resource_version +
            ", ResourceVersion in object meta: " + MetaString(*old, "resourceVersion"));
  if (IsNamespaceResource(res) &&
      (name == "default" || name == "kube-system" || name == "kube-public"))
    return MakeError(
        Code::kPermissionDenied,
        "namespaces " + Quote(name) + " is forbidden: this namespace may not be deleted");
  if (IsDeleting(*old)) return *old;

  if (options.propagation == Propagation::kOrphan) {
    // Orphaning happens here, before the owner goes, so no crash can leave dependents pointing at
    // a vanished owner (which the collector would then delete).
    std::vector<Key> deps;
    if (auto it = dependents_.find(uid); it != dependents_.end())
      deps.assign(it->second.begin(), it->second.end());
    for (const Key& dk : deps) {
      ObjPtr dep = FindLocked(dk);
      if (!dep) continue;
      auto next = std::make_shared<Json>(*dep);
      Json& refs = (*next)["metadata"]["ownerReferences"];
      Json kept = Json::array();
      for (const Json& r : refs)
        if (!(r.is_object() && r.contains("uid") && r["uid"] == uid)) kept.push_back(r);
      if (kept.empty()) {
        (*next)["metadata"].erase("ownerReferences");
      } else {
        refs = std::move(kept);
      }
      const api::ResourceInfo* dres = ResourceFor(dk.resource);
      ASB_RETURN_IF_ERROR(WriteLocked(dres ? *dres : res, dk, next, dep));
    }
  }

  auto next = std::make_shared<Json>(*old);
  Json& meta = (*next)["metadata"];
  if (options.propagation == Propagation::kForeground &&
      !HasFinalizer(*old, kForegroundFinalizer)) {
    if (!meta["finalizers"].is_array()) meta["finalizers"] = Json::array();
    meta["finalizers"].push_back(kForegroundFinalizer);
  }
  const bool graceful = IsNamespaceResource(res) || !Finalizers(*next).empty();
  if (!graceful) {
    ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(res, key, nullptr, old));
    (void)written;
    Json out = *old;
    out["metadata"]["resourceVersion"] = std::to_string(revision_.load());
    return out;
  }
  meta["deletionTimestamp"] = FormatRfc3339(clock_->Now());
  meta["deletionGracePeriodSeconds"] = 0;
  const Json* g = MetaField(*old, "generation");
  meta["generation"] = (g && g->is_number_integer() ? g->get<int64_t>() : 0) + 1;
  if (IsNamespaceResource(res)) (*next)["status"]["phase"] = "Terminating";
  ASB_ASSIGN_OR_RETURN(ObjPtr written, WriteLocked(res, key, next, old));
  return *written;
}

// ---------------------------------------------------------------------------------------------
// Reads

Result<Object> SqliteStore::Get(const api::ResourceInfo& res, const std::string& ns,
                                const std::string& name) {
  std::shared_lock state(state_mu_);
  ObjPtr obj = FindLocked({res.GroupResource(), res.namespaced ? ns : "", name});
  if (!obj) return MakeError(Code::kNotFound, NotFoundMessage(res, name));
  return *obj;
}

Result<ListResult> SqliteStore::List(const api::ResourceInfo& res, const std::string& ns_in,
                                     const ListOptions& options) {
  ASB_ASSIGN_OR_RETURN(LabelSelector labels, ParseLabelSelector(options.label_selector));
  ASB_ASSIGN_OR_RETURN(FieldSelector fields, ParseFieldSelector(res, options.field_selector));
  if (options.limit < 0) return MakeError(Code::kInvalidArgument, "limit must be >= 0");
  std::pair<std::string, std::string> start;
  bool has_start = false;
  if (!options.continue_token.empty()) {
    ASB_ASSIGN_OR_RETURN(start, DecodeContinue(options.continue_token));
    has_start = true;
  }
  const std::string ns = res.namespaced ? ns_in : "";
  ListResult out;
  std::shared_lock state(state_mu_);
  out.resource_version = revision_.load(std::memory_order_acquire);
  auto t = tables_.find(res.GroupResource());
  if (t == tables_.end()) return out;
  const auto& table = t->second;
  auto it = has_start ? table.upper_bound(start) : table.lower_bound({ns, ""});
  if (has_start && !ns.empty() && start.first != ns) it = table.lower_bound({ns, ""});
  for (; it != table.end(); ++it) {
    if (!ns.empty() && it->first.first != ns) break;
    const Json& obj = *it->second;
    if (!labels.MatchesObject(obj) || !fields.Matches(obj)) continue;
    if (options.limit > 0 && static_cast<int64_t>(out.items.size()) == options.limit) {
      const auto& last = out.items.back();
      out.continue_token = EncodeContinue(res.namespaced ? MetaString(last, "namespace") : "",
                                          MetaString(last, "name"));
      break;
    }
    out.items.push_back(obj);
  }
  return out;
}

Result<std::unique_ptr<Watcher>> SqliteStore::Watch(const api::ResourceInfo& res,
                                                    const std::string& ns_in,
                                                    const WatchOptions& options) {
  ASB_ASSIGN_OR_RETURN(LabelSelector labels, ParseLabelSelector(options.label_selector));
  ASB_ASSIGN_OR_RETURN(FieldSelector fields, ParseFieldSelector(res, options.field_selector));
  if (options.resource_version < 0)
    return MakeError(Code::kInvalidArgument, "resourceVersion must be >= 0");
  const std::string ns = res.namespaced ? ns_in : "";
  const std::string resource = res.GroupResource();
  auto ch = std::make_shared<internal::WatchChannel>(ns, std::move(labels), std::move(fields),
                                                     options_.watcher_buffer);
  // Exclusive: no write can publish between the snapshot/replay below and registration.
  std::unique_lock state(state_mu_);
  if (options.resource_version == 0) {
    if (options.send_initial_events) {
      auto t = tables_.find(resource);
      if (t != tables_.end()) {
        for (auto it = ns.empty() ? t->second.begin() : t->second.lower_bound({ns, ""});
             it != t->second.end(); ++it) {
          if (!ns.empty() && it->first.first != ns) break;
          if (!ch->Wants(*it->second)) continue;
          auto rv = ParseInt(MetaString(*it->second, "resourceVersion"));
          ch->PushInitial(WatchEvent{EventType::kAdded, *it->second, rv.value_or(0)});
        }
      }
    }
  } else {
    int64_t from = options.resource_version;
    if (from < log_floor_)
      return MakeError(Code::kGone, "too old resource version: " + std::to_string(from) + " (" +
                                        std::to_string(log_floor_ + 1) + ")");
    auto it = std::upper_bound(log_.begin(), log_.end(), from,
                               [](int64_t r, const LogEntry& e) { return r < e.revision; });
    // Replayed events are queued like initial ones: they don't count against the live budget.
    for (; it != log_.end(); ++it) {
      if (it->resource != resource) continue;
      auto ev = ch->Translate(it->type, it->object.get(), it->prev.get(), it->revision);
      if (ev) ch->PushInitial(std::move(*ev));
    }
  }
  watchers_[resource].push_back(ch);
  return std::unique_ptr<Watcher>(new ChannelWatcher(ch));
}

const api::ResourceInfo* SqliteStore::ResourceFor(const std::string& resource) {
  for (const auto& r : api::AllResources())
    if (r.GroupResource() == resource) return &r;
  return nullptr;
}

}  // namespace asb::store
