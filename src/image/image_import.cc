// ImageCache::Import: images from files instead of a registry, for air-gapped machines.
//   - an OCI image layout directory (oci-layout, index.json, blobs/sha256/<hex>);
//   - an OCI archive: a tar of such a layout;
//   - a `docker save` archive: manifest.json [{Config, RepoTags, Layers}] with the config and
//     uncompressed layer tars beside it (skopeo's docker-archive: the same shape).
// An archive is first extracted into tmp/ (regular files and directories only, names cleaned;
// the archive's symlinks, which `docker save` uses for repeated layers, are followed by name
// inside the archive and never created), then read like a layout. Every blob is checked against
// its digest before use. A docker archive has no manifest: one is made (OCI, uncompressed
// layers named by their own digest) and its digest is the image id, as Docker's image id is
// made from what it holds.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "image/image_cache.h"
#include "image/layer_unpack.h"
#include "image/registry/manifest.h"
#include "image/registry/reference.h"
#include "image/registry/sha256.h"

namespace asb::image {
namespace {

using registry::Descriptor;

// Small JSON documents of an archive (manifests, indexes, configs) are read up to this.
constexpr size_t kMaxDocBytes = 8u << 20;
constexpr int kMaxLinkHops = 8;

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};

// An extracted archive or a layout directory: files by cleaned name.
class Tree {
 public:
  explicit Tree(std::string root) : root_(std::move(root)) {}

  // Extracts tar `path` into root_ (which exists and is empty).
  Status Extract(const std::string& path) {
    std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
      return MakeError(Code::kInvalidArgument,
                       path + ": not a tar archive: " + archive_error_string(a.get()));
    archive_entry* e = nullptr;
    int rc;
    while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
      const char* raw = archive_entry_pathname(e);
      ASB_ASSIGN_OR_RETURN(std::string name, CleanEntryPath(raw ? raw : ""));
      if (name.empty()) continue;
      const mode_t type = archive_entry_filetype(e);
      if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(e);
        std::string dir =
            name.find('/') == std::string::npos ? "" : name.substr(0, name.rfind('/') + 1);
        std::string t = target ? target : "";
        links_[name] = t.empty() || t[0] == '/' ? t : dir + t;
        continue;
      }
      if (type != AE_IFREG) continue;  // directories are made as needed; nothing else matters
      std::string dest = root_ + "/" + name;
      ASB_RETURN_IF_ERROR(MakeDirs(dest.substr(0, dest.rfind('/')), 0700));
      UniqueFd fd(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) return ErrnoUnexpected("create " + dest + " (a name twice in the archive?)");
      if (archive_read_data_into_fd(a.get(), fd.get()) != ARCHIVE_OK)
        return MakeError(Code::kInvalidArgument,
                         path + ": reading \"" + name + "\": " + archive_error_string(a.get()));
    }
    if (rc != ARCHIVE_EOF)
      return MakeError(Code::kInvalidArgument, path + ": " + archive_error_string(a.get()));
    return {};
  }

  // The file `name` names, following the archive's symlinks (inside it only).
  Result<std::string> File(std::string name) const {
    for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
      auto clean = CleanEntryPath(name);
      if (!clean) return tl::unexpected(clean.error());
      auto link = links_.find(*clean);
      if (link == links_.end()) {
        std::string path = root_ + "/" + *clean;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
          return MakeError(Code::kInvalidArgument, "the image has no file \"" + *clean + "\"");
        return path;
      }
      if (link->second.empty() || link->second[0] == '/')
        return MakeError(Code::kInvalidArgument, "\"" + *clean + "\" links outside the archive");
      name = link->second;
    }
    return MakeError(Code::kInvalidArgument, "\"" + name + "\": too many links");
  }

  Result<std::string> Read(const std::string& name) const {
    ASB_ASSIGN_OR_RETURN(std::string path, File(name));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return ErrnoUnexpected("stat " + path);
    if (static_cast<size_t>(st.st_size) > kMaxDocBytes)
      return MakeError(Code::kInvalidArgument, "\"" + name + "\" is too big for a JSON document");
    return ReadFile(path);
  }

  bool Has(const std::string& name) const { return File(name).has_value(); }

 private:
  std::string root_;
  std::map<std::string, std::string> links_;
};

Result<std::string> FileDigest(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoUnexpected("open " + path);
  registry::Sha256 h;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) h.Update({buf, static_cast<size_t>(n)});
  if (n < 0) return ErrnoUnexpected("read " + path);
  return h.Digest();
}

// One image found in the input: what Import records.
struct Found {
  std::vector<std::string> names;
  std::string manifest_digest;
  std::string config;
  std::vector<std::pair<Descriptor, std::string>> layers;  // base first, with their files
};

std::string BlobName(const std::string& digest) { return "blobs/sha256/" + DigestHex(digest); }

// A blob of the layout, checked against its digest.
Result<std::string> CheckedBlob(const Tree& t, const Descriptor& d) {
  ASB_ASSIGN_OR_RETURN(std::string path, t.File(BlobName(d.digest)));
  ASB_ASSIGN_OR_RETURN(std::string got, FileDigest(path));
  if (got != d.digest)
    return MakeError(Code::kInvalidArgument,
                     "blob " + d.digest + " is corrupt: its content has digest " + got);
  return path;
}

Result<std::string> CheckedDoc(const Tree& t, const Descriptor& d) {
  ASB_ASSIGN_OR_RETURN(std::string path, CheckedBlob(t, d));
  (void)path;
  return t.Read(BlobName(d.digest));
}

Result<std::vector<Found>> ReadLayout(const Tree& t) {
  ASB_ASSIGN_OR_RETURN(std::string text, t.Read("index.json"));
  ASB_ASSIGN_OR_RETURN(Json index, ParseJson(text));
  if (!index.is_object() || !index["manifests"].is_array())
    return MakeError(Code::kInvalidArgument, "index.json has no manifests list");
  std::vector<Found> out;
  for (const Json& m : index["manifests"]) {
    if (!m.is_object()) continue;
    Descriptor d{m.value("mediaType", ""), m.value("digest", ""), m.value("size", int64_t{0})};
    if (!registry::IsSha256Digest(d.digest))
      return MakeError(Code::kInvalidArgument, "index.json: bad digest \"" + d.digest + "\"");
    Found f;
    if (const Json* ann = Find(m, "annotations"); ann && ann->is_object()) {
      // containerd's full name first; the OCI ref.name is often a bare tag.
      for (const char* key : {"io.containerd.image.name", "org.opencontainers.image.ref.name"})
        if (auto it = ann->find(key); it != ann->end() && it->is_string() && f.names.empty())
          f.names.push_back(it->get<std::string>());
    }
    ASB_ASSIGN_OR_RETURN(std::string body, CheckedDoc(t, d));
    ASB_ASSIGN_OR_RETURN(registry::Manifest man, registry::ParseManifest(body, d.media_type));
    f.manifest_digest = d.digest;
    if (man.is_index) {
      f.manifest_digest = man.platform_manifest.digest;
      ASB_ASSIGN_OR_RETURN(body, CheckedDoc(t, man.platform_manifest));
      ASB_ASSIGN_OR_RETURN(man, registry::ParseManifest(body, man.platform_manifest.media_type));
      if (man.is_index) return MakeError(Code::kInvalidArgument, "an index inside an index");
    }
    ASB_ASSIGN_OR_RETURN(f.config, CheckedDoc(t, man.config));
    for (const Descriptor& l : man.layers) {
      ASB_ASSIGN_OR_RETURN(std::string path, CheckedBlob(t, l));
      f.layers.emplace_back(l, path);
    }
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<Found>> ReadDockerArchive(const Tree& t) {
  ASB_ASSIGN_OR_RETURN(std::string text, t.Read("manifest.json"));
  ASB_ASSIGN_OR_RETURN(Json list, ParseJson(text));
  if (!list.is_array()) return MakeError(Code::kInvalidArgument, "manifest.json is not a list");
  std::vector<Found> out;
  for (const Json& m : list) {
    if (!m.is_object() || !m["Config"].is_string() || !m["Layers"].is_array())
      return MakeError(Code::kInvalidArgument, "manifest.json: an entry without Config/Layers");
    Found f;
    if (const Json* tags = Find(m, "RepoTags"); tags && tags->is_array())
      for (const Json& tag : *tags)
        if (tag.is_string()) f.names.push_back(tag.get<std::string>());
    ASB_ASSIGN_OR_RETURN(f.config, t.Read(m["Config"].get<std::string>()));
    Json manifest = {{"schemaVersion", 2},
                     {"mediaType", registry::kOciManifest},
                     {"config",
                      {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                       {"digest", registry::Sha256Digest(f.config)},
                       {"size", f.config.size()}}},
                     {"layers", Json::array()}};
    for (const Json& l : m["Layers"]) {
      if (!l.is_string()) return MakeError(Code::kInvalidArgument, "manifest.json: bad layer");
      ASB_ASSIGN_OR_RETURN(std::string path, t.File(l.get<std::string>()));
      ASB_ASSIGN_OR_RETURN(std::string digest, FileDigest(path));
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) return ErrnoUnexpected("stat " + path);
      Descriptor d{"application/vnd.oci.image.layer.v1.tar", digest, st.st_size};
      manifest["layers"].push_back(
          {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
      f.layers.emplace_back(d, path);
    }
    f.manifest_digest = registry::Sha256Digest(manifest.dump());
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Result<std::vector<ImageInfo>> ImageCache::Import(const std::string& path,
                                                  const std::string& name) {
  for (const char* d : {"layers", "images", "refs", "tmp"}) {
    ASB_RETURN_IF_ERROR(MakeDirs(dir_ + "/" + d, 0700));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoUnexpected("stat " + path);
  const bool is_dir = S_ISDIR(st.st_mode);
  const std::string root = is_dir ? path : dir_ + "/tmp/import-" + RandomHex(6);
  auto done = [&] {
    if (!is_dir) (void)RemoveTree(root);
  };
  Tree tree(root);
  std::set<std::string> added;
  Status imported = [&]() -> Status {
    if (!is_dir) {
      ASB_RETURN_IF_ERROR(MakeDirs(root, 0700));
      ASB_RETURN_IF_ERROR(tree.Extract(path));
    }
    Result<std::vector<Found>> found =
        tree.Has("index.json")      ? ReadLayout(tree)
        : tree.Has("manifest.json") ? ReadDockerArchive(tree)
                                    : MakeError(Code::kInvalidArgument,
                                                "neither an OCI layout (index.json) nor a docker "
                                                "save archive (manifest.json)");
    if (!found) return tl::unexpected(found.error());
    if (found->empty()) return MakeError(Code::kInvalidArgument, "it holds no image");
    if (!name.empty() && found->size() > 1)
      return MakeError(Code::kInvalidArgument, "a name was given but it holds " +
                                                   std::to_string(found->size()) + " images");
    std::shared_lock gc(gc_mu_);
    for (Found& f : *found) {
      std::vector<std::string> names = name.empty() ? f.names : std::vector<std::string>{name};
      std::vector<registry::Reference> refs;
      for (const auto& n : names) {
        auto ref = registry::ParseReference(n, options_.default_registry);
        if (!ref)
          return MakeError(Code::kInvalidArgument,
                           "image " + f.manifest_digest + " is named \"" + n +
                               "\", not a full reference (" + ref.error().message +
                               "): name it with --name HOST/REPOSITORY[:TAG]");
        ref->digest.clear();  // a name, not a pin
        refs.push_back(*ref);
      }
      if (refs.empty())
        return MakeError(Code::kInvalidArgument, "image " + f.manifest_digest +
                                                     " has no name: name it with --name "
                                                     "HOST/REPOSITORY[:TAG]");
      ASB_RETURN_IF_ERROR(registry::ParseImageConfig(f.config));  // linux/amd64, well-formed
      std::vector<std::string> layers;
      for (const auto& [d, file] : f.layers) {
        layers.push_back(d.digest);
        const std::string layer_dir = dir_ + "/layers/" + DigestHex(d.digest);
        auto lock = LockFor("layer:" + d.digest);
        std::lock_guard l(*lock);
        if (PathExists(layer_dir)) continue;
        const std::string tmp =
            dir_ + "/tmp/" + DigestHex(d.digest).substr(0, 16) + "-" + RandomHex(4);
        ASB_RETURN_IF_ERROR(MakeDirs(tmp, 0755));
        auto unpacked = UnpackLayer(file, tmp);
        Status moved = unpacked ? Status() : Status(tl::unexpected(unpacked.error()));
        if (moved && ::rename(tmp.c_str(), layer_dir.c_str()) != 0)
          moved = ErrnoUnexpected("rename " + tmp);
        if (!moved) {
          (void)RemoveTree(tmp);
          return tl::unexpected(moved.error().Wrap("layer " + d.digest));
        }
      }
      for (const auto& ref : refs) {
        ASB_RETURN_IF_ERROR(Record(ref, f.manifest_digest, layers, f.config));
        ASB_LOG(INFO, "image: imported", "ref", ref.String(), "digest", f.manifest_digest);
      }
      added.insert(f.manifest_digest);
    }
    return {};
  }();
  done();
  if (!imported) return tl::unexpected(imported.error().Wrap("importing " + path));
  AfterAdd(added);
  ASB_ASSIGN_OR_RETURN(std::vector<ImageInfo> all, List());
  std::vector<ImageInfo> out;
  for (auto& info : all)
    if (added.count(info.digest)) out.push_back(std::move(info));
  return out;
}

}  // namespace asb::image
