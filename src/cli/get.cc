// asbctl get KIND [NAME] [-n NS] [-A] [-o json|yaml|wide|name] [-l SELECTOR]
#include <algorithm>
#include <cctype>

#include "api/table.h"
#include "cli/cli.h"

namespace asb::cli {

namespace {

std::string CellText(const Json& cell) {
  if (cell.is_string()) return cell.get<std::string>().empty() ? "<none>" : cell.get<std::string>();
  return DumpJson(cell);
}

void PrintTable(Context& ctx, const api::ResourceInfo& res, const std::vector<Json>& items,
                bool all_namespaces, bool wide) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (all_namespaces) header.push_back("NAMESPACE");
  const auto& cols = api::TableColumns(res);
  for (const auto& c : cols)
    if (c.priority == 0 || wide) header.push_back(ToUpperAscii(c.name));
  rows.push_back(header);
  SystemTime now = RealClock::Get().Now();
  for (const auto& obj : items) {
    std::vector<std::string> row;
    if (all_namespaces) row.push_back(GetString(obj, "metadata.namespace"));
    Json cells = api::TableCells(res, obj, now);
    for (size_t i = 0; i < cols.size() && i < cells.size(); ++i)
      if (cols[i].priority == 0 || wide) row.push_back(CellText(cells[i]));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    fprintf(ctx.out, "%s\n", line.c_str());
  }
}

}  // namespace

std::string ToUpperAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

int RunGet(Context& ctx) {
  const auto& pos = ctx.args.positional;
  if (pos.empty() || pos.size() > 2) {
    fprintf(ctx.err, "error: usage: asbctl get KIND [NAME] [-n NS|-A] [-o json|yaml|wide|name]\n");
    return kExitUsage;
  }
  std::string output = ctx.args.Get("output");
  if (!output.empty() && output != "json" && output != "yaml" && output != "wide" &&
      output != "name") {
    fprintf(ctx.err, "error: unsupported output format \"%s\" (json, yaml, wide, name)\n",
            output.c_str());
    return kExitUsage;
  }
  const api::ResourceInfo* res = api::FindByAnyName(pos[0]);
  if (!res) {
    fprintf(ctx.err, "error: the server doesn't have a resource type \"%s\"\n", pos[0].c_str());
    return kExitError;
  }
  bool all = ctx.args.Has("all-namespaces") && res->namespaced && pos.size() == 1;
  std::string ns = res->namespaced && !all ? ctx.namespace_name : "";
  std::vector<Json> items;
  Json raw;
  if (pos.size() == 2) {
    auto got = ctx.client->Get(*res, ns, pos[1]);
    if (!got) return ReportError(ctx, got.error());
    raw = *got;
    items.push_back(*got);
  } else {
    auto listed = ctx.client->List(*res, ns, ctx.args.Get("selector"));
    if (!listed) return ReportError(ctx, listed.error());
    raw = *listed;
    for (const auto& i : (*listed)["items"]) items.push_back(i);
  }
  if (output == "json") {
    fprintf(ctx.out, "%s\n", DumpJson(raw, 4).c_str());
  } else if (output == "yaml") {
    fprintf(ctx.out, "%s", ToYaml(raw).c_str());
  } else if (output == "name") {
    for (const auto& i : items)
      fprintf(ctx.out, "%s\n", ObjectRef(*res, GetString(i, "metadata.name")).c_str());
  } else if (items.empty()) {
    if (all || !res->namespaced)
      fprintf(ctx.err, "No resources found\n");
    else
      fprintf(ctx.err, "No resources found in %s namespace.\n", ns.c_str());
  } else {
    PrintTable(ctx, *res, items, all, output == "wide");
  }
  return kExitOk;
}

}  // namespace asb::cli
