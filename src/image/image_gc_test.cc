// ImageCache import, listing, removal and the disk budget on real files: OCI layouts, OCI
// archives and docker-save archives written here (libarchive), unpacked into a real cache.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>

#include "base/file_util.h"
#include "base/json_util.h"
#include "image/image_cache.h"
#include "image/registry/manifest.h"
#include "image/registry/sha256.h"
#include "image/tar_dir.h"
#include "tests/testing/test_util.h"

namespace asb::image {
namespace {

using asb::testing::TempDir;
using registry::Sha256Digest;

// A tar holding `files` (path -> contents), uncompressed, in memory.
std::string Tar(const std::map<std::string, std::string>& files) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  std::string out(1 << 20, '\0');
  size_t used = 0;
  // Generous buffer: the test layers are small.
  for (const auto& [path, data] : files) out.resize(out.size() + data.size() + 4096);
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
  for (const auto& [path, data] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

std::string Config(size_t layers) {
  Json diff = Json::array();
  for (size_t i = 0; i < layers; ++i) diff.push_back(Sha256Digest("layer" + std::to_string(i)));
  return Json{{"architecture", "amd64"},
              {"os", "linux"},
              {"config", {{"Cmd", {"sh"}}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff}}}}
      .dump();
}

void PutBlob(const std::string& layout, const std::string& data) {
  std::string hex = Sha256Digest(data).substr(7);
  ASSERT_TRUE(MakeDirs(layout + "/blobs/sha256"));
  ASSERT_TRUE(AtomicWriteFile(layout + "/blobs/sha256/" + hex, data));
}

Json Desc(const std::string& media, const std::string& data) {
  return {{"mediaType", media}, {"digest", Sha256Digest(data)}, {"size", data.size()}};
}

// An OCI layout holding one image of `layers` under `ref_name`. Returns the manifest digest.
std::string MakeLayout(const std::string& layout, const std::vector<std::string>& layers,
                       const std::string& ref_name) {
  std::string config = Config(layers.size());
  PutBlob(layout, config);
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", registry::kOciManifest},
                   {"config", Desc("application/vnd.oci.image.config.v1+json", config)},
                   {"layers", Json::array()}};
  for (const auto& l : layers) {
    PutBlob(layout, l);
    manifest["layers"].push_back(Desc("application/vnd.oci.image.layer.v1.tar", l));
  }
  std::string m = manifest.dump();
  PutBlob(layout, m);
  Json entry = Desc(std::string(registry::kOciManifest), m);
  entry["annotations"] = {{"org.opencontainers.image.ref.name", ref_name}};
  EXPECT_TRUE(AtomicWriteFile(layout + "/index.json",
                              Json{{"schemaVersion", 2}, {"manifests", {entry}}}.dump()));
  EXPECT_TRUE(AtomicWriteFile(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  return Sha256Digest(m);
}

class ImageGcTest : public ::testing::Test {
 protected:
  std::string Cache() { return tmp_.path() + "/cache"; }
  TempDir tmp_;
};

TEST_F(ImageGcTest, ImportsAnOciLayoutAnOciArchiveAndADockerArchive) {
  ImageCache cache(Cache(), {});
  std::string base = Tar({{"bin/tool", "tool"}});
  // A layout directory, named by --name (its ref.name is a bare tag).
  std::string layout = tmp_.path() + "/layout";
  std::string digest = MakeLayout(layout, {base, Tar({{"app/a", "a"}})}, "1");
  auto bare = cache.Import(layout, "");
  ASSERT_FALSE(bare);
  EXPECT_NE(bare.error().message.find("--name"), std::string::npos) << bare.error().message;
  auto imported = cache.Import(layout, "registry.test/team/app:1");
  ASSERT_TRUE(imported) << imported.error().message;
  ASSERT_EQ(imported->size(), 1u);
  EXPECT_EQ((*imported)[0].digest, digest);
  EXPECT_EQ((*imported)[0].refs, std::vector<std::string>{"registry.test/team/app:1"});
  auto got = cache.Get("registry.test/team/app:1", PullPolicy::kNever, nullptr);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->layer_dirs.size(), 2u);
  EXPECT_EQ(ReadFile(got->layer_dirs[0] + "/app/a").value_or(""), "a");  // uppermost first
  EXPECT_EQ(ReadFile(got->layer_dirs[1] + "/bin/tool").value_or(""), "tool");

  // The same layout as an OCI archive (what asbctl sends for a directory), full name inside.
  std::string layout2 = tmp_.path() + "/layout2";
  MakeLayout(layout2, {base}, "registry.test/team/base:2");
  ASSERT_TRUE(TarDirectory(layout2, tmp_.path() + "/oci.tar"));
  imported = cache.Import(tmp_.path() + "/oci.tar", "");
  ASSERT_TRUE(imported) << imported.error().message;
  EXPECT_EQ((*imported)[0].refs, std::vector<std::string>{"registry.test/team/base:2"});

  // A docker save archive: manifest.json, the config and layer tars beside it.
  std::string config = Config(1);
  std::string layer = Tar({{"etc/os-release", "docker"}});
  std::string docker_dir = tmp_.path() + "/docker";
  ASSERT_TRUE(MakeDirs(docker_dir + "/abc"));
  ASSERT_TRUE(AtomicWriteFile(docker_dir + "/cfg.json", config));
  ASSERT_TRUE(AtomicWriteFile(docker_dir + "/abc/layer.tar", layer));
  ASSERT_TRUE(AtomicWriteFile(docker_dir + "/manifest.json",
                              Json::array({{{"Config", "cfg.json"},
                                            {"RepoTags", {"registry.test/team/docker:3"}},
                                            {"Layers", {"abc/layer.tar"}}}})
                                  .dump()));
  ASSERT_TRUE(TarDirectory(docker_dir, tmp_.path() + "/docker.tar"));
  imported = cache.Import(tmp_.path() + "/docker.tar", "");
  ASSERT_TRUE(imported) << imported.error().message;
  got = cache.Get("registry.test/team/docker:3", PullPolicy::kNever, nullptr);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(ReadFile(got->layer_dirs[0] + "/etc/os-release").value_or(""), "docker");

  auto list = cache.List();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 3u);
  auto left = ListSubdirs(Cache() + "/tmp");
  EXPECT_TRUE(left && left->empty()) << "import left files in tmp/";
}

TEST_F(ImageGcTest, ACorruptBlobIsRefusedAndLeavesNothing) {
  ImageCache cache(Cache(), {});
  std::string layout = tmp_.path() + "/layout";
  std::string layer = Tar({{"f", "contents"}});
  MakeLayout(layout, {layer}, "registry.test/x:1");
  std::string blob = layout + "/blobs/sha256/" + Sha256Digest(layer).substr(7);
  std::string bad = layer;
  bad[600] ^= 1;
  ASSERT_TRUE(AtomicWriteFile(blob, bad));
  auto imported = cache.Import(layout, "");
  ASSERT_FALSE(imported);
  EXPECT_NE(imported.error().message.find("is corrupt"), std::string::npos)
      << imported.error().message;
  auto layers = ListSubdirs(Cache() + "/layers");
  EXPECT_TRUE(layers && layers->empty());
  auto list = cache.List();
  EXPECT_TRUE(list && list->empty());
}

TEST_F(ImageGcTest, RemoveRefusesInUseAndKeepsSharedLayers) {
  ImageCache cache(Cache(), {});
  std::string shared = Tar({{"shared", std::string(100000, 's')}});
  std::string a = MakeLayout(tmp_.path() + "/a", {shared, Tar({{"a", "a"}})}, "registry.test/a:1");
  std::string b = MakeLayout(tmp_.path() + "/b", {shared, Tar({{"b", "b"}})}, "registry.test/b:1");
  ASSERT_TRUE(cache.Import(tmp_.path() + "/a", ""));
  ASSERT_TRUE(cache.Import(tmp_.path() + "/b", ""));
  auto found = cache.Find("registry.test/a:1");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, a);
  EXPECT_EQ(cache.Find(a.substr(7, 12)).value_or(""), a);  // a short digest

  auto refused = cache.Remove(a, {a});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kFailedPrecondition);

  auto removed = cache.Remove(a, {b});
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->removed, std::vector<std::string>{a});
  EXPECT_GT(removed->freed_bytes, 0);
  EXPECT_FALSE(cache.Get("registry.test/a:1", PullPolicy::kNever, nullptr));
  auto still = cache.Get("registry.test/b:1", PullPolicy::kNever, nullptr);
  ASSERT_TRUE(still) << still.error().message;  // the shared layer stayed
  EXPECT_TRUE(PathExists(still->layer_dirs[1] + "/shared"));
  auto layers = ListSubdirs(Cache() + "/layers");
  ASSERT_TRUE(layers);
  EXPECT_EQ(layers->size(), 2u);

  auto pruned = cache.Prune({});
  ASSERT_TRUE(pruned);
  EXPECT_EQ(pruned->removed, std::vector<std::string>{b});
  layers = ListSubdirs(Cache() + "/layers");
  EXPECT_TRUE(layers && layers->empty());
  EXPECT_EQ(cache.CacheBytes().value_or(-1), 0);
}

// Sets image `digest`'s last use to `seconds_ago` (imports in one clock tick tie otherwise).
void SetLastUse(const std::string& cache, const std::string& digest, int seconds_ago) {
  std::string file = cache + "/images/" + digest.substr(7) + ".json";
  timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds_ago;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0) << file;
}

TEST_F(ImageGcTest, TheDiskBudgetRemovesLeastRecentlyUsedImagesNoPodUses) {
  std::set<std::string> in_use;
  ImageCacheOptions options;
  // Each image is one ~1 MiB layer of its own; the budget holds three and a half of them, and
  // collection goes down to 80% of it (two and a bit).
  options.disk_budget_bytes = 3600 * 1024;
  options.in_use = [&] { return in_use; };
  ImageCache cache(Cache(), options);
  std::vector<std::string> digests;
  auto add = [&](int i) {
    std::string dir = tmp_.path() + "/l" + std::to_string(i);
    std::string name = "registry.test/img" + std::to_string(i) + ":1";
    digests.push_back(
        MakeLayout(dir, {Tar({{"data", std::string(1 << 20, static_cast<char>('a' + i))}})}, name));
    auto imported = cache.Import(dir, "");
    ASSERT_TRUE(imported) << imported.error().message;
  };
  auto left = [&] {
    std::set<int> out;
    auto list = cache.List();
    EXPECT_TRUE(list);
    for (const auto& info : *list)
      for (size_t i = 0; i < digests.size(); ++i)
        if (digests[i] == info.digest) out.insert(static_cast<int>(i));
    return out;
  };
  for (int i = 0; i < 3; ++i) add(i);
  EXPECT_EQ(left(), (std::set<int>{0, 1, 2}));  // within the budget
  for (int i = 0; i < 3; ++i) SetLastUse(Cache(), digests[i], 300 - 10 * i);
  // img0, the oldest import, is used again: img1 and img2 are now the least recently used.
  ASSERT_TRUE(cache.Get("registry.test/img0:1", PullPolicy::kNever, nullptr));
  add(3);
  EXPECT_EQ(left(), (std::set<int>{0, 3}));
  EXPECT_LE(cache.CacheBytes().value_or(1 << 30), options.disk_budget_bytes * 8 / 10);

  // An image a pod uses stays however old it is.
  in_use = {digests[0]};
  SetLastUse(Cache(), digests[0], 1000);
  add(4);
  add(5);
  EXPECT_EQ(left(), (std::set<int>{0, 5}));
  EXPECT_LE(cache.CacheBytes().value_or(1 << 30), options.disk_budget_bytes);
}

}  // namespace
}  // namespace asb::image
