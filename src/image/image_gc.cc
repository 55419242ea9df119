// ImageCache listing and removal: List, Find, Remove, Prune and the disk budget
// (image_cache.h says the rules).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "image/image_cache.h"
#include "image/registry/reference.h"

namespace asb::image {
namespace {

namespace fs = std::filesystem;

struct ImageRecord {
  std::string digest;
  std::string ref;                  // the reference that made it
  std::vector<std::string> layers;  // hex
  SystemTime last_used{};
};

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(),
                                       [](char c) { return std::isxdigit(c) && !std::isupper(c); });
}

// Every image record, by digest. Records that do not parse are skipped (and logged): they can't
// be used either, and a listing must not fail for one bad file.
std::map<std::string, ImageRecord> LoadRecords(const std::string& dir) {
  std::map<std::string, ImageRecord> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir + "/images", ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 69 || name.substr(64) != ".json" || !IsHex64(name.substr(0, 64))) continue;
    auto text = ReadFile(entry.path().string());
    auto j = text ? ParseJson(*text) : Result<Json>(tl::unexpected(text.error()));
    if (!j || !j->is_object() || !(*j)["layers"].is_array()) {
      ASB_LOG(WARN, "image: unreadable image record", "file", entry.path().string());
      continue;
    }
    ImageRecord r;
    r.digest = "sha256:" + name.substr(0, 64);
    r.ref = j->value("ref", "");
    for (const Json& l : (*j)["layers"])
      if (l.is_string() && registry::IsSha256Digest(l.get<std::string>()))
        r.layers.push_back(DigestHex(l.get<std::string>()));
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) == 0)
      r.last_used = SystemTime(std::chrono::seconds(st.st_mtim.tv_sec) +
                               std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    out.emplace(r.digest, std::move(r));
  }
  return out;
}

// The refs/ files: digest -> references naming it.
std::map<std::string, std::vector<std::pair<std::string, std::string>>> LoadRefs(
    const std::string& dir) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;  // -> (file, ref)
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir + "/refs", ec)) {
    std::string text = ReadFile(entry.path().string()).value_or("");
    std::vector<std::string> lines = Split(text, '\n');
    if (lines.empty() || !registry::IsSha256Digest(std::string(Trim(lines[0])))) continue;
    out[std::string(Trim(lines[0]))].emplace_back(entry.path().string(),
                                                  lines.size() > 1 ? lines[1] : "");
  }
  return out;
}

// Bytes on disk under `path` (du: allocated blocks, hard links once, no mount crossing).
int64_t DiskUsage(const std::string& path) {
  int64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  struct stat root {};
  if (::lstat(path.c_str(), &root) != 0) return 0;
  total += root.st_blocks * 512;
  for (auto it = fs::recursive_directory_iterator(
           path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (st.st_dev != root.st_dev) {
      it.disable_recursion_pending();
      continue;
    }
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += st.st_blocks * 512;
  }
  return total;
}

}  // namespace

int64_t ImageCache::LayerBytes(const std::string& hex) {
  {
    std::lock_guard l(mu_);
    if (auto it = layer_bytes_.find(hex); it != layer_bytes_.end()) return it->second;
  }
  int64_t bytes = DiskUsage(dir_ + "/layers/" + hex);
  std::lock_guard l(mu_);
  layer_bytes_[hex] = bytes;
  return bytes;
}

Result<int64_t> ImageCache::CacheBytes() {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> layers, ListSubdirs(dir_ + "/layers"));
  int64_t total = 0;
  for (const auto& hex : layers)
    if (IsHex64(hex)) total += LayerBytes(hex);
  return total;
}

Result<std::vector<ImageInfo>> ImageCache::List() {
  std::shared_lock gc(gc_mu_);
  auto records = LoadRecords(dir_);
  auto refs = LoadRefs(dir_);
  std::map<std::string, int> layer_users;
  for (const auto& [digest, r] : records)
    for (const auto& l : std::set<std::string>(r.layers.begin(), r.layers.end())) ++layer_users[l];
  std::vector<ImageInfo> out;
  for (const auto& [digest, r] : records) {
    ImageInfo info;
    info.digest = digest;
    info.last_used = r.last_used;
    std::set<std::string> names;
    for (const auto& [file, ref] : refs[digest])
      if (!ref.empty()) names.insert(ref);
    if (names.empty() && !r.ref.empty()) names.insert(r.ref);
    info.refs.assign(names.begin(), names.end());
    for (const auto& l : std::set<std::string>(r.layers.begin(), r.layers.end())) {
      int64_t b = LayerBytes(l);
      info.size_bytes += b;
      if (layer_users[l] == 1) info.unique_bytes += b;
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const ImageInfo& a, const ImageInfo& b) {
    return a.refs < b.refs || (a.refs == b.refs && a.digest < b.digest);
  });
  return out;
}

Result<std::string> ImageCache::Find(const std::string& name) {
  std::string hex = name.rfind("sha256:", 0) == 0 ? name.substr(7) : name;
  bool hexy = hex.size() >= 12 && hex.size() <= 64 &&
              std::all_of(hex.begin(), hex.end(),
                          [](char c) { return std::isxdigit(c) && !std::isupper(c); });
  if (hexy) {
    std::vector<std::string> matches;
    for (const auto& [digest, r] : LoadRecords(dir_))
      if (DigestHex(digest).rfind(hex, 0) == 0) matches.push_back(digest);
    if (matches.size() == 1) return matches[0];
    if (matches.size() > 1)
      return MakeError(Code::kInvalidArgument, "\"" + name + "\" names more than one image");
  }
  std::string digest = LocalDigest(name);
  if (!digest.empty() && PathExists(dir_ + "/images/" + DigestHex(digest) + ".json")) return digest;
  return MakeError(Code::kNotFound, "image \"" + name + "\" is not in the cache");
}

Status ImageCache::RemoveLocked(const std::string& digest, GcResult* result) {
  auto records = LoadRecords(dir_);
  auto it = records.find(digest);
  if (it == records.end())
    return MakeError(Code::kNotFound, "image " + digest + " is not in the cache");
  // References first (a reader then no longer finds the image), the record, then its layers.
  for (const auto& [file, ref] : LoadRefs(dir_)[digest]) (void)::unlink(file.c_str());
  const std::string record = dir_ + "/images/" + DigestHex(digest) + ".json";
  if (::unlink(record.c_str()) != 0 && errno != ENOENT) return ErrnoUnexpected("unlink " + record);
  std::set<std::string> kept;
  for (const auto& [d, r] : records)
    if (d != digest) kept.insert(r.layers.begin(), r.layers.end());
  ASB_RETURN_IF_ERROR(MakeDirs(dir_ + "/tmp", 0700));
  for (const auto& hex :
       std::set<std::string>(it->second.layers.begin(), it->second.layers.end())) {
    if (kept.count(hex)) continue;  // shared with an image that stays
    const std::string layer = dir_ + "/layers/" + hex;
    if (!PathExists(layer)) continue;
    int64_t bytes = LayerBytes(hex);
    const std::string doomed = dir_ + "/tmp/gc-" + hex.substr(0, 16) + "-" + RandomHex(4);
    if (::rename(layer.c_str(), doomed.c_str()) != 0) return ErrnoUnexpected("rename " + layer);
    {
      std::lock_guard l(mu_);
      layer_bytes_.erase(hex);
    }
    ASB_RETURN_IF_ERROR(RemoveTree(doomed));
    result->freed_bytes += bytes;
  }
  result->removed.push_back(digest);
  return {};
}

Result<GcResult> ImageCache::Remove(const std::string& digest,
                                    const std::set<std::string>& in_use) {
  std::unique_lock gc(gc_mu_);
  if (in_use.count(digest))
    return MakeError(Code::kFailedPrecondition,
                     "image " + digest + " is in use by a pod; delete the pod first");
  GcResult result;
  ASB_RETURN_IF_ERROR(RemoveLocked(digest, &result));
  gc.unlock();
  ASB_ASSIGN_OR_RETURN(result.cache_bytes, CacheBytes());
  return result;
}

Result<GcResult> ImageCache::Prune(const std::set<std::string>& in_use) {
  std::unique_lock gc(gc_mu_);
  GcResult result;
  for (const auto& [digest, r] : LoadRecords(dir_))
    if (!in_use.count(digest)) ASB_RETURN_IF_ERROR(RemoveLocked(digest, &result));
  gc.unlock();
  ASB_ASSIGN_OR_RETURN(result.cache_bytes, CacheBytes());
  return result;
}

Result<GcResult> ImageCache::CollectGarbage(const std::set<std::string>& in_use) {
  GcResult result;
  if (options_.disk_budget_bytes <= 0) {
    ASB_ASSIGN_OR_RETURN(result.cache_bytes, CacheBytes());
    return result;
  }
  std::unique_lock gc(gc_mu_);
  ASB_ASSIGN_OR_RETURN(int64_t bytes, CacheBytes());
  if (bytes > options_.disk_budget_bytes) {
    const auto low =
        static_cast<int64_t>(static_cast<double>(options_.disk_budget_bytes) * kGcLowFraction);
    auto records = LoadRecords(dir_);
    std::vector<const ImageRecord*> lru;
    for (const auto& [digest, r] : records)
      if (!in_use.count(digest)) lru.push_back(&r);
    std::sort(lru.begin(), lru.end(), [](const ImageRecord* a, const ImageRecord* b) {
      return a->last_used < b->last_used;
    });
    for (const ImageRecord* r : lru) {
      if (bytes <= low) break;
      int64_t before = result.freed_bytes;
      ASB_RETURN_IF_ERROR(RemoveLocked(r->digest, &result));
      bytes -= result.freed_bytes - before;
      ASB_LOG(INFO, "image: removed for the disk budget", "digest", r->digest, "ref", r->ref,
              "freed", result.freed_bytes - before, "cache_bytes", bytes, "budget",
              options_.disk_budget_bytes);
    }
    if (bytes > options_.disk_budget_bytes)
      ASB_LOG(WARN, "image: cache stays over its disk budget: the rest is in use", "cache_bytes",
              bytes, "budget", options_.disk_budget_bytes);
  }
  result.cache_bytes = bytes;
  return result;
}

void ImageCache::AfterAdd(const std::set<std::string>& added) {
  if (options_.disk_budget_bytes <= 0) return;
  std::set<std::string> in_use = options_.in_use ? options_.in_use() : std::set<std::string>();
  in_use.insert(added.begin(), added.end());
  auto collected = CollectGarbage(in_use);
  if (!collected)
    ASB_LOG(WARN, "image: applying the disk budget failed", "error", collected.error().message);
}

}  // namespace asb::image
