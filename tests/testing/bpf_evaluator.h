// A classic-BPF interpreter for seccomp programs, so tests can check what a compiled filter
// decides for a syscall without loading it (Sandbox2's bpf_evaluator.h, smaller).
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace asb::testing {

// Runs `program` on `data` and returns the filter's return value (SECCOMP_RET_* | data).
// kInvalidArgument on a malformed program (bad opcode, jump out of range, no return).
[[nodiscard]] Result<uint32_t> EvaluateSeccomp(const std::vector<sock_filter>& program,
                                               const seccomp_data& data);

// Convenience: a seccomp_data for x86-64 with syscall `nr` and args.
seccomp_data X86_64Syscall(int nr, std::vector<uint64_t> args = {});

// Decodes bytes as produced by seccomp_export_bpf into instructions.
std::vector<sock_filter> BpfFromBytes(const std::string& bytes);

}  // namespace asb::testing
