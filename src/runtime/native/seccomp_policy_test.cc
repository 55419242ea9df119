#include "runtime/native/seccomp_policy.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>

#include "tests/testing/bpf_evaluator.h"
#include "tests/testing/test_util.h"

namespace asb::runtime::native {
namespace {

using asb::testing::EvaluateSeccomp;
using asb::testing::X86_64Syscall;

class SeccompPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bytes = sys::CompileSeccomp(SandboxSeccompPolicy());
    ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
    program_ = asb::testing::BpfFromBytes(*bytes);
  }
  uint32_t Decide(int nr, std::vector<uint64_t> args = {}) {
    auto r = EvaluateSeccomp(program_, X86_64Syscall(nr, std::move(args)));
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.value_or(0xdeadbeef);
  }
  std::vector<sock_filter> program_;
};

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t Errno(int e) { return SECCOMP_RET_ERRNO | static_cast<uint32_t>(e); }

TEST_F(SeccompPolicyTest, DeniesDangerousSyscalls) {
  for (int nr : {SYS_mount,
                 SYS_umount2,
                 SYS_pivot_root,
                 SYS_ptrace,
                 SYS_process_vm_readv,
                 SYS_process_vm_writev,
                 SYS_bpf,
                 SYS_perf_event_open,
                 SYS_keyctl,
                 SYS_add_key,
                 SYS_request_key,
                 SYS_kexec_load,
                 SYS_kexec_file_load,
                 SYS_init_module,
                 SYS_finit_module,
                 SYS_delete_module,
                 SYS_io_uring_setup,
                 SYS_io_uring_enter,
                 SYS_io_uring_register,
                 SYS_userfaultfd,
                 SYS_open_by_handle_at,
                 SYS_name_to_handle_at,
                 SYS_setns,
                 SYS_swapon,
                 SYS_swapoff,
                 SYS_reboot,
                 SYS_syslog,
                 SYS_acct,
                 SYS_quotactl,
                 SYS_settimeofday,
                 SYS_clock_settime,
                 SYS_fsopen,
                 SYS_move_mount,
                 SYS_open_tree}) {
    EXPECT_EQ(Decide(nr), Errno(EPERM)) << "syscall " << nr;
  }
}

TEST_F(SeccompPolicyTest, AllowsOrdinarySyscalls) {
  for (int nr : {SYS_read, SYS_write, SYS_openat, SYS_execve, SYS_mmap, SYS_socket, SYS_connect,
                 SYS_bind, SYS_listen, SYS_fork, SYS_wait4, SYS_exit_group}) {
    EXPECT_EQ(Decide(nr), kAllow) << "syscall " << nr;
  }
}

TEST_F(SeccompPolicyTest, CloneWithNamespaceFlagsIsDenied) {
  EXPECT_EQ(Decide(SYS_clone, {SIGCHLD}), kAllow);
  EXPECT_EQ(Decide(SYS_clone,
                   {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                    CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID}),
            kAllow);
  EXPECT_EQ(Decide(SYS_clone, {CLONE_NEWUSER | SIGCHLD}), Errno(EPERM));
  EXPECT_EQ(Decide(SYS_clone, {CLONE_NEWNET | SIGCHLD}), Errno(EPERM));
  EXPECT_EQ(Decide(SYS_clone3), Errno(ENOSYS));
  EXPECT_EQ(Decide(SYS_unshare, {CLONE_NEWUSER}), Errno(EPERM));
  EXPECT_EQ(Decide(SYS_unshare, {CLONE_NEWNS | CLONE_NEWUSER}), Errno(EPERM));
  EXPECT_EQ(Decide(SYS_unshare, {0x80}), Errno(EPERM));  // CLONE_NEWTIME
  EXPECT_EQ(Decide(SYS_unshare, {CLONE_FILES}), kAllow);
}

TEST_F(SeccompPolicyTest, PersonalityOnlyAllowsLinux) {
  EXPECT_EQ(Decide(SYS_personality, {0}), kAllow);
  EXPECT_EQ(Decide(SYS_personality, {0xffffffff}), kAllow);
  EXPECT_EQ(Decide(SYS_personality, {0x20008}), kAllow);
  EXPECT_EQ(Decide(SYS_personality, {0x0040000}), Errno(EPERM));  // ADDR_NO_RANDOMIZE
  EXPECT_EQ(Decide(SYS_personality, {0x0400000}), Errno(EPERM));  // READ_IMPLIES_EXEC
  EXPECT_EQ(Decide(SYS_personality, {0x80040000}), Errno(EPERM));
  EXPECT_EQ(Decide(SYS_personality, {0x100040000}), Errno(EPERM));
}

TEST_F(SeccompPolicyTest, ForeignArchitecturesAreKilled) {
  seccomp_data d = X86_64Syscall(SYS_read);
  d.arch = AUDIT_ARCH_I386;
  auto r = EvaluateSeccomp(program_, d);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_KILL_PROCESS);
  // x32 system calls arrive with the x86-64 arch and bit 30 set.
  d = X86_64Syscall(SYS_read | 0x40000000);
  r = EvaluateSeccomp(program_, d);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(*r, kAllow);
}

}  // namespace
}  // namespace asb::runtime::native
