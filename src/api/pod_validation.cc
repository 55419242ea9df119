#include "api/pod_validation.h"

#include <algorithm>
#include <set>

#include "api/quantity.h"
#include "base/k8s_names.h"

namespace asb::api {

namespace {

// Kubernetes' resource.Quantity parse error and the pattern upstream's CRDs carry for
// resources (controller-gen's int-or-string quantity).
constexpr std::string_view kQuantityRegexMsg =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
constexpr std::string_view kQuantityCrdPattern =
    "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\."
    "[0-9]*)?)|(\\.[0-9]+))))?$";

// A resources value as the text Kubernetes parses (a number is its JSON form).
std::string QuantityText(const Json& v) {
  return v.is_string() ? v.get<std::string>() : DumpJson(v);
}

// resources.<section>[<name>] for core Pods, resources.<section>.<name> for pod templates.
std::string QuantityField(const std::string& path, std::string_view section,
                          const std::string& name, QuantityStyle style) {
  return path + "." + std::string(section) +
         (style == QuantityStyle::kCore ? "[" + name + "]" : "." + name);
}

// The amount the node uses: millicores for cpu, units for the rest (as CheckQuantity reads it).
Result<int64_t> QuantityAmount(const std::string& name, const Json& v) {
  return name == "cpu" ? ParseQuantityMilli(QuantityText(v)) : ParseQuantityValue(QuantityText(v));
}

void ValidateQuantities(const Json& resources, const std::string& path, QuantityStyle style,
                        FieldErrors* out) {
  if (!resources.is_object()) return;
  for (const char* section : {"limits", "requests"}) {
    auto it = resources.find(section);
    if (it == resources.end() || !it->is_object()) continue;
    for (auto q = it->begin(); q != it->end(); ++q) {
      const Json& v = q.value();
      if (!v.is_string() && !v.is_number()) continue;  // the schema reports the type
      std::string field = QuantityField(path, section, q.key(), style);
      std::string text = QuantityText(v);
      switch (CheckQuantity(text, q.key() == "cpu")) {
        case QuantityProblem::kNone:
          break;
        case QuantityProblem::kSyntax:
          out->push_back(
              {FieldErrorType::kInvalid, field, v,
               style == QuantityStyle::kCore
                   ? std::string(kQuantityRegexMsg)
                   : field + " in body should match '" + std::string(kQuantityCrdPattern) + "'"});
          break;
        case QuantityProblem::kNegative:
          out->push_back(
              {FieldErrorType::kInvalid, field, text, "must be greater than or equal to 0"});
          break;
        case QuantityProblem::kTooLarge:
          out->push_back(
              {FieldErrorType::kInvalid, field, text,
               "must be less than 2^63 " + std::string(q.key() == "cpu" ? "millicores" : "units")});
          break;
      }
    }
  }
  // A request above its limit can never be met (Kubernetes' ValidateResourceRequirements).
  const Json* limits = resources.contains("limits") ? &resources["limits"] : nullptr;
  const Json* requests = resources.contains("requests") ? &resources["requests"] : nullptr;
  if (!limits || !requests || !limits->is_object() || !requests->is_object()) return;
  for (auto r = requests->begin(); r != requests->end(); ++r) {
    auto l = limits->find(r.key());
    if (l == limits->end()) continue;
    auto req = QuantityAmount(r.key(), r.value());
    auto lim = QuantityAmount(r.key(), *l);
    if (!req || !lim || *req <= *lim) continue;  // unparsable ones are reported above
    out->push_back({FieldErrorType::kInvalid, QuantityField(path, "requests", r.key(), style),
                    QuantityText(r.value()),
                    "must be less than or equal to " + r.key() + " limit of " + QuantityText(*l)});
  }
}

}  // namespace

void ValidatePodSpec(const Json& spec, const std::string& path, QuantityStyle style,
                     FieldErrors* out) {
  if (!spec.is_object()) return;
  auto containers = spec.find("containers");
  if (containers == spec.end() || !containers->is_array() || containers->empty()) {
    if (containers == spec.end() || containers->is_array() || containers->is_null())
      out->push_back({FieldErrorType::kRequired, path + ".containers", nullptr, ""});
    return;
  }
  std::set<std::string> names;
  for (const char* list : {"initContainers", "containers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || !it->is_array()) continue;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& c = (*it)[i];
      if (!c.is_object()) continue;
      std::string cpath = path + "." + list + "[" + std::to_string(i) + "]";
      std::string name = GetString(c, "name");
      if (name.empty()) {
        if (c.contains("name") && c["name"].is_string())
          out->push_back({FieldErrorType::kRequired, cpath + ".name", nullptr, ""});
      } else if (auto errs = Dns1123LabelErrors(name); !errs.empty()) {
        for (auto& e : errs)
          out->push_back({FieldErrorType::kInvalid, cpath + ".name", name, std::move(e)});
      } else if (!names.insert(name).second) {
        out->push_back({FieldErrorType::kDuplicate, cpath + ".name", name, ""});
      }
      if (GetString(c, "image").empty())
        out->push_back({FieldErrorType::kRequired, cpath + ".image", nullptr, ""});
      if (auto ports = c.find("ports"); ports != c.end() && ports->is_array()) {
        for (size_t p = 0; p < ports->size(); ++p) {
          const Json* port = Find((*ports)[p], "containerPort");
          if (port && port->is_number_integer() &&
              (port->get<int64_t>() < 1 || port->get<int64_t>() > 65535))
            out->push_back({FieldErrorType::kInvalid,
                            cpath + ".ports[" + std::to_string(p) + "].containerPort", *port,
                            "must be between 1 and 65535, inclusive"});
        }
      }
      if (auto res = c.find("resources"); res != c.end())
        ValidateQuantities(*res, cpath + ".resources", style, out);
    }
  }
}

FieldErrors ValidatePodUpdate(const Json& old_pod, const Json& new_pod) {
  FieldErrors out;
  const Json empty = Json::object();
  const Json* old_spec = Find(old_pod, "spec");
  const Json* new_spec = Find(new_pod, "spec");
  if (!old_spec || !old_spec->is_object()) old_spec = &empty;
  if (!new_spec || !new_spec->is_object()) new_spec = &empty;

  // Tolerations may only be added: every old one must still be there.
  auto tolerations = [](const Json& spec) {
    const Json* t = Find(spec, "tolerations");
    return t && t->is_array() ? *t : Json::array();
  };
  Json old_tol = tolerations(*old_spec), new_tol = tolerations(*new_spec);
  for (const Json& t : old_tol) {
    if (std::find(new_tol.begin(), new_tol.end(), t) == new_tol.end()) {
      out.push_back({FieldErrorType::kForbidden, "spec.tolerations", nullptr,
                     "existing toleration can not be modified except its tolerationSeconds"});
      break;
    }
  }

  // Copy the mutable fields from the new spec onto the old one; any other difference is
  // forbidden.
  Json munged = *old_spec;
  for (const char* list : {"containers", "initContainers"}) {
    const Json* n = Find(*new_spec, list);
    auto o = munged.find(list);
    if (!n || !n->is_array() || o == munged.end() || !o->is_array() || n->size() != o->size())
      continue;
    for (size_t i = 0; i < n->size(); ++i) {
      if (!(*o)[i].is_object() || !(*n)[i].is_object()) continue;
      if (auto img = (*n)[i].find("image"); img != (*n)[i].end())
        (*o)[i]["image"] = *img;
      else
        (*o)[i].erase("image");
    }
  }
  auto take = [&](const char* key) {
    if (auto v = new_spec->find(key); v != new_spec->end())
      munged[key] = *v;
    else
      munged.erase(key);
  };
  take("activeDeadlineSeconds");
  take("tolerations");
  const Json* old_grace = Find(*old_spec, "terminationGracePeriodSeconds");
  const Json* new_grace = Find(*new_spec, "terminationGracePeriodSeconds");
  if (old_grace && old_grace->is_number_integer() && old_grace->get<int64_t>() < 0 && new_grace &&
      *new_grace == 1)
    munged["terminationGracePeriodSeconds"] = 1;
  // Binding: nodeName goes from unset to a node once; after that it is fixed.
  if (GetString(*old_spec, "nodeName").empty()) take("nodeName");

  if (munged != *new_spec) {
    // Kubernetes appends a diff; name the changed fields instead.
    std::set<std::string> changed;
    const Json* munged_ptr = &munged;
    for (const Json* side : {munged_ptr, new_spec}) {
      const Json* other = side == munged_ptr ? new_spec : munged_ptr;
      for (auto it = side->begin(); it != side->end(); ++it) {
        auto o = other->find(it.key());
        if (o == other->end() || *o != it.value()) changed.insert("spec." + it.key());
      }
    }
    std::string list;
    for (const auto& f : changed) list += (list.empty() ? "" : ", ") + f;
    out.push_back({FieldErrorType::kForbidden, "spec", nullptr,
                   "pod updates may not change fields other than "
                   "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                   "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
                   "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if "
                   "it was previously negative) (changed: " +
                       list + ")"});
  }
  return out;
}

}  // namespace asb::api
