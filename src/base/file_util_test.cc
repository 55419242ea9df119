#include "base/file_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/testing/test_util.h"

namespace asb {
namespace {

TEST(ListSubdirsTest, SortedDirectoriesOnly) {
  char tmpl[] = "/tmp/asb-listdir-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const char* d : {"/b", "/a", "/.hidden", "/a/nested"}) ASSERT_OK(MakeDirs(dir + d));
  ASSERT_OK(AtomicWriteFile(dir + "/file", "x"));
  ASSERT_EQ(::symlink((dir + "/a").c_str(), (dir + "/link").c_str()), 0);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, ListSubdirs(dir));
  EXPECT_EQ(names, (std::vector<std::string>{".hidden", "a", "b"}));
  ASSERT_OK_AND_ASSIGN(names, ListSubdirs(dir + "/missing"));
  EXPECT_TRUE(names.empty());
  EXPECT_ERROR_CODE(ListSubdirs(dir + "/file"), Code::kInternal);
  EXPECT_OK(RemoveTree(dir));
}

}  // namespace
}  // namespace asb
