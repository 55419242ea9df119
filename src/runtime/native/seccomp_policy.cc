#include "runtime/native/seccomp_policy.h"

#include <errno.h>
#include <sched.h>

namespace asb::runtime::native {
namespace {

using sys::SeccompArgCmp;
using sys::SeccompRule;
using Op = SeccompArgCmp::Op;

// One rule per namespace flag: a rule's comparisons are ANDed, so "any of these bits" needs one
// rule each.
void DenyFlags(std::vector<SeccompRule>& rules, const char* syscall, bool include_time) {
  std::vector<uint64_t> flags = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                 CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
  // CLONE_NEWTIME (0x80) overlaps clone()'s exit-signal byte, so only unshare checks it.
  if (include_time) flags.push_back(0x00000080);
  for (uint64_t f : flags) {
    rules.push_back({syscall, EPERM, {{.arg = 0, .op = Op::kMaskedEq, .value = f, .mask = f}}});
  }
}

std::vector<SeccompRule> Build() {
  std::vector<SeccompRule> rules;
  // Filesystem and namespace control: the mount namespace belongs to the host's user
  // namespace anyway; this also closes the new mount API.
  for (const char* s : {"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
                        "fspick", "move_mount", "open_tree", "mount_setattr", "setns",
                        "open_by_handle_at", "name_to_handle_at"}) {
    rules.push_back({s, EPERM, {}});
  }
  // Looking into or controlling other processes and the kernel.
  for (const char* s : {"ptrace",
                        "process_vm_readv",
                        "process_vm_writev",
                        "bpf",
                        "perf_event_open",
                        "keyctl",
                        "add_key",
                        "request_key",
                        "kexec_load",
                        "kexec_file_load",
                        "init_module",
                        "finit_module",
                        "delete_module",
                        "io_uring_setup",
                        "io_uring_enter",
                        "io_uring_register",
                        "userfaultfd",
                        "swapon",
                        "swapoff",
                        "reboot",
                        "syslog",
                        "acct",
                        "quotactl",
                        "quotactl_fd",
                        "settimeofday",
                        "clock_settime",
                        "clock_adjtime",
                        "lookup_dcookie",
                        "iopl",
                        "ioperm",
                        "uselib",
                        "vhangup",
                        "nfsservctl",
                        "_sysctl"}) {
    rules.push_back({s, EPERM, {}});
  }
  rules.push_back({"clone3", ENOSYS, {}});
  DenyFlags(rules, "clone", false);
  DenyFlags(rules, "unshare", true);
  // personality: only the values Docker's default profile allows (0, PER_LINUX32 0x8,
  // UNAME26 0x20000, both, and the 0xffffffff query); ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC and
  // the rest are refused. libseccomp takes one comparison per argument in a rule, so this is
  // written bit by bit: with bit 31 clear, any other bit than 0x8 and 0x20000 is denied; with
  // bit 31 set, any clear bit below it is denied (only 0xffffffff passes).
  for (uint64_t bit = 0; bit < 31; ++bit) {
    const uint64_t b = uint64_t{1} << bit;
    if (b != 0x8 && b != 0x20000) {
      rules.push_back({"personality",
                       EPERM,
                       {{.arg = 0, .op = Op::kMaskedEq, .value = b, .mask = b | 0x80000000}}});
    }
    rules.push_back(
        {"personality",
         EPERM,
         {{.arg = 0, .op = Op::kMaskedEq, .value = 0x80000000, .mask = b | 0x80000000}}});
  }
  return rules;
}

}  // namespace

const std::vector<sys::SeccompRule>& SandboxSeccompPolicy() {
  static const std::vector<sys::SeccompRule> kRules = Build();
  return kRules;
}

}  // namespace asb::runtime::native
