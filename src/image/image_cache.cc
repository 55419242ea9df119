#include "image/image_cache.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "image/layer_unpack.h"
#include "image/registry/registry_client.h"
#include "image/registry/sha256.h"

namespace asb::image {

using registry::Reference;

std::string DigestHex(const std::string& digest) {
  return digest.size() > 7 ? digest.substr(7) : digest;
}

Result<PullPolicy> ParsePullPolicy(std::string_view policy, std::string_view image_ref) {
  std::string p = policy.empty() ? registry::DefaultPullPolicy(image_ref) : std::string(policy);
  if (p == "Always") return PullPolicy::kAlways;
  if (p == "IfNotPresent") return PullPolicy::kIfNotPresent;
  if (p == "Never") return PullPolicy::kNever;
  return MakeError(Code::kInvalidArgument, "imagePullPolicy: Unsupported value: \"" + p +
                                               "\": supported values: \"Always\", "
                                               "\"IfNotPresent\", \"Never\"");
}

ImageCache::ImageCache(std::string dir, ImageCacheOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  // One asbd per state dir (the store's lock), so anything in tmp/ is a dead pull's leftover.
  (void)RemoveTree(dir_ + "/tmp");
}

std::shared_ptr<std::mutex> ImageCache::LockFor(const std::string& key) {
  std::lock_guard l(mu_);
  for (auto it = locks_.begin(); it != locks_.end();) {
    it = it->second.expired() ? locks_.erase(it) : std::next(it);
  }
  auto& weak = locks_[key];
  auto lock = weak.lock();
  if (!lock) {
    lock = std::make_shared<std::mutex>();
    weak = lock;
  }
  return lock;
}

Result<std::string> ImageCache::RegistryOf(const std::string& image_ref) const {
  ASB_ASSIGN_OR_RETURN(Reference ref,
                       registry::ParseReference(image_ref, options_.default_registry));
  return ref.registry;
}

std::string ImageCache::RefFile(const Reference& ref) const {
  return dir_ + "/refs/" + DigestHex(registry::Sha256Digest(ref.String()));
}

std::string ImageCache::LocalDigest(const std::string& image_ref) const {
  auto ref = registry::ParseReference(image_ref, options_.default_registry);
  if (!ref) return "";
  if (!ref->digest.empty()) return ref->digest;
  // "<digest>\n<ref>\n" (older caches wrote the digest alone).
  std::string text = ReadFile(RefFile(*ref)).value_or("");
  std::string digest(Trim(text.substr(0, text.find('\n'))));
  return registry::IsSha256Digest(digest) ? digest : "";
}

Result<CachedImage> ImageCache::Get(const std::string& image_ref, PullPolicy policy,
                                    const CredentialsFor& credentials) {
  ASB_ASSIGN_OR_RETURN(Reference ref,
                       registry::ParseReference(image_ref, options_.default_registry));
  Result<CachedImage> got = [&]() -> Result<CachedImage> {
    std::shared_lock gc(gc_mu_);
    auto lock = LockFor("ref:" + ref.String());
    std::lock_guard l(*lock);
    if (policy != PullPolicy::kAlways) {
      std::string digest = LocalDigest(image_ref);
      if (!digest.empty() && PathExists(dir_ + "/images/" + DigestHex(digest) + ".json")) {
        return Load(ref, digest);
      }
      if (policy == PullPolicy::kNever) {
        return MakeError(Code::kNotFound, "Container image \"" + image_ref +
                                              "\" is not present with pull policy of Never");
      }
    }
    return Pull(ref, credentials);
  }();
  if (got && got->downloaded) AfterAdd({got->manifest_digest});
  return got;
}

Result<CachedImage> ImageCache::Load(const Reference& ref, const std::string& manifest_digest) {
  const std::string file = dir_ + "/images/" + DigestHex(manifest_digest) + ".json";
  ASB_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  // Its last use, for the disk budget's least-recently-used order.
  (void)::utimensat(AT_FDCWD, file.c_str(), nullptr, 0);
  ASB_ASSIGN_OR_RETURN(Json j, ParseJson(text));
  CachedImage img;
  img.ref = ref.String();
  img.manifest_digest = manifest_digest;
  try {
    for (const Json& d : j.at("layers")) {
      std::string digest = d.get<std::string>();
      if (!registry::IsSha256Digest(digest)) {
        return MakeError(Code::kInternal, file + ": bad layer digest");
      }
      std::string layer = dir_ + "/layers/" + DigestHex(digest);
      if (!PathExists(layer)) {
        return MakeError(Code::kNotFound,
                         "layer " + digest + " of " + img.ref + " is missing from the cache");
      }
      img.layer_dirs.insert(img.layer_dirs.begin(), layer);  // uppermost first
    }
    ASB_ASSIGN_OR_RETURN(img.config, registry::ParseImageConfig(j.at("config").get<std::string>()));
  } catch (const std::exception& e) {
    return MakeError(Code::kInternal, file + ": " + e.what());
  }
  return img;
}

namespace {

Status SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoUnexpected("feeding the layer to the unpacker");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Downloads layer `d` and unpacks it into `dest` at the same time: the download runs on its own
// thread and feeds libarchive through a socket pair, so a pull costs about the slower of the
// two instead of their sum, and no compressed copy is kept on disk. The unpacked tree is trusted
// only once the download's digest check passed (the caller renames it into place after that).
Status FetchAndUnpack(registry::RegistryClient& client, const registry::Descriptor& d,
                      const std::string& dest) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoUnexpected("socketpair");
  }
  UniqueFd reader(sv[0]), writer(sv[1]);
  Status downloaded;
  std::thread download([&] {
    downloaded =
        client.StreamBlob(d, [&](std::string_view piece) { return SendAll(writer.get(), piece); });
    writer.Reset();  // end of stream for the unpacker
  });
  auto unpacked = UnpackLayerFd(reader.get(), dest);
  // Read what the unpacker left: the archive can end before the blob does (trailing padding),
  // and the digest must cover every byte. After a failed unpack too: the download's digest
  // check then says whether the blob was corrupted (in the registry, or in a resumed range)
  // or is a faithful copy of a bad layer; the manifest's size bounds what this reads.
  char buf[65536];
  while (::read(reader.get(), buf, sizeof(buf)) > 0) {
  }
  reader.Reset();
  download.join();
  // The download's error explains an unpack failure (a truncated or corrupted stream).
  if (!downloaded) return downloaded;
  if (!unpacked) return tl::unexpected(unpacked.error().Wrap("layer " + d.digest));
  return {};
}

}  // namespace

Result<CachedImage> ImageCache::Pull(const Reference& ref, const CredentialsFor& credentials) {
  for (const char* d : {"layers", "images", "refs", "tmp"}) {
    ASB_RETURN_IF_ERROR(MakeDirs(dir_ + "/" + d, 0700));
  }
  auto mirrors = options_.mirrors.find(ref.registry);
  if (mirrors != options_.mirrors.end()) {
    for (const std::string& host : mirrors->second) {
      Reference from = ref;
      from.registry = host;
      auto got = PullFrom(ref, from, credentials);
      if (got) return got;
      ASB_LOG(WARN, "image: mirror failed, trying the next", "ref", ref.String(), "mirror", host,
              "error", got.error().message);
    }
  }
  return PullFrom(ref, ref, credentials);
}

Status ImageCache::FetchLayer(registry::RegistryClient& client, const registry::Descriptor& d,
                              int64_t* bytes) {
  const std::string layer_dir = dir_ + "/layers/" + DigestHex(d.digest);
  auto lock = LockFor("layer:" + d.digest);
  std::lock_guard l(*lock);
  if (PathExists(layer_dir)) return {};
  const std::string tmp = dir_ + "/tmp/" + DigestHex(d.digest).substr(0, 16) + "-" + RandomHex(4);
  ASB_RETURN_IF_ERROR(MakeDirs(tmp, 0755));
  Status made = FetchAndUnpack(client, d, tmp);
  if (made && ::rename(tmp.c_str(), layer_dir.c_str()) != 0) {
    made = ErrnoUnexpected("rename " + tmp);
  }
  if (!made) {
    (void)RemoveTree(tmp);
    return made;
  }
  *bytes += d.size;
  return {};
}

Status ImageCache::FetchLayers(const registry::RegistryClient& client,
                               const std::vector<registry::Descriptor>& layers, int64_t* bytes) {
  // Each worker has its own copy of the authenticated client (a client is one connection's
  // state); layers are taken in order, so the base layer starts first.
  const size_t workers = std::min(layers.size(), kLayerDownloads);
  std::vector<Status> results(layers.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> total{0};
  auto work = [&] {
    registry::RegistryClient mine = client;
    for (size_t i; (i = next++) < layers.size();) {
      int64_t got = 0;
      results[i] = FetchLayer(mine, layers[i], &got);
      total += got;
      if (!results[i]) next = layers.size();  // the pull fails: start no more layers
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  *bytes += total;
  for (auto& r : results)
    if (!r) return r;
  return {};
}

Status ImageCache::Record(const Reference& ref, const std::string& manifest_digest,
                          const std::vector<std::string>& layers, const std::string& config) {
  const std::string image_file = dir_ + "/images/" + DigestHex(manifest_digest) + ".json";
  if (!PathExists(image_file)) {
    Json rec = {{"ref", ref.String()}, {"layers", layers}, {"config", config}};
    ASB_RETURN_IF_ERROR(AtomicWriteFile(image_file, rec.dump(), 0600));
  }
  return AtomicWriteFile(RefFile(ref), manifest_digest + "\n" + ref.String() + "\n", 0600);
}

Result<CachedImage> ImageCache::PullFrom(const Reference& ref, const Reference& from,
                                         const CredentialsFor& credentials) {
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<registry::Credentials> creds;
  if (credentials) {
    ASB_ASSIGN_OR_RETURN(creds, credentials(from.registry));
  }
  registry::RegistryClient client(from, {.credentials = creds,
                                         .insecure_registries = options_.insecure_registries,
                                         .timeout = options_.timeout});
  ASB_ASSIGN_OR_RETURN(registry::PulledManifest pm, client.GetManifest());
  int64_t bytes = 0;
  const std::string image_file = dir_ + "/images/" + DigestHex(pm.digest) + ".json";
  std::string config;
  std::vector<std::string> layers;
  if (!PathExists(image_file)) {
    ASB_ASSIGN_OR_RETURN(config,
                         client.FetchSmallBlob(pm.manifest.config, registry::kMaxConfigBytes));
    ASB_ASSIGN_OR_RETURN(registry::ImageConfig parsed, registry::ParseImageConfig(config));
    if (!parsed.diff_ids.empty() && parsed.diff_ids.size() != pm.manifest.layers.size()) {
      return MakeError(Code::kInvalidArgument, ref.String() + ": the config lists " +
                                                   std::to_string(parsed.diff_ids.size()) +
                                                   " layers, the manifest " +
                                                   std::to_string(pm.manifest.layers.size()));
    }
    bytes += static_cast<int64_t>(config.size());
    for (const registry::Descriptor& d : pm.manifest.layers) {
      if (!d.media_type.empty() && d.media_type.find("tar") == std::string::npos) {
        return MakeError(Code::kInvalidArgument, ref.String() + ": layer " + d.digest +
                                                     " has unsupported media type \"" +
                                                     d.media_type + "\"");
      }
      layers.push_back(d.digest);
    }
    ASB_RETURN_IF_ERROR(FetchLayers(client, pm.manifest.layers, &bytes).map_error([&](Error e) {
      return e.Wrap("pulling " + ref.String());
    }));
  }
  ASB_RETURN_IF_ERROR(Record(ref, pm.digest, layers, config));
  ASB_ASSIGN_OR_RETURN(CachedImage img, Load(ref, pm.digest));
  img.downloaded = bytes > 0;
  img.download_bytes = bytes;
  img.took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASB_LOG(INFO, "image: pulled", "ref", img.ref, "from", from.registry, "digest", pm.digest,
          "bytes", bytes, "ms", img.took.count());
  return img;
}

}  // namespace asb::image
