#include "tests/testing/bpf_evaluator.h"

#include <linux/audit.h>

#include <cstring>

namespace asb::testing {

Result<uint32_t> EvaluateSeccomp(const std::vector<sock_filter>& program,
                                 const seccomp_data& data) {
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  const auto* raw = reinterpret_cast<const uint8_t*>(&data);
  size_t pc = 0;
  auto bad = [&](const char* why) {
    return MakeError(Code::kInvalidArgument, "bpf pc " + std::to_string(pc) + ": " + why);
  };
  // Classic BPF only jumps forward, so a program runs at most program.size() instructions.
  while (pc < program.size()) {
    const sock_filter& in = program[pc];
    uint32_t src = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (in.code == (BPF_LD | BPF_W | BPF_ABS)) {
          if (in.k + 4 > sizeof(data) || in.k % 4 != 0) return bad("load out of range");
          std::memcpy(&a, raw + in.k, 4);
        } else if (in.code == (BPF_LD | BPF_IMM)) {
          a = in.k;
        } else if (in.code == (BPF_LD | BPF_MEM)) {
          if (in.k >= BPF_MEMWORDS) return bad("mem index");
          a = mem[in.k];
        } else if (in.code == (BPF_LD | BPF_W | BPF_LEN)) {
          a = sizeof(data);
        } else {
          return bad("unsupported load");
        }
        ++pc;
        break;
      case BPF_LDX:
        if (in.code == (BPF_LDX | BPF_IMM)) {
          x = in.k;
        } else if (in.code == (BPF_LDX | BPF_MEM)) {
          if (in.k >= BPF_MEMWORDS) return bad("mem index");
          x = mem[in.k];
        } else if (in.code == (BPF_LDX | BPF_W | BPF_LEN)) {
          x = sizeof(data);
        } else {
          return bad("unsupported ldx");
        }
        ++pc;
        break;
      case BPF_ST:
      case BPF_STX:
        if (in.k >= BPF_MEMWORDS) return bad("mem index");
        mem[in.k] = BPF_CLASS(in.code) == BPF_ST ? a : x;
        ++pc;
        break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_MUL:
            a *= src;
            break;
          case BPF_DIV:
            if (src == 0) return bad("division by zero");
            a /= src;
            break;
          case BPF_MOD:
            if (src == 0) return bad("division by zero");
            a %= src;
            break;
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_XOR:
            a ^= src;
            break;
          case BPF_LSH:
            a = src >= 32 ? 0 : a << src;
            break;
          case BPF_RSH:
            a = src >= 32 ? 0 : a >> src;
            break;
          case BPF_NEG:
            a = static_cast<uint32_t>(-static_cast<int64_t>(a));
            break;
          default:
            return bad("unsupported alu op");
        }
        ++pc;
        break;
      case BPF_JMP: {
        if (BPF_OP(in.code) == BPF_JA) {
          pc += 1 + in.k;
          break;
        }
        bool taken;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ:
            taken = a == src;
            break;
          case BPF_JGT:
            taken = a > src;
            break;
          case BPF_JGE:
            taken = a >= src;
            break;
          case BPF_JSET:
            taken = (a & src) != 0;
            break;
          default:
            return bad("unsupported jump");
        }
        pc += 1 + (taken ? in.jt : in.jf);
        break;
      }
      case BPF_RET:
        return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX) {
          x = a;
        } else {
          a = x;
        }
        ++pc;
        break;
      default:
        return bad("unsupported class");
    }
  }
  return bad("fell off the end without a return");
}

seccomp_data X86_64Syscall(int nr, std::vector<uint64_t> args) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = AUDIT_ARCH_X86_64;
  for (size_t i = 0; i < args.size() && i < 6; ++i) d.args[i] = args[i];
  return d;
}

std::vector<sock_filter> BpfFromBytes(const std::string& bytes) {
  std::vector<sock_filter> out(bytes.size() / sizeof(sock_filter));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(sock_filter));
  return out;
}

}  // namespace asb::testing
