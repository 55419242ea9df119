#include "image/oci_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/file_util.h"
#include "base/strings.h"

namespace asb::image {
namespace {

// The topmost layer's lstat of relative `rel`: 0 = absent or whited out, else the st_mode.
mode_t TopmostType(const std::vector<std::string>& layers, const std::string& rel,
                   std::string* layer_out = nullptr) {
  for (const std::string& layer : layers) {
    struct stat st;
    if (::lstat((layer + "/" + rel).c_str(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return 0;  // overlayfs whiteout
    if (layer_out != nullptr) *layer_out = layer;
    return st.st_mode;
  }
  return 0;
}

// The image's own copy of an /etc file (for User names), never read through a symlink.
std::string ImageFile(const std::vector<std::string>& layers, const std::string& path) {
  if (!CheckNoSymlinkAlong(layers, path)) return "";
  std::string layer;
  mode_t m = TopmostType(layers, path.substr(1), &layer);
  if (!S_ISREG(m)) return "";
  int fd = ::open((layer + path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 && out.size() < (4u << 20)) out.append(buf, n);
  ::close(fd);
  return out;
}

// Field 2 (uid/gid) and 3 (primary gid) of `name`'s line in a passwd/group text.
std::optional<std::pair<uint32_t, uint32_t>> LookUp(const std::string& text,
                                                    const std::string& name) {
  for (const std::string& line : Split(text, '\n')) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 3 || f[0] != name) continue;
    auto id = ParseInt(f[2]);
    auto gid = f.size() > 3 ? ParseInt(f[3]) : std::nullopt;
    if (!id || *id < 0 || *id > 0xfffffffeLL) return std::nullopt;
    return std::make_pair(static_cast<uint32_t>(*id),
                          static_cast<uint32_t>(gid && *gid >= 0 ? *gid : *id));
  }
  return std::nullopt;
}

Status ApplyUser(const std::vector<std::string>& layers, const std::string& user,
                 ResolvedImage& img) {
  if (user.empty()) return {};
  size_t colon = user.find(':');
  std::string u = user.substr(0, colon);
  std::string g = colon == std::string::npos ? "" : user.substr(colon + 1);
  auto numeric = [](const std::string& s) -> std::optional<uint32_t> {
    auto v = ParseInt(s);
    if (!v || *v < 0 || *v > 0xfffffffeLL) return std::nullopt;
    return static_cast<uint32_t>(*v);
  };
  if (auto id = numeric(u)) {
    img.uid = *id;
    auto pw = LookUp(ImageFile(layers, "/etc/passwd"), u);
    img.gid = pw ? pw->second : *id;
  } else {
    auto pw = LookUp(ImageFile(layers, "/etc/passwd"), u);
    if (!pw) {
      return MakeError(Code::kInvalidArgument, "image User \"" + user + "\": unable to find user " +
                                                   u + ": no matching entries in passwd file");
    }
    img.uid = pw->first;
    img.gid = pw->second;
  }
  if (!g.empty()) {
    if (auto id = numeric(g)) {
      img.gid = *id;
    } else {
      auto gr = LookUp(ImageFile(layers, "/etc/group"), g);
      if (!gr) {
        return MakeError(Code::kInvalidArgument, "image User \"" + user +
                                                     "\": unable to find group " + g +
                                                     ": no matching entries in group file");
      }
      img.gid = gr->first;
    }
  }
  return {};
}

Status MkdirMode(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return ErrnoUnexpected("mkdir " + path);
  if (::chmod(path.c_str(), mode) != 0) return ErrnoUnexpected("chmod " + path);
  return {};
}

}  // namespace

Status CheckNoSymlinkAlong(const std::vector<std::string>& layers, const std::string& path) {
  std::string rel;
  for (const std::string& part : Split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return MakeError(Code::kInvalidArgument, "path \"" + path + "\" has \"..\"");
    rel += (rel.empty() ? "" : "/") + part;
    mode_t m = TopmostType(layers, rel);
    if (m == 0) return {};  // absent from here on: created as directories
    if (S_ISLNK(m)) {
      return MakeError(Code::kInvalidArgument,
                       "/" + rel + " is a symlink in the image (on the way to " + path + ")");
    }
  }
  return {};
}

Status GenerateAgentLayer(const std::string& dir, const std::string& agent_path) {
  ASB_RETURN_IF_ERROR(MkdirMode(dir, 0755));
  for (const char* d : {"asb", "asb/bin", "proc", "dev"}) {
    ASB_RETURN_IF_ERROR(MkdirMode(dir + "/" + d, 0755));
  }
  ASB_RETURN_IF_ERROR(MkdirMode(dir + "/tmp", 01777));
  ASB_ASSIGN_OR_RETURN(std::string data, ReadFile(agent_path));
  return AtomicWriteFile(dir + "/asb/bin/asb-agent", data, 0755);
}

Result<ResolvedImage> ToResolvedImage(const CachedImage& image, const std::string& agent_layer) {
  const registry::ImageConfig& c = image.config;
  ResolvedImage img;
  img.rootfs.lower_dirs = image.layer_dirs;
  img.rootfs.lower_dirs.insert(img.rootfs.lower_dirs.begin(), agent_layer);
  img.env = c.env;
  img.working_dir = c.working_dir;
  if (!img.working_dir.empty()) {
    if (img.working_dir[0] != '/') img.working_dir = "/" + img.working_dir;
    auto st = CheckNoSymlinkAlong(image.layer_dirs, img.working_dir);
    if (!st) return tl::unexpected(st.error().Wrap("image WorkingDir"));
  }
  ASB_RETURN_IF_ERROR(ApplyUser(image.layer_dirs, c.user, img));
  if (c.exposed_ports.empty()) {
    img.entrypoint = {"/asb/bin/asb-agent"};
    img.port = kAgentPort;
    bool has_path = false;
    for (const std::string& e : img.env) has_path = has_path || StartsWith(e, "PATH=");
    if (!has_path) {
      img.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    }
  } else {
    img.entrypoint = c.entrypoint;
    img.cmd = c.cmd;
    img.port = c.exposed_ports.front();
  }
  // Beside the image's own process (its Entrypoint, or a container `command`), unless the
  // image serves 8888 itself (upstream's python-runtime does: that is the opt-out).
  if (std::find(c.exposed_ports.begin(), c.exposed_ports.end(), kAgentPort) ==
      c.exposed_ports.end()) {
    img.exec_agent = "/asb/bin/asb-agent";
    img.exec_agent_port = kAgentPort;
  }
  img.image_id = image.ref.substr(0, image.ref.find('@'));
  if (size_t colon = img.image_id.rfind(':');
      colon != std::string::npos && img.image_id.find('/', colon) == std::string::npos) {
    img.image_id = img.image_id.substr(0, colon);
  }
  img.image_id += "@" + image.manifest_digest;  // repo@sha256:..., as containerStatuses show it
  img.pull.downloaded = image.downloaded;
  img.pull.bytes = image.download_bytes;
  img.pull.took = image.took;
  return img;
}

}  // namespace asb::image
