#include "cmd/asbd/image_api.h"

#include <fcntl.h>
#include <unistd.h>

#include "api/secret.h"
#include "apiserver/k8s_status.h"
#include "base/clock.h"
#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "image/registry/auth.h"
#include "image/registry/reference.h"

namespace asb::asbd {
namespace {

constexpr auto kUploadIdle = std::chrono::hours(1);

// Security: constant-time comparison, as the API server does.
bool TokenMatches(std::string_view given, const std::string& want) {
  if (given.size() != want.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ want[i]);
  return diff == 0;
}

bool Authenticated(const http::Request& req, const std::string& token) {
  if (token.empty()) return true;
  auto auth = req.headers.Get("Authorization");
  if (!auth) return false;
  std::string_view v = Trim(*auth);
  return v.size() >= 7 && ToLower(v.substr(0, 7)) == "bearer " &&
         TokenMatches(Trim(v.substr(7)), token);
}

http::Response Fail(Code code, const std::string& message) {
  return apiserver::StatusResponse(Error{code, message, 0});
}
http::Response Fail(const Error& e) { return apiserver::StatusResponse(e); }

Json InfoJson(const image::ImageInfo& i, const std::set<std::string>& in_use) {
  return {{"names", i.refs},
          {"digest", i.digest},
          {"sizeBytes", i.size_bytes},
          {"uniqueBytes", i.unique_bytes},
          {"lastUsed", FormatRfc3339(i.last_used)},
          {"inUse", in_use.count(i.digest) > 0}};
}

Json GcJson(const image::GcResult& r) {
  return {{"removed", r.removed}, {"freedBytes", r.freed_bytes}, {"cacheBytes", r.cache_bytes}};
}

bool ValidUploadId(const std::string& id) {
  return id.size() == 24 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

ImageApi::ImageApi(store::Store& store, image::ImageStore& images, std::string token)
    : store_(store), images_(images), token_(std::move(token)) {}

std::set<std::string> ImageApi::InUse() {
  std::set<std::string> out;
  auto pods = store_.List(api::PodResource(), "", {});
  if (!pods) return out;
  image::ImageCache& cache = images_.oci_cache();
  for (const Json& pod : pods->items) {
    std::string phase = GetString(pod, "status.phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    if (const Json* cs = Find(pod, "spec.containers"); cs && cs->is_array())
      for (const Json& c : *cs) {
        std::string digest = cache.LocalDigest(images_.ApplyAliases(GetString(c, "image")));
        if (!digest.empty()) out.insert(digest);
      }
    if (const Json* st = Find(pod, "status.containerStatuses"); st && st->is_array())
      for (const Json& s : *st) {
        std::string id = GetString(s, "imageID");
        if (size_t at = id.rfind("@sha256:"); at != std::string::npos)
          out.insert(id.substr(at + 1));
      }
  }
  return out;
}

void ImageApi::CollectGarbageAtStart() {
  image::ImageCache& cache = images_.oci_cache();
  if (cache.disk_budget_bytes() <= 0) return;
  auto bytes = cache.CacheBytes();
  if (!bytes) {
    ASB_LOG(WARN, "image: sizing the cache at start-up failed", "error", bytes.error().message);
    return;
  }
  if (*bytes <= cache.disk_budget_bytes()) return;
  std::set<std::string> in_use = InUse();
  ASB_LOG(INFO, "image: cache over its disk budget at start-up: collecting unused images",
          "cache_bytes", *bytes, "budget", cache.disk_budget_bytes(), "in_use", in_use.size());
  auto collected = cache.CollectGarbage(in_use);
  if (!collected) {
    ASB_LOG(WARN, "image: start-up garbage collection failed", "error", collected.error().message);
    return;
  }
  ASB_LOG(INFO, "image: start-up garbage collection done", "removed", collected->removed.size(),
          "freed", collected->freed_bytes, "cache_bytes", collected->cache_bytes, "budget",
          cache.disk_budget_bytes());
}

http::Response ImageApi::Handle(http::Request& req) {
  if (!Authenticated(req, token_)) return Fail(Code::kUnauthenticated, "Unauthorized");
  std::string rest = req.path.substr(kImageApiPrefix.size());
  std::vector<std::string> seg;
  for (auto& s : Split(rest, '/'))
    if (!s.empty()) seg.push_back(std::move(s));
  const std::string& m = req.method;
  if (seg.empty() && m == "GET") return List();
  if (seg.size() == 1 && seg[0] == "pull" && m == "POST") return Pull(req);
  if (seg.size() == 1 && seg[0] == "prune" && m == "POST") return Prune();
  if (!seg.empty() && seg[0] == "uploads") {
    if (seg.size() == 1 && m == "POST") return NewUpload();
    if (seg.size() == 2 && m == "PUT") return Append(seg[1], req);
    if (seg.size() == 2 && m == "DELETE") return DropUpload(seg[1]);
    if (seg.size() == 3 && seg[2] == "import" && m == "POST") return ImportUpload(seg[1], req);
  }
  // A name may hold '/' (a reference): everything after the prefix.
  if (!seg.empty() && m == "DELETE") return Remove(rest.substr(1));
  return Fail(Code::kNotFound, "no image API at " + m + " " + req.path);
}

http::Response ImageApi::List() {
  image::ImageCache& cache = images_.oci_cache();
  auto images = cache.List();
  if (!images) return Fail(images.error());
  auto bytes = cache.CacheBytes();
  std::set<std::string> in_use = InUse();
  Json items = Json::array();
  for (const auto& i : *images) items.push_back(InfoJson(i, in_use));
  return http::Response::Json(200, {{"kind", "ImageList"},
                                    {"items", items},
                                    {"cacheBytes", bytes.value_or(0)},
                                    {"diskBudgetBytes", cache.disk_budget_bytes()}});
}

http::Response ImageApi::Pull(const http::Request& req) {
  auto body = ParseJson(req.body);
  if (!body || !body->is_object() || !(*body)["image"].is_string())
    return Fail(Code::kInvalidArgument,
                "body must be {\"image\": REF[, \"namespace\", "
                "\"pullSecrets\": [NAME...]]}");
  std::string ref = (*body)["image"].get<std::string>();
  std::string ns = body->value("namespace", "default");
  std::vector<std::string> configs;
  if (auto s = body->find("pullSecrets"); s != body->end() && s->is_array()) {
    for (const Json& name : *s) {
      if (!name.is_string()) return Fail(Code::kInvalidArgument, "pullSecrets: names only");
      auto secret = store_.Get(api::SecretResource(), ns, name.get<std::string>());
      if (!secret) return Fail(secret.error().Wrap("secret " + ns + "/" + name.get<std::string>()));
      auto doc = api::DockerConfigOf(*secret);
      if (!doc || !*doc)
        return Fail(Code::kInvalidArgument, "secret " + ns + "/" + name.get<std::string>() +
                                                " is not a kubernetes.io/dockerconfigjson secret");
      configs.push_back(std::move(**doc));
    }
  }
  auto credentials =
      [&](const std::string& host) -> Result<std::optional<image::registry::Credentials>> {
    for (const auto& c : configs) {
      ASB_ASSIGN_OR_RETURN(auto found, image::registry::CredentialsFor(c, host));
      if (found) return found;
    }
    return std::optional<image::registry::Credentials>();
  };
  image::ImageCache& cache = images_.oci_cache();
  auto got = cache.Get(ref, image::PullPolicy::kAlways, credentials);
  if (!got) return Fail(got.error().Wrap("pulling \"" + ref + "\""));
  Json out = {{"digest", got->manifest_digest},
              {"name", got->ref},
              {"downloadedBytes", got->download_bytes},
              {"tookMs", got->took.count()}};
  return http::Response::Json(200, out);
}

http::Response ImageApi::Remove(const std::string& name) {
  image::ImageCache& cache = images_.oci_cache();
  auto digest = cache.Find(name);
  if (!digest) return Fail(digest.error());
  auto removed = cache.Remove(*digest, InUse());
  if (!removed) return Fail(removed.error());
  return http::Response::Json(200, GcJson(*removed));
}

http::Response ImageApi::Prune() {
  auto pruned = images_.oci_cache().Prune(InUse());
  if (!pruned) return Fail(pruned.error());
  return http::Response::Json(200, GcJson(*pruned));
}

http::Response ImageApi::NewUpload() {
  const std::string tmp = images_.oci_cache().dir() + "/tmp";
  if (auto made = MakeDirs(tmp, 0700); !made) return Fail(made.error());
  std::string id = RandomHex(12);
  std::lock_guard l(mu_);
  auto now = std::chrono::steady_clock::now();
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (!it->second.busy && now - it->second.touched > kUploadIdle) {
      (void)::unlink((tmp + "/upload-" + it->first).c_str());
      it = uploads_.erase(it);
    } else {
      ++it;
    }
  }
  UniqueFd fd(
      ::open((tmp + "/upload-" + id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Fail(Code::kInternal, "creating the upload: " + std::string(strerror(errno)));
  uploads_[id] = Upload{0, now, false};
  return http::Response::Json(201, {{"id", id}, {"maxBytes", kMaxUploadBytes}});
}

http::Response ImageApi::Append(const std::string& id, const http::Request& req) {
  const std::string path = images_.oci_cache().dir() + "/tmp/upload-" + id;
  int64_t offset = -1;
  if (auto o = req.Query("offset")) offset = ParseInt(*o).value_or(-1);
  {
    std::lock_guard l(mu_);
    auto it = ValidUploadId(id) ? uploads_.find(id) : uploads_.end();
    if (it == uploads_.end()) return Fail(Code::kNotFound, "no upload " + id);
    if (it->second.busy) return Fail(Code::kAborted, "upload " + id + " is busy");
    // The offset makes a retried chunk harmless and a lost one visible.
    if (offset != it->second.size)
      return Fail(Code::kInvalidArgument, "upload " + id + " has " +
                                              std::to_string(it->second.size) +
                                              " bytes; offset must say so");
    if (it->second.size + static_cast<int64_t>(req.body.size()) > kMaxUploadBytes)
      return Fail(Code::kResourceExhausted,
                  "an upload is at most " + std::to_string(kMaxUploadBytes) + " bytes");
    it->second.busy = true;
  }
  Status wrote = [&]() -> Status {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd) return ErrnoUnexpected("open " + path);
    std::string_view data = req.body;
    while (!data.empty()) {
      ssize_t n = ::write(fd.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoUnexpected("write " + path);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }();
  std::lock_guard l(mu_);
  Upload& u = uploads_[id];
  u.busy = false;
  u.touched = std::chrono::steady_clock::now();
  if (!wrote) {
    // The file's length is unknown now: the upload can't continue.
    (void)::unlink(path.c_str());
    uploads_.erase(id);
    return Fail(wrote.error());
  }
  u.size += static_cast<int64_t>(req.body.size());
  return http::Response::Json(200, {{"id", id}, {"size", u.size}});
}

http::Response ImageApi::ImportUpload(const std::string& id, const http::Request& req) {
  const std::string path = images_.oci_cache().dir() + "/tmp/upload-" + id;
  {
    std::lock_guard l(mu_);
    auto it = ValidUploadId(id) ? uploads_.find(id) : uploads_.end();
    if (it == uploads_.end()) return Fail(Code::kNotFound, "no upload " + id);
    if (it->second.busy) return Fail(Code::kAborted, "upload " + id + " is busy");
    it->second.busy = true;
  }
  auto imported = images_.oci_cache().Import(path, req.Query("name").value_or(""));
  (void)::unlink(path.c_str());
  {
    std::lock_guard l(mu_);
    uploads_.erase(id);
  }
  if (!imported) return Fail(imported.error());
  std::set<std::string> in_use = InUse();
  Json items = Json::array();
  for (const auto& i : *imported) items.push_back(InfoJson(i, in_use));
  return http::Response::Json(200, {{"kind", "ImageList"}, {"items", items}});
}

http::Response ImageApi::DropUpload(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = ValidUploadId(id) ? uploads_.find(id) : uploads_.end();
  if (it == uploads_.end()) return Fail(Code::kNotFound, "no upload " + id);
  if (it->second.busy) return Fail(Code::kAborted, "upload " + id + " is busy");
  (void)::unlink((images_.oci_cache().dir() + "/tmp/upload-" + id).c_str());
  uploads_.erase(it);
  return http::Response::Json(200, {{"id", id}});
}

}  // namespace asb::asbd
