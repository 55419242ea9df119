// RestStore::Watch: a store::Watcher over kube-apiserver's watch protocol. A thread per watcher
// reads the chunked stream (one JSON event a line) into a bounded queue that Next drains; when
// the server ends the stream (its timeout, a restart, a dropped connection) the thread re-opens
// it from the last revision it saw, as client-go's reflector does, so the consumer sees one
// unbroken stream until the server says 410 Gone.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "client/api_client.h"
#include "kube/rest_store.h"

namespace asb::kube {

namespace {

constexpr size_t kMaxLineBytes = size_t{64} << 20;  // one event; larger is a broken stream

Result<store::EventType> ParseType(const std::string& t) {
  if (t == "ADDED") return store::EventType::kAdded;
  if (t == "MODIFIED") return store::EventType::kModified;
  if (t == "DELETED") return store::EventType::kDeleted;
  if (t == "BOOKMARK") return store::EventType::kBookmark;
  return MakeError(Code::kInternal, "unknown watch event type \"" + t + "\"");
}

class RestWatcher : public store::Watcher {
 public:
  RestWatcher(Transport& transport, std::string target, int64_t rv, size_t buffer,
              std::chrono::milliseconds idle)
      : transport_(transport), target_(std::move(target)), rv_(rv), buffer_(buffer), idle_(idle) {}
  ~RestWatcher() override {
    Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Push(store::WatchEvent ev) {
    std::lock_guard l(mu_);
    queue_.push_back(std::move(ev));
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  Result<std::optional<store::WatchEvent>> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock l(mu_);
    cv_.wait_for(l, timeout, [&] { return !queue_.empty() || stopped_ || end_; });
    if (!queue_.empty()) {
      store::WatchEvent ev = std::move(queue_.front());
      queue_.pop_front();
      return std::optional<store::WatchEvent>(std::move(ev));
    }
    if (stopped_) return MakeError(Code::kAborted, "watch stopped");
    if (end_) return tl::unexpected(*end_);
    return std::optional<store::WatchEvent>();
  }

  void Stop() override {
    std::lock_guard l(mu_);
    stopped_ = true;
    if (stream_) stream_->Cancel();
    cv_.notify_all();
  }

 private:
  void End(Error e) {
    std::lock_guard l(mu_);
    if (!end_) end_ = std::move(e);
    cv_.notify_all();
  }
  bool Stopped() {
    std::lock_guard l(mu_);
    return stopped_ || end_.has_value();
  }
  // Queues one event line. False ends this stream (re-open); a terminal error calls End.
  bool HandleLine(std::string_view line) {
    auto doc = ParseJson(line);
    if (!doc || !doc->is_object()) {
      ASB_LOG(WARN, "watch: unparsable event, re-opening", "target", target_);
      return false;
    }
    std::string type = GetString(*doc, "type");
    Json obj = doc->contains("object") ? std::move((*doc)["object"]) : Json::object();
    if (type == "ERROR") {
      int code = static_cast<int>(obj.value("code", 0));
      if (code == 410) {
        End(Error{Code::kGone, "watch: " + GetString(obj, "message", "resource version expired"),
                  0});
        return false;
      }
      ASB_LOG(WARN, "watch: server error event, re-opening", "target", target_, "message",
              GetString(obj, "message"));
      return false;
    }
    auto t = ParseType(type);
    if (!t) {
      ASB_LOG(WARN, "watch: unknown event, re-opening", "target", target_, "type", type);
      return false;
    }
    store::WatchEvent ev;
    ev.type = *t;
    if (auto rv = ParseInt(GetString(obj, "metadata.resourceVersion"))) ev.resource_version = *rv;
    ev.object = std::move(obj);
    if (ev.resource_version > 0) rv_ = std::max(rv_, ev.resource_version);
    std::lock_guard l(mu_);
    if (queue_.size() >= buffer_) {
      if (!end_) end_ = Error{Code::kGone, "watch: the consumer fell behind; re-list", 0};
      cv_.notify_all();
      return false;
    }
    queue_.push_back(std::move(ev));
    cv_.notify_all();
    return true;
  }

  void Run() {
    int failures = 0;
    while (!Stopped()) {
      std::string target =
          target_ + (target_.find('?') == std::string::npos ? "?" : "&") +
          "watch=1&allowWatchBookmarks=true&resourceVersion=" + std::to_string(rv_);
      auto opened = transport_.OpenStream(target, idle_);
      if (!opened) {
        // Unreachable server: keep trying (bounded pace); the stream resumes from rv_.
        ++failures;
        ASB_LOG(WARN, "watch: cannot reach the API server", "target", target_, "error",
                opened.error().message);
        std::unique_lock l(mu_);
        cv_.wait_for(l, std::chrono::milliseconds(200 * std::min(failures, 25)),
                     [&] { return stopped_; });
        continue;
      }
      std::unique_ptr<Transport::Stream> stream = std::move(*opened);
      int status = stream->status();
      if (status != 200) {
        std::string body;
        while (body.size() < (1 << 20)) {
          auto more = stream->Read(&body);
          if (!more || !*more) break;
        }
        Error e = client::ErrorFromResponse(status, body);
        if (status == 410) e.code = Code::kGone;
        End(e.Wrap("watch " + target_));
        return;
      }
      {
        std::lock_guard l(mu_);
        if (stopped_) return;
        stream_ = stream.get();
      }
      failures = 0;
      std::string pending;
      bool keep = true;
      while (keep) {
        auto more = stream->Read(&pending);
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          std::string_view line(pending.data() + start, nl - start);
          if (!Trim(line).empty() && !HandleLine(line)) {
            keep = false;
            break;
          }
        }
        pending.erase(0, start);
        if (!more || !*more || pending.size() > kMaxLineBytes) break;
      }
      std::lock_guard l(mu_);
      stream_ = nullptr;
    }
  }

  Transport& transport_;
  const std::string target_;
  int64_t rv_;  // the newest revision seen: where a re-opened stream resumes
  const size_t buffer_;
  const std::chrono::milliseconds idle_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::WatchEvent> queue_;
  bool stopped_ = false;
  std::optional<Error> end_;
  Transport::Stream* stream_ = nullptr;  // the open stream, for Stop to cancel
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<store::Watcher>> RestStore::LiveWatch(const api::ResourceInfo& res,
                                                             const std::string& ns,
                                                             const store::WatchOptions& options) {
  std::string target = Path(res, ns);
  std::string q;
  if (!options.label_selector.empty()) q += "labelSelector=" + UrlEncode(options.label_selector);
  if (!options.field_selector.empty())
    q += std::string(q.empty() ? "" : "&") + "fieldSelector=" + UrlEncode(options.field_selector);
  if (!q.empty()) target += "?" + q;
  int64_t rv = options.resource_version;
  std::vector<store::Object> initial;
  if (rv == 0) {
    // List then watch from the list's revision (an informer's list+watch): the initial state as
    // ADDED events, then every change after it. Without initial events, a one-item list gives
    // the revision to start at.
    store::ListOptions lo;
    lo.label_selector = options.label_selector;
    lo.field_selector = options.field_selector;
    if (!options.send_initial_events) lo.limit = 1;
    ASB_ASSIGN_OR_RETURN(store::ListResult listed, options.send_initial_events
                                                       ? LiveList(res, ns, lo)
                                                       : ListPage(res, ns, lo));
    rv = listed.resource_version;
    if (options.send_initial_events) initial = std::move(listed.items);
  }
  auto w = std::make_unique<RestWatcher>(*transport_, target, rv, options_.watch_buffer,
                                         options_.watch_idle);
  for (store::Object& obj : initial) {
    store::WatchEvent ev;
    ev.type = store::EventType::kAdded;
    if (auto r = ParseInt(GetString(obj, "metadata.resourceVersion"))) ev.resource_version = *r;
    ev.object = std::move(obj);
    w->Push(std::move(ev));
  }
  w->Start();
  return std::unique_ptr<store::Watcher>(std::move(w));
}

}  // namespace asb::kube
