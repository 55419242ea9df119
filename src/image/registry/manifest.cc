#include "image/registry/manifest.h"

#include "base/json_util.h"
#include "base/strings.h"
#include "image/registry/reference.h"

namespace asb::image::registry {
namespace {

tl::unexpected<Error> Bad(const std::string& what) {
  return MakeError(Code::kInvalidArgument, what);
}

Result<Descriptor> ParseDescriptor(const Json& j, const std::string& field) {
  if (!j.is_object()) return Bad(field + ": not an object");
  Descriptor d;
  auto mt = j.find("mediaType");
  if (mt != j.end() && mt->is_string()) d.media_type = mt->get<std::string>();
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string() || !IsSha256Digest(dg->get<std::string>())) {
    return Bad(field + ".digest: must be sha256:<64 lower-case hex>");
  }
  d.digest = dg->get<std::string>();
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0) {
    return Bad(field + ".size: must be a non-negative integer");
  }
  d.size = sz->get<int64_t>();
  return d;
}

std::vector<std::string> StringList(const Json& j, std::string_view key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const Json& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::string ManifestAccept() {
  return std::string(kOciManifest) + ", " + std::string(kOciIndex) + ", " +
         std::string(kDockerManifest) + ", " + std::string(kDockerManifestList);
}

Result<Manifest> ParseManifest(std::string_view body, std::string_view content_type) {
  auto parsed = ParseJson(std::string(body));
  if (!parsed || !parsed->is_object()) return Bad("manifest is not a JSON object");
  const Json& j = *parsed;
  std::string media(Trim(content_type.substr(0, content_type.find(';'))));
  if (auto mt = j.find("mediaType"); mt != j.end() && mt->is_string()) {
    media = mt->get<std::string>();
  }
  Manifest m;
  if (media == kOciIndex || media == kDockerManifestList ||
      (media.empty() && j.contains("manifests"))) {
    m.is_index = true;
    auto list = j.find("manifests");
    if (list == j.end() || !list->is_array()) return Bad("index: manifests must be a list");
    std::vector<std::string> seen;
    for (size_t i = 0; i < list->size(); ++i) {
      const Json& e = (*list)[i];
      std::string field = "index.manifests[" + std::to_string(i) + "]";
      ASB_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(e, field));
      std::string os, arch;
      if (auto p = e.find("platform"); p != e.end() && p->is_object()) {
        os = p->value("os", "");
        arch = p->value("architecture", "");
      }
      if (os == "linux" && arch == "amd64") {
        m.platform_manifest = d;
        return m;
      }
      seen.push_back((os.empty() ? "?" : os) + "/" + (arch.empty() ? "?" : arch));
    }
    return Bad("image index has no linux/amd64 manifest (it has: " +
               (seen.empty() ? std::string("none") : Join(seen, ", ")) + ")");
  }
  if (!media.empty() && media != kOciManifest && media != kDockerManifest) {
    return Bad("unsupported manifest media type \"" + media +
               "\" (Docker schema 1 and other kinds are not pulled)");
  }
  auto sv = j.find("schemaVersion");
  if (sv == j.end() || !sv->is_number_integer() || sv->get<int>() != 2) {
    return Bad("manifest: schemaVersion must be 2");
  }
  auto cfg = j.find("config");
  if (cfg == j.end()) return Bad("manifest: config is missing");
  ASB_ASSIGN_OR_RETURN(m.config, ParseDescriptor(*cfg, "manifest.config"));
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return Bad("manifest: layers must be a list");
  if (layers->size() > 256) return Bad("manifest: more than 256 layers");
  for (size_t i = 0; i < layers->size(); ++i) {
    ASB_ASSIGN_OR_RETURN(
        Descriptor d, ParseDescriptor((*layers)[i], "manifest.layers[" + std::to_string(i) + "]"));
    m.layers.push_back(std::move(d));
  }
  return m;
}

Result<ImageConfig> ParseImageConfig(std::string_view body) {
  auto parsed = ParseJson(std::string(body));
  if (!parsed || !parsed->is_object()) return Bad("image config is not a JSON object");
  const Json& j = *parsed;
  std::string os = j.value("os", "linux"), arch = j.value("architecture", "amd64");
  if (os != "linux" || arch != "amd64") {
    return Bad("image is for " + os + "/" + arch + ", this node runs linux/amd64");
  }
  ImageConfig c;
  if (auto cf = j.find("config"); cf != j.end() && cf->is_object()) {
    c.entrypoint = StringList(*cf, "Entrypoint");
    c.cmd = StringList(*cf, "Cmd");
    c.env = StringList(*cf, "Env");
    if (auto w = cf->find("WorkingDir"); w != cf->end() && w->is_string()) {
      c.working_dir = w->get<std::string>();
    }
    if (auto u = cf->find("User"); u != cf->end() && u->is_string()) c.user = u->get<std::string>();
    if (auto p = cf->find("ExposedPorts"); p != cf->end() && p->is_object()) {
      for (const auto& [key, _] : p->items()) {
        std::string_view k = key;
        if (EndsWith(k, "/udp") || EndsWith(k, "/sctp")) continue;
        if (size_t slash = k.find('/'); slash != std::string_view::npos) k = k.substr(0, slash);
        auto port = ParseInt(k);
        if (port && *port > 0 && *port < 65536) c.exposed_ports.push_back(static_cast<int>(*port));
      }
    }
  }
  if (auto rf = j.find("rootfs"); rf != j.end() && rf->is_object()) {
    c.diff_ids = StringList(*rf, "diff_ids");
  }
  return c;
}

}  // namespace asb::image::registry
