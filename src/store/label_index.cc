#include "store/label_index.h"

namespace asb::store {

namespace {

const Json* Labels(const Json* obj) {
  if (!obj) return nullptr;
  auto meta = obj->find("metadata");
  if (meta == obj->end() || !meta->is_object()) return nullptr;
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object() || labels->empty()) return nullptr;
  return &*labels;
}

const std::string* StringValue(const Json& v) {
  return v.is_string() ? &v.get_ref<const std::string&>() : nullptr;
}

const LabelIndex::NameSet kEmpty;

}  // namespace

void LabelIndex::Add(const std::string& resource, const NsName& name, const std::string& key,
                     const std::string& value) {
  ByKey& k = index_[resource][key];
  k.any.insert(name);
  k.values[value].insert(name);
}

void LabelIndex::Remove(const std::string& resource, const NsName& name, const std::string& key,
                        const std::string& value) {
  auto r = index_.find(resource);
  if (r == index_.end()) return;
  auto k = r->second.find(key);
  if (k == r->second.end()) return;
  k->second.any.erase(name);
  if (auto v = k->second.values.find(value); v != k->second.values.end()) {
    v->second.erase(name);
    if (v->second.empty()) k->second.values.erase(v);
  }
  if (k->second.any.empty()) r->second.erase(k);
}

void LabelIndex::Update(const std::string& resource, const NsName& name, const Json* prev,
                        const Json* obj) {
  const Json* before = Labels(prev);
  const Json* after = Labels(obj);
  if (before == after || (before && after && *before == *after)) return;  // most writes
  if (before) {
    for (const auto& [key, value] : before->items()) {
      const std::string* v = StringValue(value);
      if (!v) continue;
      if (after) {
        auto same = after->find(key);
        if (same != after->end() && *same == value) continue;
      }
      Remove(resource, name, key, *v);
    }
  }
  if (after) {
    for (const auto& [key, value] : after->items()) {
      const std::string* v = StringValue(value);
      if (!v) continue;
      if (before) {
        auto same = before->find(key);
        if (same != before->end() && *same == value) continue;
      }
      Add(resource, name, key, *v);
    }
  }
}

const LabelIndex::NameSet* LabelIndex::Candidates(const std::string& resource,
                                                  const LabelSelector& selector) const {
  const NameSet* best = nullptr;
  auto r = index_.find(resource);
  for (const LabelRequirement& req : selector.requirements()) {
    const NameSet* set = nullptr;
    bool one_value = req.op == LabelRequirement::Op::kEquals ||
                     (req.op == LabelRequirement::Op::kIn && req.values.size() == 1);
    if (!one_value && req.op != LabelRequirement::Op::kExists) continue;
    // No object carries the key (or the value): nothing can match.
    set = &kEmpty;
    if (r != index_.end()) {
      if (auto k = r->second.find(req.key); k != r->second.end()) {
        if (!one_value) {
          set = &k->second.any;
        } else if (auto v = k->second.values.find(req.values[0]); v != k->second.values.end()) {
          set = &v->second;
        }
      }
    }
    if (!best || set->size() < best->size()) best = set;
  }
  return best;
}

}  // namespace asb::store
