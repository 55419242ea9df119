#include "image/image_store.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file_util.h"
#include "base/json_util.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "image/oci_image.h"
#include "image/registry/auth.h"

namespace asb::image {
namespace {

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "sandbox:x:1000:1000:sandbox:/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "sandbox:x:1000:\n"
    "nogroup:x:65534:\n";
constexpr char kHosts[] =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n";
// hosts: dns too, through the resolv.conf the pod network gives each sandbox
// (net/dns_config.h).
constexpr char kNsswitch[] =
    "passwd: files\n"
    "group: files\n"
    "shadow: files\n"
    "hosts: files dns\n";

Status WriteText(const std::string& path, std::string_view text, int mode = 0644) {
  return AtomicWriteFile(path, text, mode);
}

Status Mkdir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoUnexpected("mkdir " + path);
  // mkdir applies the umask; the image needs exact modes (1777 for /tmp).
  if (::chmod(path.c_str(), mode) != 0) return ErrnoUnexpected("chmod " + path);
  return {};
}

// A cheap identity for the agent binary, so a rebuilt agent refreshes the image's copy.
Result<std::string> FileStamp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoUnexpected("stat " + path);
  return std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

Status CopyFile(const std::string& from, const std::string& to, int mode) {
  ASB_ASSIGN_OR_RETURN(std::string data, ReadFile(from));
  return AtomicWriteFile(to, data, mode);
}

bool SafeName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 128) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<ImageAlias> DefaultAliases() {
  // Upstream's python-runtime-sandbox from whichever registry a manifest names (the seed's
  // release image, or the staging build upstream's current example templates use): the
  // built-in image serves the same HTTP contract.
  return {{"registry.k8s.io/agent-sandbox/python-runtime-sandbox:*", std::string(kPythonRuntime)},
          {"registry.k8s.io/agent-sandbox/python-runtime-sandbox", std::string(kPythonRuntime)},
          {"*/agent-sandbox/python-runtime-sandbox:*", std::string(kPythonRuntime)},
          {"*/agent-sandbox/python-runtime-sandbox", std::string(kPythonRuntime)},
          {"python-runtime:*", std::string(kPythonRuntime)}};
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

ImageStore::ImageStore(std::string state_dir, ImageStoreOptions options)
    : state_dir_(std::move(state_dir)),
      options_(std::move(options)),
      cache_(state_dir_ + "/images/oci", options_.registry) {}

std::string ImageStore::AgentPath() const {
  return options_.agent_path.empty() ? SelfExeDir() + "/asb-agent" : options_.agent_path;
}

std::string ImageStore::ApplyAliases(std::string_view image_ref) const {
  for (const ImageAlias& a : options_.aliases) {
    if (GlobMatch(a.pattern, image_ref)) return a.target;
  }
  return std::string(image_ref);
}

Result<ResolvedImage> ImageStore::Resolve(const std::string& image_ref) {
  return ResolveFor({.image = image_ref});
}

Result<ResolvedImage> ImageStore::ResolveFor(const ImageRequest& request) {
  std::string ref(Trim(request.image));
  if (ref.empty()) return MakeError(Code::kInvalidArgument, "image reference is empty");
  std::string name = ApplyAliases(ref);
  if (name == kPythonRuntime) {
    std::lock_guard l(mu_);
    return ResolvePythonRuntime();
  }
  if (SafeName(name) && PathExists(ImagesDir() + "/" + name + "/rootfs")) {
    std::lock_guard l(mu_);
    return ResolveLocal(name);
  }
  auto registry = cache_.RegistryOf(name);
  if (registry) return ResolveOci(name, request);
  return MakeError(Code::kNotFound, "image \"" + ref +
                                        "\" not found: it is not the built-in python-runtime image "
                                        "nor a directory image under " +
                                        ImagesDir() + "/<name>/rootfs, and " +
                                        registry.error().message);
}

Result<std::string> ImageStore::AgentLayer() {
  const std::string agent = AgentPath();
  if (::access(agent.c_str(), R_OK) != 0) {
    return MakeError(Code::kFailedPrecondition, "images need the asb-agent binary, not found at " +
                                                    agent + " (build target asb-agent)");
  }
  ASB_ASSIGN_OR_RETURN(std::string stamp, FileStamp(agent));
  const std::string dir = cache_.dir() + "/agent";
  const std::string stamp_file = cache_.dir() + "/agent.stamp";
  ASB_RETURN_IF_ERROR(MakeDirs(cache_.dir(), 0700));
  if (!PathExists(dir)) {
    std::string tmp = cache_.dir() + "/.agent-" + RandomHex(6);
    Status made = GenerateAgentLayer(tmp, agent);
    if (made && ::rename(tmp.c_str(), dir.c_str()) != 0) made = ErrnoUnexpected("rename " + tmp);
    (void)RemoveTree(tmp);
    if (!made) return tl::unexpected(made.error().Wrap("generate the asb-agent layer"));
    ASB_RETURN_IF_ERROR(AtomicWriteFile(stamp_file, stamp));
  } else if (ReadFile(stamp_file).value_or("") != stamp) {
    // A rebuilt agent: one rename swaps the binary (running sandboxes keep their inode).
    ASB_RETURN_IF_ERROR(CopyFile(agent, dir + "/asb/bin/asb-agent", 0755));
    ASB_RETURN_IF_ERROR(AtomicWriteFile(stamp_file, stamp));
  }
  return dir;
}

Result<ResolvedImage> ImageStore::ResolveOci(const std::string& ref, const ImageRequest& request) {
  ASB_ASSIGN_OR_RETURN(PullPolicy policy, ParsePullPolicy(request.pull_policy, ref));
  // The first pull secret with an entry for the host asked about (the registry or a mirror).
  auto credentials = [&](const std::string& host) -> Result<std::optional<registry::Credentials>> {
    for (size_t i = 0; i < request.docker_configs.size(); ++i) {
      auto found = registry::CredentialsFor(request.docker_configs[i], host);
      if (!found)
        return tl::unexpected(found.error().Wrap("imagePullSecrets[" + std::to_string(i) + "]"));
      if (*found) return found;
    }
    return std::optional<registry::Credentials>();
  };
  std::string agent_layer;
  {
    std::lock_guard l(mu_);
    ASB_ASSIGN_OR_RETURN(agent_layer, AgentLayer());
  }
  ASB_ASSIGN_OR_RETURN(CachedImage cached, cache_.Get(ref, policy, credentials));
  return ToResolvedImage(cached, agent_layer);
}

Status GeneratePythonRuntimeRootfs(const std::string& dir, const std::string& agent_path) {
  if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoUnexpected("mkdir " + dir);
  ASB_RETURN_IF_ERROR(Mkdir(dir, 0755));
  for (const char* d :
       {"usr", "proc", "dev", "sys", "etc", "app", "run", "var", "home", "mnt", "asb", "asb/bin"}) {
    ASB_RETURN_IF_ERROR(Mkdir(dir + "/" + d, 0755));
  }
  ASB_RETURN_IF_ERROR(Mkdir(dir + "/root", 0700));
  ASB_RETURN_IF_ERROR(Mkdir(dir + "/tmp", 01777));
  ASB_RETURN_IF_ERROR(Mkdir(dir + "/var/tmp", 01777));
  // Merged /usr: the host's /usr is bind-mounted, and these make /bin/sh, the dynamic loader
  // (/lib64/ld-linux-x86-64.so.2) and friends resolve into it.
  for (const char* l : {"bin", "lib", "lib64", "sbin"}) {
    std::string target = std::string("usr/") + l;
    if (::symlink(target.c_str(), (dir + "/" + l).c_str()) != 0) {
      return ErrnoUnexpected(std::string("symlink ") + l);
    }
  }
  ASB_RETURN_IF_ERROR(WriteText(dir + "/etc/passwd", kPasswd));
  ASB_RETURN_IF_ERROR(WriteText(dir + "/etc/group", kGroup));
  ASB_RETURN_IF_ERROR(WriteText(dir + "/etc/hosts", kHosts));
  ASB_RETURN_IF_ERROR(WriteText(dir + "/etc/hostname", "sandbox\n"));
  ASB_RETURN_IF_ERROR(WriteText(dir + "/etc/nsswitch.conf", kNsswitch));
  ASB_RETURN_IF_ERROR(WriteText(dir + "/etc/resolv.conf", ""));
  ASB_RETURN_IF_ERROR(CopyFile(agent_path, dir + "/asb/bin/asb-agent", 0755));
  return {};
}

Result<ResolvedImage> ImageStore::ResolvePythonRuntime() {
  std::string agent = AgentPath();
  if (::access(agent.c_str(), R_OK) != 0) {
    return MakeError(Code::kFailedPrecondition,
                     "built-in image python-runtime needs the asb-agent binary, not found at " +
                         agent + " (build target asb-agent)");
  }
  ASB_ASSIGN_OR_RETURN(std::string stamp, FileStamp(agent));
  const std::string image_dir = ImagesDir() + "/" + std::string(kPythonRuntime);
  const std::string rootfs = image_dir + "/rootfs";
  const std::string stamp_file = image_dir + "/agent.stamp";
  ASB_RETURN_IF_ERROR(MakeDirs(image_dir));
  if (!PathExists(rootfs)) {
    std::string tmp = image_dir + "/.rootfs-" + RandomHex(6);
    Status made = GeneratePythonRuntimeRootfs(tmp, agent);
    if (made && ::rename(tmp.c_str(), rootfs.c_str()) != 0 && errno != EEXIST &&
        errno != ENOTEMPTY) {
      made = ErrnoUnexpected("rename " + tmp);
    }
    (void)RemoveTree(tmp);  // left only when another process won the rename, or on failure
    if (!made) return tl::unexpected(made.error().Wrap("generate python-runtime image"));
    ASB_RETURN_IF_ERROR(AtomicWriteFile(stamp_file, stamp));
  } else if (ReadFile(stamp_file).value_or("") != stamp) {
    // The agent was rebuilt: swap in the new binary with one rename (running sandboxes keep
    // the inode they have open).
    ASB_RETURN_IF_ERROR(CopyFile(agent, rootfs + "/asb/bin/asb-agent", 0755));
    ASB_RETURN_IF_ERROR(AtomicWriteFile(stamp_file, stamp));
  }
  ResolvedImage img;
  img.rootfs.lower_dir = rootfs;
  img.rootfs.binds = options_.builtin_binds;
  img.entrypoint = {"/asb/bin/asb-agent"};
  img.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/app",
             "LANG=C.UTF-8"};
  img.working_dir = "/app";
  img.port = 8888;
  img.image_id = "asb-builtin://python-runtime@" + stamp;
  return img;
}

Result<ResolvedImage> ImageStore::ResolveLocal(const std::string& name) {
  const std::string dir = ImagesDir() + "/" + name;
  ResolvedImage img;
  img.rootfs.lower_dir = dir + "/rootfs";
  img.image_id = "asb-local://" + name;
  auto text = ReadFile(dir + "/config.json");
  if (!text) return img;  // a bare root filesystem: the pod must name its command
  ASB_ASSIGN_OR_RETURN(Json j, ParseJson(*text));
  try {
    img.entrypoint = j.value("entrypoint", std::vector<std::string>{});
    img.cmd = j.value("cmd", std::vector<std::string>{});
    img.env = j.value("env", std::vector<std::string>{});
    img.working_dir = j.value("working_dir", "");
    img.port = j.value("port", 0);
    for (const Json& b : j.value("binds", Json::array())) {
      img.rootfs.binds.push_back(
          {b.value("host_path", ""), b.value("sandbox_path", ""), b.value("read_only", true)});
    }
  } catch (const std::exception& e) {
    return MakeError(Code::kInvalidArgument,
                     "image " + name + ": bad config.json: " + std::string(e.what()));
  }
  return img;
}

}  // namespace asb::image
