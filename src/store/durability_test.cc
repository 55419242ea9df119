// Durability: anything the store acknowledged survives the process dying without a clean
// shutdown (kill -9 or _exit), and the next Open sees it with monotonic revisions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "api/resource.h"
#include "base/file_util.h"
#include "store/sqlite_log.h"
#include "store/sqlite_store.h"
#include "tests/testing/store_fixtures.h"
#include "tests/testing/test_util.h"

namespace asb::store {
namespace {

constexpr int kObjects = 200;

enum class Death { kSigkill, kExit };
enum class Writes { kOneByOne, kTransactions };  // Create each, or Transact pairs of creates

// In the child: open, create kObjects sandboxes, report the last acknowledged revision on
// `fd`, then die as told without destroying the store.
[[noreturn]] void ChildWrite(const std::string& dir, int fd, Death death, Writes writes) {
  auto store = SqliteStore::Open(dir, {});
  if (!store) _exit(2);
  auto obj = [](int i) {
    return testing::MakeObj("default", "sb" + std::to_string(i), nullptr, {{"i", i}});
  };
  for (int i = 0; i < kObjects; ++i) {
    if (writes == Writes::kOneByOne) {
      if (!(*store)->Create(api::SandboxResource(), obj(i))) _exit(3);
      continue;
    }
    Status st = (*store)->Transact([&](Txn& txn) -> Status {
      ASB_RETURN_IF_ERROR(txn.Create(api::SandboxResource(), obj(i)));
      auto second = txn.Create(api::SandboxResource(), obj(i + 1));
      return second ? OkStatus() : Status(tl::unexpected(second.error()));
    });
    if (!st) _exit(3);
    ++i;
  }
  int64_t rev = (*store)->CurrentRevision();
  if (write(fd, &rev, sizeof(rev)) != sizeof(rev)) _exit(4);
  if (death == Death::kExit) _exit(0);  // no destructor, no sqlite3_close, no checkpoint
  pause();                              // the parent SIGKILLs us
  _exit(5);
}

void RunCrashTest(Death death, Writes writes = Writes::kOneByOne) {
  testing::TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    ChildWrite(dir.path(), fds[1], death, writes);
  }
  close(fds[1]);
  int64_t acked_rev = 0;
  ssize_t n = read(fds[0], &acked_rev, sizeof(acked_rev));
  close(fds[0]);
  if (death == Death::kSigkill) kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(acked_rev))) << "child failed, status " << status;
  if (death == Death::kSigkill) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  } else {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->CurrentRevision(), acked_rev);
  auto list = (*store)->List(api::SandboxResource(), "default", {});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->items.size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) {
    auto got = (*store)->Get(api::SandboxResource(), "default", "sb" + std::to_string(i));
    ASSERT_TRUE(got) << i;
    EXPECT_EQ((*got)["spec"]["i"], i);
  }
  auto next = (*store)->Create(api::SandboxResource(), testing::MakeObj("default", "after"));
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)["metadata"]["resourceVersion"], std::to_string(acked_rev + 1));
}

TEST(StoreDurabilityTest, SurvivesSigkillAfterAck) { RunCrashTest(Death::kSigkill); }
TEST(StoreDurabilityTest, SurvivesExitWithoutClose) { RunCrashTest(Death::kExit); }
TEST(StoreDurabilityTest, TransactionsSurviveSigkillAfterAck) {
  RunCrashTest(Death::kSigkill, Writes::kTransactions);
}

}  // namespace
}  // namespace asb::store

// A state dir whose lock is still held (a crashed daemon's child not yet gone) is waited for;
// one held past the wait is refused, naming the lock.
TEST(StoreLockTest, WaitsForAHeldLockThenRefusesClearly) {
  asb::testing::TempDir dir;
  ASSERT_TRUE(asb::MakeDirs(dir.path(), 0700));
  const std::string lock = dir.path() + "/store.lock";
  int held = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);

  auto refused = asb::store::SqliteLog::Open(dir.path(), std::chrono::milliseconds(100));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, asb::Code::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("is in use by another process (flock " + lock),
            std::string::npos)
      << refused.error().message;

  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ::close(held);
  });
  auto opened = asb::store::SqliteLog::Open(dir.path(), std::chrono::seconds(10));
  release.join();
  EXPECT_TRUE(opened) << opened.error().message;
}
