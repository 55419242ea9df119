#include "store/selector.h"

#include <gtest/gtest.h>

#include "api/resource.h"

namespace asb::store {
namespace {

struct MatchCase {
  std::string selector;
  Json labels;
  bool want;
};

TEST(LabelSelectorTest, MatchTable) {
  const Json kWeb = {{"app", "web"}, {"tier", "front"}, {"n", "5"}};
  const std::vector<MatchCase> cases = {
      {"", kWeb, true},
      {"", nullptr, true},
      {"app=web", kWeb, true},
      {"app==web", kWeb, true},
      {"app=db", kWeb, false},
      {"app!=db", kWeb, true},
      {"app!=web", kWeb, false},
      {"missing!=x", kWeb, true},  // != matches absent labels
      {"app in (db,web)", kWeb, true},
      {"app in (db)", kWeb, false},
      {"missing in (x)", kWeb, false},
      {"app notin (db)", kWeb, true},
      {"app notin (web, db)", kWeb, false},
      {"missing notin (x)", kWeb, true},
      {"app", kWeb, true},
      {"missing", kWeb, false},
      {"!missing", kWeb, true},
      {"!app", kWeb, false},
      {"app=web,tier=front", kWeb, true},
      {"app=web,tier=back", kWeb, false},
      {" app = web , !missing ", kWeb, true},
      {"n>3", kWeb, true},
      {"n<3", kWeb, false},
      {"app=web", nullptr, false},
      {"!app", nullptr, true},
      {"example.com/role=x", {{"example.com/role", "x"}}, true},
      {"empty=", {{"empty", ""}}, true},
      {"empty=", {{"empty", "x"}}, false},
  };
  for (const auto& c : cases) {
    auto sel = ParseLabelSelector(c.selector);
    ASSERT_TRUE(sel) << c.selector << ": " << sel.error().message;
    EXPECT_EQ(sel->Matches(c.labels), c.want) << "selector: " << c.selector;
    // The canonical form parses back to the same behaviour.
    auto again = ParseLabelSelector(sel->ToString());
    ASSERT_TRUE(again) << sel->ToString();
    EXPECT_EQ(again->Matches(c.labels), c.want) << "round trip: " << sel->ToString();
  }
}

TEST(LabelSelectorTest, ParseErrorsNameTheProblem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a in x", "expected '(' after 'in'"},
      {"a in ()", "must be non-empty"},
      {"a in (x", "expected ',' or ')'"},
      {"=x", "expected a label key"},
      {"a=b,", "trailing ','"},
      {"a b", "expected an operator"},
      {"-bad=x", "invalid label key \"-bad\""},
      {"a=-bad", "invalid label value \"-bad\""},
      {"a>x", "must be an integer"},
      {"Bad.Prefix/a=b", "prefix must be a lowercase DNS subdomain"},
      {std::string(64, 'a') + "=b", "no more than 63 characters"},
  };
  for (const auto& [text, want] : cases) {
    auto sel = ParseLabelSelector(text);
    ASSERT_FALSE(sel) << text;
    EXPECT_EQ(sel.error().code, Code::kInvalidArgument);
    EXPECT_NE(sel.error().message.find(want), std::string::npos)
        << text << " -> " << sel.error().message;
    EXPECT_NE(sel.error().message.find("invalid label selector"), std::string::npos);
  }
}

TEST(LabelSelectorTest, FromJson) {
  Json sel = {{"matchLabels", {{"app", "web"}}},
              {"matchExpressions",
               {{{"key", "tier"}, {"operator", "In"}, {"values", {"front", "back"}}},
                {{"key", "legacy"}, {"operator", "DoesNotExist"}}}}};
  auto s = LabelSelectorFromJson(sel);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->Matches({{"app", "web"}, {"tier", "back"}}));
  EXPECT_FALSE(s->Matches({{"app", "web"}, {"tier", "back"}, {"legacy", "1"}}));
  EXPECT_FALSE(s->Matches({{"app", "web"}}));
  EXPECT_TRUE(LabelSelectorFromJson(Json::object())->Matches(nullptr));
  EXPECT_FALSE(
      LabelSelectorFromJson({{"matchExpressions", {{{"key", "a"}, {"operator", "Bogus"}}}}}));
  EXPECT_FALSE(LabelSelectorFromJson({{"matchLabels", {{"a", 1}}}}));
  EXPECT_FALSE(LabelSelectorFromJson({{"matchExpressions", {{{"key", "a"}, {"operator", "In"}}}}}));
}

TEST(FieldSelectorTest, ParseAndMatch) {
  Json pod = {{"metadata", {{"name", "p1"}, {"namespace", "ns"}}},
              {"spec", {{"nodeName", "node-a"}}},
              {"status", {{"phase", "Running"}}}};
  struct Case {
    std::string sel;
    bool want;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"metadata.name=p1", true},
      {"metadata.name==p1", true},
      {"metadata.name!=p1", false},
      {"metadata.name=p2", false},
      {"metadata.namespace=ns,spec.nodeName=node-a", true},
      {"spec.nodeName=", false},
      {"status.phase!=Succeeded,status.phase!=Failed", true},
  };
  for (const auto& c : cases) {
    auto sel = ParseFieldSelector(api::PodResource(), c.sel);
    ASSERT_TRUE(sel) << c.sel << ": " << sel.error().message;
    EXPECT_EQ(sel->Matches(pod), c.want) << c.sel;
  }
  Json odd = {{"metadata", {{"name", "a,b=c"}}}};
  auto esc = ParseFieldSelector(api::SandboxResource(), "metadata.name=a\\,b\\=c");
  ASSERT_TRUE(esc) << esc.error().message;
  EXPECT_TRUE(esc->Matches(odd));
}

TEST(FieldSelectorTest, EventsSelectOnInvolvedObject) {
  Json ev = {
      {"metadata", {{"name", "e1"}, {"namespace", "ns"}}},
      {"involvedObject", {{"kind", "Pod"}, {"name", "p1"}, {"namespace", "ns"}, {"uid", "u1"}}},
      {"reason", "Started"},
      {"type", "Normal"}};
  // What kubectl describe pod sends.
  auto sel = ParseFieldSelector(api::EventResource(),
                                "involvedObject.name=p1,involvedObject.namespace=ns,"
                                "involvedObject.kind=Pod,involvedObject.uid=u1");
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_TRUE(sel->Matches(ev));
  auto other = ParseFieldSelector(api::EventResource(), "involvedObject.uid=u2");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->Matches(ev));
  auto warn = ParseFieldSelector(api::EventResource(), "type!=Normal,reason=Started");
  ASSERT_TRUE(warn);
  EXPECT_FALSE(warn->Matches(ev));
  EXPECT_FALSE(ParseFieldSelector(api::PodResource(), "involvedObject.name=p1"));
}

TEST(FieldSelectorTest, Errors) {
  auto unsupported = ParseFieldSelector(api::SandboxResource(), "spec.nodeName=x");
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().code, Code::kInvalidArgument);
  EXPECT_EQ(unsupported.error().message, "field label not supported: spec.nodeName");
  auto no_op = ParseFieldSelector(api::PodResource(), "metadata.name");
  ASSERT_FALSE(no_op);
  EXPECT_NE(no_op.error().message.find("not of the form"), std::string::npos);
  EXPECT_FALSE(ParseFieldSelector(api::PodResource(), "metadata.name=a,,"));
}

}  // namespace
}  // namespace asb::store
