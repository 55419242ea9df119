// Watch streams: chunked transfer encoding, one JSON event per line, as client-go expects.
// The store watcher is registered before the response starts, so nothing committed after the
// request arrived can be missed. A too-old resourceVersion (or a watcher that fell behind) ends
// the stream with an ERROR event carrying a 410 Expired Status, exactly like kube-apiserver; the
// client then re-lists.
#include <memory>

#include "apiserver/internal.h"
#include "apiserver/k8s_status.h"
#include "base/log.h"
#include "base/strings.h"

namespace asb::apiserver::internal {

namespace {

// {"object":O,"type":T} (the bytes DumpJson gives the wrapper document: keys sorted) without
// copying the object into a wrapper first: every event of every stream goes through here.
std::string EventLine(const char* type, const Json& object) {
  std::string line = "{\"object\":";
  line += DumpJson(object);
  line += ",\"type\":";
  line += DumpJson(Json(type));
  line += "}\n";
  return line;
}

Json ExpiredStatus(const std::string& message) { return StatusJson(Error{Code::kGone, message}); }

}  // namespace

http::Response ServeWatch(Ctx& ctx) {
  const api::ResourceInfo& res = *ctx.target.res;
  store::WatchOptions opts;
  opts.label_selector = ctx.req.Query("labelSelector").value_or("");
  opts.field_selector = ctx.req.Query("fieldSelector").value_or("");
  std::string rv = ctx.req.Query("resourceVersion").value_or("");
  if (!rv.empty()) {
    auto n = ParseInt(rv);
    if (!n || *n < 0)
      return StatusResponse(
          Error{Code::kInvalidArgument, "invalid resourceVersion: \"" + rv + "\""});
    opts.resource_version = *n;
  }
  auto bookmarks = QueryBool(ctx.req, "allowWatchBookmarks");
  if (!bookmarks) return StatusResponse(bookmarks.error());
  auto send_initial = QueryBool(ctx.req, "sendInitialEvents");
  if (!send_initial) return StatusResponse(send_initial.error());
  if (ctx.req.Query("sendInitialEvents") && !*send_initial) opts.send_initial_events = false;
  std::chrono::seconds timeout = ctx.options.max_watch_duration;
  if (auto t = ctx.req.Query("timeoutSeconds"); t && !t->empty()) {
    auto n = ParseInt(*t);
    if (!n || *n < 0)
      return StatusResponse(
          Error{Code::kInvalidArgument, "invalid timeoutSeconds: \"" + *t + "\""});
    if (*n > 0) timeout = std::min(timeout, std::chrono::seconds(*n));
  }

  http::Response resp;
  resp.status = 200;
  resp.headers.Set("Content-Type", "application/json");
  resp.headers.Set("Cache-Control", "no-cache, private");

  // Read before registering: every event the watcher delivers is newer than this.
  int64_t start_rv = opts.resource_version ? opts.resource_version : ctx.store.CurrentRevision();
  auto watched = ctx.store.Watch(res, ctx.target.ns, opts);
  if (!watched) {
    if (watched.error().code != Code::kGone)
      return StatusResponse(ObjectError(watched.error(), ctx.target.res, ""));
    // kube-apiserver answers 200 and an ERROR event, then ends the stream.
    std::string line = EventLine("ERROR", ExpiredStatus(watched.error().message));
    resp.stream = [line](http::ResponseStream& out) { out.Write(line); };
    return resp;
  }
  std::shared_ptr<store::Watcher> watcher = std::move(*watched);
  bool table = WantsTable(ctx.req);
  std::string include_object = ctx.req.Query("includeObject").value_or("Metadata");
  bool want_bookmarks = *bookmarks;
  const std::atomic<bool>* shutting_down = &ctx.shutting_down;
  Clock* clock = &ctx.clock;
  auto poll = ctx.options.watch_poll;
  auto bookmark_interval = ctx.options.bookmark_interval;
  const api::ResourceInfo* resp_res = &res;

  resp.stream = [=](http::ResponseStream& out) {
    using std::chrono::steady_clock;
    auto deadline = steady_clock::now() + timeout;
    auto next_bookmark = steady_clock::now() + bookmark_interval;
    int64_t last_rv = start_rv;
    bool first_table = true;
    while (!shutting_down->load()) {
      auto now = steady_clock::now();
      if (now >= deadline) break;
      auto wait = std::min<std::chrono::milliseconds>(
          poll, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                    std::chrono::milliseconds(1));
      auto next = watcher->Next(wait);
      if (!next) {
        if (next.error().code == Code::kGone)
          out.Write(EventLine("ERROR", ExpiredStatus(next.error().message)));
        break;
      }
      if (!*next) {
        if (out.ClientGone()) break;
        if (want_bookmarks && steady_clock::now() >= next_bookmark && last_rv > 0) {
          next_bookmark = steady_clock::now() + bookmark_interval;
          Json obj = {{"kind", resp_res->kind},
                      {"apiVersion", resp_res->ApiVersion()},
                      {"metadata", {{"resourceVersion", std::to_string(last_rv)}}}};
          if (!out.Write(EventLine("BOOKMARK", obj))) break;
        }
        continue;
      }
      store::WatchEvent& ev = **next;
      if (ev.resource_version > 0) last_rv = std::max(last_rv, ev.resource_version);
      std::string type(store::EventTypeName(ev.type));
      if (ev.type == store::EventType::kBookmark) {
        if (!want_bookmarks) continue;
        if (!out.Write(EventLine("BOOKMARK", ev.object))) break;
        continue;
      }
      Json obj = table ? MakeTable(*resp_res, {ev.object},
                                   GetString(ev.object, "metadata.resourceVersion"), clock->Now(),
                                   first_table, include_object)
                       : std::move(ev.object);
      first_table = false;
      if (!out.Write(EventLine(type.c_str(), obj))) break;
    }
    watcher->Stop();
  };
  return resp;
}

}  // namespace asb::apiserver::internal
