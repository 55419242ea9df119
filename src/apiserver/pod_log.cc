// pods/log: kubectl logs [-f] [--tail N] [--since D|--since-time T] [--timestamps] [--previous]
// [--limit-bytes N] [-c C], served from the files PodStreams names (see pod_subresources.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "apiserver/k8s_status.h"
#include "apiserver/pod_subresources.h"
#include "base/clock.h"
#include "base/strings.h"

namespace asb::apiserver::internal {

namespace {

constexpr size_t kMaxRead = 64u << 20;  // a log file larger than this is read from its tail
constexpr auto kFollowPoll = std::chrono::milliseconds(100);

struct LogOptions {
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> limit_bytes;
  std::optional<SystemTime> since;
};

Result<std::optional<int64_t>> QueryInt(const http::Request& req, const char* name, int64_t min) {
  auto v = req.Query(name);
  if (!v || v->empty()) return std::optional<int64_t>();
  auto n = ParseInt(*v);
  if (!n || *n < min)
    return MakeError(Code::kInvalidArgument,
                     std::string("invalid value for ") + name + ": \"" + *v +
                         "\" (want an integer >= " + std::to_string(min) + ")");
  return std::optional<int64_t>(*n);
}

Result<LogOptions> ParseLogOptions(const http::Request& req, SystemTime now) {
  LogOptions o;
  for (auto [name, field] : {std::pair{"follow", &o.follow}, std::pair{"previous", &o.previous},
                             std::pair{"timestamps", &o.timestamps}}) {
    auto b = QueryBool(req, name);
    if (!b) return tl::unexpected(b.error());
    *field = *b;
  }
  auto tail = QueryInt(req, "tailLines", 0);
  if (!tail) return tl::unexpected(tail.error());
  o.tail_lines = *tail;
  auto limit = QueryInt(req, "limitBytes", 1);
  if (!limit) return tl::unexpected(limit.error());
  o.limit_bytes = *limit;
  auto since_seconds = QueryInt(req, "sinceSeconds", 1);
  if (!since_seconds) return tl::unexpected(since_seconds.error());
  auto since_time = req.Query("sinceTime");
  if (*since_seconds && since_time)
    return MakeError(Code::kInvalidArgument,
                     "at most one of sinceTime or sinceSeconds may be specified");
  if (*since_seconds) o.since = now - std::chrono::seconds(**since_seconds);
  if (since_time) {
    o.since = ParseRfc3339(*since_time);
    if (!o.since)
      return MakeError(Code::kInvalidArgument,
                       "invalid sinceTime \"" + *since_time + "\" (want RFC 3339)");
  }
  return o;
}

// One line of a log file: its timestamp (if the file has them) and the text after it.
struct LogLine {
  std::optional<SystemTime> time;
  std::string_view stamp;  // the timestamp as written
  std::string_view text;   // with its trailing newline
  bool partial = false;    // CRI "P": the line continues in the next record
};

LogLine SplitLine(std::string_view line) {
  LogLine l{std::nullopt, {}, line};
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp < 20 || sp > 40 || line[4] != '-' || line[10] != 'T')
    return l;
  auto t = ParseRfc3339(std::string(line.substr(0, sp)));
  if (!t) return l;
  l.time = t;
  l.stamp = line.substr(0, sp);
  l.text = line.substr(sp + 1);
  // CRI format: "<time> stdout F <text>" (F full line, P partial).
  for (std::string_view tag : {"stdout F ", "stderr F ", "stdout P ", "stderr P "}) {
    if (StartsWith(l.text, tag)) {
      l.partial = tag[7] == 'P';
      l.text.remove_prefix(tag.size());
      if (l.partial && !l.text.empty() && l.text.back() == '\n') l.text.remove_suffix(1);
      break;
    }
  }
  return l;
}

// Formats complete lines of `data` (lines up to the last '\n') per the options; the rest (a
// partial line) is left in `data` for the next call.
std::string FormatLines(std::string& data, const LogOptions& o, bool apply_tail) {
  size_t end = data.rfind('\n');
  if (end == std::string::npos) return "";
  std::string_view whole(data.data(), end + 1);
  std::vector<LogLine> lines;
  size_t pos = 0;
  while (pos < whole.size()) {
    size_t nl = whole.find('\n', pos);
    LogLine l = SplitLine(whole.substr(pos, nl + 1 - pos));
    pos = nl + 1;
    if (o.since && l.time && *l.time < *o.since) continue;
    lines.push_back(l);
  }
  size_t first = 0;
  if (apply_tail && o.tail_lines && lines.size() > static_cast<size_t>(*o.tail_lines))
    first = lines.size() - static_cast<size_t>(*o.tail_lines);
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) {
    if (o.timestamps) {
      // Kubernetes prints RFC 3339 with nanoseconds; lines without a stamp are shown as they are.
      if (!lines[i].stamp.empty()) out.append(lines[i].stamp).push_back(' ');
    }
    out.append(lines[i].text);
  }
  data.erase(0, end + 1);
  return out;
}

}  // namespace

namespace {

// Reads `path` from `offset` to its end (at most kMaxRead bytes, from the tail). `ino` receives
// the file's inode; 0 when it can't be opened.
std::string ReadTail(const std::string& path, off_t offset, ino_t& ino, off_t& end) {
  ino = 0;
  end = 0;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0) {
    ino = st.st_ino;
    if (st.st_size < offset) offset = 0;  // truncated
    if (st.st_size - offset > static_cast<off_t>(kMaxRead))
      offset = st.st_size - static_cast<off_t>(kMaxRead);
    out.resize(static_cast<size_t>(st.st_size - offset));
    ssize_t n = ::pread(fd, out.data(), out.size(), offset);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    end = offset + static_cast<off_t>(out.size());
  }
  ::close(fd);
  return out;
}

}  // namespace

std::string ReadLogFrom(const std::string& path, LogCursor& cursor) {
  ino_t ino = 0;
  off_t end = 0;
  if (!cursor.started) {
    // The older half first (the runtime renames the full current file to <path>.1).
    ino_t old_ino = 0;
    off_t old_end = 0;
    std::string out = ReadTail(path + ".1", 0, old_ino, old_end);
    out += ReadTail(path, 0, ino, end);
    cursor = {true, end, ino};
    return out;
  }
  std::string out = ReadTail(path, cursor.offset, ino, end);
  if (cursor.inode != 0 && ino != 0 && ino != cursor.inode) {
    // Rotated since the last read: the rest of the file we were reading is now <path>.1.
    ino_t old_ino = 0;
    off_t old_end = 0;
    std::string rest = ReadTail(path + ".1", cursor.offset, old_ino, old_end);
    if (old_ino != cursor.inode) rest.clear();
    out = ReadTail(path, 0, ino, end);
    out.insert(0, rest);
  }
  if (ino != 0) cursor = {true, end, ino};
  return out;
}

std::string LogText(std::string& data) { return FormatLines(data, LogOptions{}, false); }

http::Response ServePodLog(store::Store& store, PodStreams* streams,
                           const std::atomic<bool>& shutting_down, http::Request& req,
                           const std::string& ns, const std::string& name) {
  if (req.method != "GET")
    return StatusResponse(
        Error{Code::kUnimplemented, "pods/log is read with GET, not " + req.method});
  auto pc = FindPodContainer(store, req, ns, name);
  if (!pc) return StatusResponse(pc.error());
  auto opts = ParseLogOptions(req, std::chrono::system_clock::now());
  if (!opts) return StatusResponse(opts.error());
  if (!streams) return StatusResponse(Error{Code::kUnavailable, "logs are not available here"});
  // A pod another process runs: that node serves its output (the local node's are read here).
  if (auto remote = streams->RemoteLog(pc->pod, pc->container, req)) return std::move(*remote);
  return ServeLogFiles(*streams, shutting_down, req, ns, name, pc->container,
                       GetString(pc->pod, "status.phase", "Pending"));
}

http::Response ServeLogFiles(PodStreams& streams_ref, const std::atomic<bool>& shutting_down,
                             const http::Request& req, const std::string& ns,
                             const std::string& name, const std::string& container,
                             std::string_view phase) {
  PodStreams* streams = &streams_ref;
  auto opts = ParseLogOptions(req, std::chrono::system_clock::now());
  if (!opts) return StatusResponse(opts.error());
  auto files = streams->LogFiles(ns, name);
  if (!files) {
    if (phase == "Pending")
      return StatusResponse(Error{Code::kInvalidArgument, "container \"" + container +
                                                              "\" in pod \"" + name +
                                                              "\" is waiting to start: "
                                                              "ContainerCreating"});
    return StatusResponse(
        Error{Code::kInvalidArgument, "container \"" + container + "\" in pod \"" + name +
                                          "\" has no logs: " + files.error().message});
  }
  std::string path = opts->previous ? files->previous : files->current;
  if (path.empty())
    return StatusResponse(Error{
        Code::kInvalidArgument,
        "previous terminated container \"" + container + "\" in pod \"" + name + "\" not found"});
  LogCursor offset;
  const bool follow = opts->follow && !opts->previous;  // a previous container has ended
  std::string pending = ReadLogFrom(path, offset);
  if (!follow && !pending.empty() && pending.back() != '\n') pending += '\n';
  std::string first = FormatLines(pending, *opts, true);
  auto limit = opts->limit_bytes;
  if (limit && first.size() > static_cast<size_t>(*limit))
    first.resize(static_cast<size_t>(*limit));
  if (!follow) return http::Response::Text(200, std::move(first));
  http::Response r;
  r.status = 200;
  r.headers.Set("Content-Type", "text/plain");
  r.stream = [streams, ns, name, path, offset, pending, first, o = *opts,
              &shutting_down](http::ResponseStream& out) mutable {
    size_t sent = first.size();
    if (!out.Write(first)) return;
    auto last_check = std::chrono::steady_clock::now();
    for (;;) {
      std::this_thread::sleep_for(kFollowPoll);
      if (shutting_down || out.ClientGone()) return;
      std::string more = ReadLogFrom(path, offset);
      if (!more.empty()) {
        pending += more;
        std::string text = FormatLines(pending, o, false);
        if (o.limit_bytes && sent + text.size() > static_cast<size_t>(*o.limit_bytes)) {
          text.resize(static_cast<size_t>(*o.limit_bytes) - sent);
          out.Write(text);
          return;
        }
        sent += text.size();
        if (!text.empty() && !out.Write(text)) return;
        continue;
      }
      // Follow ends when the container stops (or restarted into another file), as kubelet does.
      auto now = std::chrono::steady_clock::now();
      if (now - last_check < std::chrono::seconds(1)) continue;
      last_check = now;
      auto latest = streams->LogFiles(ns, name);
      if (!latest || !latest->running || latest->current != path) {
        if (!pending.empty()) out.Write(FormatLines(pending.append("\n"), o, false));
        return;
      }
    }
  };
  return r;
}

}  // namespace asb::apiserver::internal
