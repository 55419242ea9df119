// asbctl image pull|import|ls|rm|prune: the node's image cache, through asbd's image API
// (cmd/asbd/image_api.h; docs/images.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "api/table.h"
#include "base/clock.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "cli/cli.h"
#include "image/tar_dir.h"

namespace asb::cli {
namespace {

constexpr char kPrefix[] = "/asb/v1/images";

// --node NAME: that node's cache, through the API server's nodes/proxy (an `asbd node` process
// of the split topology; asbd's own node is served without the hop). Default: asbd's own.
std::string Prefix(const Context& ctx) {
  std::string node = ctx.args.Get("node");
  if (node.empty()) return kPrefix;
  return "/api/v1/nodes/" + UrlEncode(node) + "/proxy" + kPrefix;
}
// Each upload chunk stays well under asbd's request limit (maxRequestBytes, 3 MiB by default).
constexpr size_t kChunkBytes = 1u << 20;

std::string HumanBytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

std::string ShortDigest(const std::string& d) {
  return d.substr(0, std::min<size_t>(d.size(), 19));
}

void PrintRows(Context& ctx, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    fprintf(ctx.out, "%s\n", line.c_str());
  }
}

int Ls(Context& ctx) {
  auto list = ctx.client->Request("GET", Prefix(ctx));
  if (!list) return ReportError(ctx, list.error());
  if (ctx.args.Get("output") == "json") {
    fprintf(ctx.out, "%s\n", list->dump(2).c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "DIGEST", "SIZE", "LAST USED", "IN USE"}};
  SystemTime now = RealClock::Get().Now();
  for (const Json& i : (*list)["items"]) {
    std::vector<std::string> names = i.value("names", std::vector<std::string>{});
    if (names.empty()) names.push_back("<none>");
    auto used = ParseRfc3339(i.value("lastUsed", ""));
    std::string ago =
        used ? api::HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - *used)) +
                   " ago"
             : "<unknown>";
    for (const auto& n : names)
      rows.push_back({n, ShortDigest(i.value("digest", "")),
                      HumanBytes(i.value("sizeBytes", int64_t{0})), ago,
                      i.value("inUse", false) ? "yes" : "no"});
  }
  PrintRows(ctx, rows);
  int64_t budget = list->value("diskBudgetBytes", int64_t{0});
  fprintf(ctx.out, "cache: %s%s\n", HumanBytes(list->value("cacheBytes", int64_t{0})).c_str(),
          budget > 0 ? (" of a " + HumanBytes(budget) + " budget").c_str() : "");
  return kExitOk;
}

int Pull(Context& ctx, const std::string& ref) {
  Json body = {{"image", ref}, {"namespace", ctx.namespace_name}};
  if (auto it = ctx.args.flags.find("pull-secret"); it != ctx.args.flags.end())
    body["pullSecrets"] = it->second;
  auto got = ctx.client->Request("POST", Prefix(ctx) + "/pull", DumpJson(body));
  if (!got) return ReportError(ctx, got.error());
  int64_t bytes = got->value("downloadedBytes", int64_t{0});
  fprintf(ctx.out, "%s: %s (%s)\n", got->value("name", ref).c_str(),
          got->value("digest", "").c_str(),
          bytes > 0 ? ("downloaded " + HumanBytes(bytes) + " in " +
                       std::to_string(got->value("tookMs", int64_t{0})) + "ms")
                          .c_str()
                    : "already present");
  return kExitOk;
}

int Import(Context& ctx, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fprintf(ctx.err, "error: %s: %s\n", path.c_str(), strerror(errno));
    return kExitError;
  }
  // A layout directory goes as a tar of itself: asbd reads that as an OCI archive.
  std::string file = path, temp;
  if (S_ISDIR(st.st_mode)) {
    const char* tmpdir = getenv("TMPDIR");
    temp = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/asbctl-import-" + RandomHex(6) +
           ".tar";
    if (auto made = image::TarDirectory(path, temp); !made) {
      (void)::unlink(temp.c_str());
      return ReportError(ctx, made.error());
    }
    file = temp;
  }
  auto finish = [&](int code) {
    if (!temp.empty()) (void)::unlink(temp.c_str());
    return code;
  };
  auto upload = ctx.client->Request("POST", Prefix(ctx) + "/uploads", "{}");
  if (!upload) return finish(ReportError(ctx, upload.error()));
  const std::string base = Prefix(ctx) + "/uploads/" + upload->value("id", "");
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    fprintf(ctx.err, "error: %s: %s\n", file.c_str(), strerror(errno));
    return finish(kExitError);
  }
  std::string chunk(kChunkBytes, '\0');
  int64_t offset = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0) {
      fprintf(ctx.err, "error: reading %s: %s\n", file.c_str(), strerror(errno));
      (void)ctx.client->Request("DELETE", base);
      return finish(kExitError);
    }
    if (n == 0) break;
    auto sent =
        ctx.client->Request("PUT", base + "?offset=" + std::to_string(offset),
                            chunk.substr(0, static_cast<size_t>(n)), "application/octet-stream");
    if (!sent) {
      (void)ctx.client->Request("DELETE", base);
      return finish(ReportError(ctx, sent.error()));
    }
    offset += n;
  }
  std::string target = base + "/import";
  if (std::string name = ctx.args.Get("name"); !name.empty()) target += "?name=" + UrlEncode(name);
  auto imported = ctx.client->Request("POST", target, "{}");
  if (!imported) return finish(ReportError(ctx, imported.error()));
  for (const Json& i : (*imported)["items"])
    for (const auto& n : i.value("names", std::vector<std::string>{}))
      fprintf(ctx.out, "imported %s: %s (%s)\n", n.c_str(), i.value("digest", "").c_str(),
              HumanBytes(i.value("sizeBytes", int64_t{0})).c_str());
  return finish(kExitOk);
}

int PrintGc(Context& ctx, const Json& r) {
  for (const Json& d : r["removed"]) fprintf(ctx.out, "removed %s\n", d.get<std::string>().c_str());
  fprintf(ctx.out, "freed %s; cache now %s\n",
          HumanBytes(r.value("freedBytes", int64_t{0})).c_str(),
          HumanBytes(r.value("cacheBytes", int64_t{0})).c_str());
  return kExitOk;
}

int UsageError(Context& ctx) {
  fprintf(ctx.err,
          "error: usage: asbctl image pull REF [--pull-secret NAME -n NS] | import FILE|DIR "
          "[--name REF] | ls [-o json] | rm NAME|DIGEST... | prune  [--node NAME]\n");
  return kExitUsage;
}

}  // namespace

int RunImage(Context& ctx) {
  const auto& pos = ctx.args.positional;
  if (pos.empty()) return UsageError(ctx);
  const std::string& sub = pos[0];
  if ((sub == "ls" || sub == "list") && pos.size() == 1) return Ls(ctx);
  if (sub == "pull" && pos.size() == 2) return Pull(ctx, pos[1]);
  if (sub == "import" && pos.size() == 2) return Import(ctx, pos[1]);
  if (sub == "prune" && pos.size() == 1) {
    auto r = ctx.client->Request("POST", Prefix(ctx) + "/prune", "{}");
    return r ? PrintGc(ctx, *r) : ReportError(ctx, r.error());
  }
  if ((sub == "rm" || sub == "remove") && pos.size() >= 2) {
    int code = kExitOk;
    for (size_t i = 1; i < pos.size(); ++i) {
      auto r = ctx.client->Request("DELETE", Prefix(ctx) + "/" + pos[i]);
      if (!r) {
        code = ReportError(ctx, r.error());
        continue;
      }
      PrintGc(ctx, *r);
    }
    return code;
  }
  return UsageError(ctx);
}

}  // namespace asb::cli
