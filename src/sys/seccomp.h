// Seccomp-bpf: a deny-list policy as plain data, compiled to classic BPF with libseccomp in the
// daemon, and loaded as raw bytes in the sandbox's init right before execve (so the init
// itself needs no libseccomp and the filter is compiled once per daemon, not per sandbox).
// CompileSeccomp lives in target asb::sys_seccomp (links libseccomp); LoadSeccompBpf in asb::sys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace asb::sys {

struct SeccompArgCmp {
  enum class Op { kEq, kNe, kMaskedEq, kGt, kLt };
  unsigned arg = 0;  // 0..5
  Op op = Op::kEq;
  uint64_t value = 0;  // for kMaskedEq: (arg & mask) == value
  uint64_t mask = 0;
};

// One rule: `syscall` fails with `errno_value` when every comparison holds (or always when
// `when` is empty). Rules naming a syscall this architecture lacks are skipped.
struct SeccompRule {
  std::string syscall;
  int errno_value = 1;  // EPERM
  std::vector<SeccompArgCmp> when;
};

// Compiles a default-allow filter for the native architecture (other ABIs are killed: no
// i386 or x32 entry points around the rules). Returns the BPF program as bytes
// (struct sock_filter[]). kInvalidArgument names the rule libseccomp rejected.
[[nodiscard]] Result<std::string> CompileSeccomp(const std::vector<SeccompRule>& rules);

// Installs a BPF program produced by CompileSeccomp for the calling thread and its future
// children (PR_SET_NO_NEW_PRIVS must already be set, or CAP_SYS_ADMIN held). Returns the
// errno on failure (0 on success); async-signal-safe, so usable between fork and execve.
int LoadSeccompBpf(const void* program, size_t bytes);

}  // namespace asb::sys
