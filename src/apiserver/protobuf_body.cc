#include "apiserver/protobuf_body.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/base64.h"

namespace asb::apiserver {

namespace {

enum class T {
  kString,
  kInt,
  kBool,
  kMessage,
  kStringMap,    // map<string, string>: repeated {1: key, 2: value}
  kStrings,      // repeated string
  kMessages,     // repeated message
  kIntOrString,  // intstr.IntOrString {1 type, 2 intVal, 3 strVal}
  kTime,         // metav1.Time {1 seconds, 2 nanos}
  kBytesMap,     // map<string, bytes>: JSON writes the values base64 (Secret data)
};

struct Schema;
struct Field {
  uint32_t number;
  const char* name;
  T type;
  const Schema* sub = nullptr;
};
struct Schema {
  std::vector<Field> fields;
  const Field* Find(uint32_t n) const {
    for (const Field& f : fields)
      if (f.number == n) return &f;
    return nullptr;
  }
};

// Field numbers from k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto and
// k8s.io/api/core/v1/generated.proto.
const Schema kOwnerReference{{{1, "kind", T::kString},
                              {3, "name", T::kString},
                              {4, "uid", T::kString},
                              {5, "apiVersion", T::kString},
                              {6, "controller", T::kBool},
                              {7, "blockOwnerDeletion", T::kBool}}};
const Schema kObjectMeta{{{1, "name", T::kString},
                          {2, "generateName", T::kString},
                          {3, "namespace", T::kString},
                          {5, "uid", T::kString},
                          {6, "resourceVersion", T::kString},
                          {7, "generation", T::kInt},
                          {8, "creationTimestamp", T::kTime},
                          {11, "labels", T::kStringMap},
                          {12, "annotations", T::kStringMap},
                          {13, "ownerReferences", T::kMessages, &kOwnerReference},
                          {14, "finalizers", T::kStrings}}};
const Schema kNamespaceSpec{{{1, "finalizers", T::kStrings}}};
const Schema kNamespace{
    {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kNamespaceSpec}}};
const Schema kServicePort{{{1, "name", T::kString},
                           {2, "protocol", T::kString},
                           {3, "port", T::kInt},
                           {4, "targetPort", T::kIntOrString},
                           {5, "nodePort", T::kInt},
                           {6, "appProtocol", T::kString}}};
const Schema kServiceSpec{{{1, "ports", T::kMessages, &kServicePort},
                           {2, "selector", T::kStringMap},
                           {3, "clusterIP", T::kString},
                           {4, "type", T::kString},
                           {5, "externalIPs", T::kStrings},
                           {7, "sessionAffinity", T::kString},
                           {8, "loadBalancerIP", T::kString},
                           {9, "loadBalancerSourceRanges", T::kStrings},
                           {10, "externalName", T::kString},
                           {11, "externalTrafficPolicy", T::kString},
                           {12, "healthCheckNodePort", T::kInt},
                           {13, "publishNotReadyAddresses", T::kBool},
                           {17, "ipFamilyPolicy", T::kString},
                           {18, "clusterIPs", T::kStrings},
                           {19, "ipFamilies", T::kStrings},
                           {20, "allocateLoadBalancerNodePorts", T::kBool},
                           {21, "loadBalancerClass", T::kString},
                           {22, "internalTrafficPolicy", T::kString},
                           {23, "trafficDistribution", T::kString}}};
// kubectl create secret sends protobuf.
const Schema kSecret{{{1, "metadata", T::kMessage, &kObjectMeta},
                      {2, "data", T::kBytesMap},
                      {3, "type", T::kString},
                      {4, "stringData", T::kStringMap},
                      {5, "immutable", T::kBool}}};
const Schema kService{
    {{1, "metadata", T::kMessage, &kObjectMeta}, {2, "spec", T::kMessage, &kServiceSpec}}};
const Schema kTypeMeta{{{1, "apiVersion", T::kString}, {2, "kind", T::kString}}};

// A protobuf wire reader over one message's bytes.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Bytes(std::string_view& out) {
    uint64_t n;
    if (!Varint(n) || n > data_.size() - pos_) return false;
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(uint32_t wire) {
    uint64_t v;
    std::string_view s;
    switch (wire) {
      case 0:
        return Varint(v);
      case 1:
        return Advance(8);
      case 2:
        return Bytes(s);
      case 5:
        return Advance(4);
      default:
        return false;  // groups (3, 4) are not used by Kubernetes
    }
  }

 private:
  bool Advance(size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

Result<Json> DecodeMessage(std::string_view data, const Schema& schema, int depth);

Error Malformed(const std::string& what) {
  return Error{Code::kInvalidArgument, "malformed protobuf body: " + what};
}

Result<std::pair<std::string, std::string>> DecodeMapEntry(std::string_view data) {
  Reader r(data);
  std::pair<std::string, std::string> kv;
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(key)) return tl::unexpected(Malformed("map entry"));
    std::string_view s;
    if ((key & 7) == 2 && (key >> 3) <= 2) {
      if (!r.Bytes(s)) return tl::unexpected(Malformed("map entry"));
      ((key >> 3) == 1 ? kv.first : kv.second) = std::string(s);
    } else if (!r.Skip(static_cast<uint32_t>(key & 7))) {
      return tl::unexpected(Malformed("map entry"));
    }
  }
  return kv;
}

Result<Json> DecodeField(Reader& r, uint32_t wire, const Field& f, int depth, Json& out) {
  uint64_t v = 0;
  std::string_view s;
  const bool varint = f.type == T::kInt || f.type == T::kBool;
  if (varint ? wire != 0 : wire != 2)
    return tl::unexpected(Malformed(std::string("wire type of field ") + f.name));
  if (varint ? !r.Varint(v) : !r.Bytes(s))
    return tl::unexpected(Malformed(std::string("field ") + f.name));
  switch (f.type) {
    case T::kString:
      if (!s.empty()) out[f.name] = std::string(s);
      break;
    case T::kInt:
      if (v != 0) out[f.name] = static_cast<int64_t>(v);
      break;
    case T::kBool:
      if (v != 0) out[f.name] = true;  // Go writes false too; JSON omits it (omitempty)
      break;
    case T::kMessage: {
      ASB_ASSIGN_OR_RETURN(Json m, DecodeMessage(s, *f.sub, depth + 1));
      out[f.name] = std::move(m);
      break;
    }
    case T::kMessages: {
      ASB_ASSIGN_OR_RETURN(Json m, DecodeMessage(s, *f.sub, depth + 1));
      out[f.name].push_back(std::move(m));
      break;
    }
    case T::kStrings:
      out[f.name].push_back(std::string(s));
      break;
    case T::kStringMap: {
      ASB_ASSIGN_OR_RETURN(auto kv, DecodeMapEntry(s));
      out[f.name][kv.first] = kv.second;
      break;
    }
    case T::kBytesMap: {
      ASB_ASSIGN_OR_RETURN(auto kv, DecodeMapEntry(s));
      out[f.name][kv.first] = Base64Encode(kv.second);
      break;
    }
    case T::kIntOrString: {
      static const Schema kIntOrString{
          {{1, "type", T::kInt}, {2, "intVal", T::kInt}, {3, "strVal", T::kString}}};
      ASB_ASSIGN_OR_RETURN(Json m, DecodeMessage(s, kIntOrString, depth + 1));
      if (m.value("type", 0) == 1) {
        out[f.name] = m.value("strVal", "");
      } else {
        out[f.name] = m.value("intVal", 0);
      }
      break;
    }
    case T::kTime:
      break;  // creationTimestamp and friends are set by the server, never taken from clients
  }
  return Json();
}

Result<Json> DecodeMessage(std::string_view data, const Schema& schema, int depth) {
  if (depth > 16) return tl::unexpected(Malformed("nested too deeply"));
  Reader r(data);
  Json out = Json::object();
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(key)) return tl::unexpected(Malformed("field key"));
    auto number = static_cast<uint32_t>(key >> 3);
    auto wire = static_cast<uint32_t>(key & 7);
    const Field* f = schema.Find(number);
    if (!f) {
      if (!r.Skip(wire)) return tl::unexpected(Malformed("field " + std::to_string(number)));
      continue;
    }
    ASB_RETURN_IF_ERROR(DecodeField(r, wire, *f, depth, out));
  }
  return out;
}

}  // namespace

Result<Json> DecodeProtobufObject(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) return tl::unexpected(Malformed("missing the k8s magic prefix"));
  Reader r(body.substr(4));
  Json type_meta = Json::object();
  std::string_view raw;
  while (!r.done()) {
    uint64_t key;
    std::string_view s;
    if (!r.Varint(key)) return tl::unexpected(Malformed("envelope"));
    if ((key & 7) == 2 && ((key >> 3) == 1 || (key >> 3) == 2)) {
      if (!r.Bytes(s)) return tl::unexpected(Malformed("envelope"));
      if ((key >> 3) == 1) {
        ASB_ASSIGN_OR_RETURN(type_meta, DecodeMessage(s, kTypeMeta, 0));
      } else {
        raw = s;
      }
    } else if (!r.Skip(static_cast<uint32_t>(key & 7))) {
      return tl::unexpected(Malformed("envelope"));
    }
  }
  const std::string api_version = type_meta.value("apiVersion", "");
  const std::string kind = type_meta.value("kind", "");
  const Schema* schema = nullptr;
  if (api_version == "v1" && kind == "Namespace") schema = &kNamespace;
  if (api_version == "v1" && kind == "Service") schema = &kService;
  if (api_version == "v1" && kind == "Secret") schema = &kSecret;
  if (!schema)
    return MakeError(Code::kInvalidArgument,
                     "protobuf bodies are decoded for v1 Namespace, Service and Secret only, not " +
                         (kind.empty() ? std::string("this object") : api_version + " " + kind) +
                         "; send application/json");
  ASB_ASSIGN_OR_RETURN(Json obj, DecodeMessage(raw, *schema, 0));
  obj["apiVersion"] = api_version;
  obj["kind"] = kind;
  return obj;
}

}  // namespace asb::apiserver
