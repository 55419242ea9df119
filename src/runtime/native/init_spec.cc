#include "runtime/native/init_spec.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "base/unique_fd.h"

namespace asb::runtime::native {
namespace {

const char* KindName(MountOp::Kind k) {
  switch (k) {
    case MountOp::Kind::kMount:
      return "mount";
    case MountOp::Kind::kMkdir:
      return "mkdir";
    case MountOp::Kind::kTouch:
      return "touch";
    case MountOp::Kind::kSymlink:
      return "symlink";
    case MountOp::Kind::kChdir:
      return "chdir";
    case MountOp::Kind::kWrite:
      return "write";
    case MountOp::Kind::kMoveMount:
      return "move_mount";
    case MountOp::Kind::kIdmapBind:
      return "idmap_bind";
  }
  return "mount";
}

}  // namespace

Status WriteStateFile(const std::string& path, std::string_view data, int mode) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ErrnoUnexpected("open " + tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoUnexpected("write " + tmp);
    done += static_cast<size_t>(n);
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoUnexpected("rename " + path);
  return {};
}

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return MakeError(Code::kInvalidArgument, "odd-length hex");
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return MakeError(Code::kInvalidArgument, "bad hex digit");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

Json InitSpecToJson(const InitSpec& s) {
  Json mounts = Json::array();
  for (const MountOp& m : s.mounts) {
    mounts.push_back({{"kind", KindName(m.kind)},
                      {"source", m.source},
                      {"target", m.target},
                      {"fstype", m.fstype},
                      {"flags", m.flags},
                      {"data", m.data},
                      {"mode", m.mode},
                      {"uid", m.uid},
                      {"gid", m.gid},
                      {"fd", m.fd}});
  }
  return Json{{"mode", s.mode},
              {"hostname", s.hostname},
              {"cgroup_procs", s.cgroup_procs},
              {"mounts", mounts},
              {"root_dir", s.root_dir},
              {"uid_map", s.uid_map},
              {"gid_map", s.gid_map},
              {"process",
               {{"argv", s.process.argv},
                {"env", s.process.env},
                {"cwd", s.process.cwd},
                {"uid", s.process.uid},
                {"gid", s.process.gid}}},
              {"seccomp_bpf", HexEncode(s.seccomp_bpf)},
              {"exit_file", s.exit_file},
              {"log_path", s.log_path},
              {"log_limit_bytes", s.log_limit_bytes},
              {"join_netns", s.join_netns}};
}

Result<InitSpec> InitSpecFromJson(const Json& j) {
  if (!j.is_object()) return MakeError(Code::kInvalidArgument, "init spec is not an object");
  InitSpec s;
  // nlohmann's get<> throws on type mismatches; the spec comes from our own daemon, but a
  // mismatch must still be an error, not a crash.
  try {
    s.mode = j.value("mode", "");
    s.hostname = j.value("hostname", "");
    s.cgroup_procs = j.value("cgroup_procs", std::vector<std::string>{});
    for (const Json& m : j.value("mounts", Json::array())) {
      MountOp op;
      std::string kind = m.value("kind", "mount");
      if (kind == "mount")
        op.kind = MountOp::Kind::kMount;
      else if (kind == "mkdir")
        op.kind = MountOp::Kind::kMkdir;
      else if (kind == "touch")
        op.kind = MountOp::Kind::kTouch;
      else if (kind == "symlink")
        op.kind = MountOp::Kind::kSymlink;
      else if (kind == "chdir")
        op.kind = MountOp::Kind::kChdir;
      else if (kind == "write")
        op.kind = MountOp::Kind::kWrite;
      else if (kind == "move_mount")
        op.kind = MountOp::Kind::kMoveMount;
      else if (kind == "idmap_bind")
        op.kind = MountOp::Kind::kIdmapBind;
      else
        return MakeError(Code::kInvalidArgument, "unknown mount op kind " + kind);
      op.source = m.value("source", "");
      op.target = m.value("target", "");
      op.fstype = m.value("fstype", "");
      op.flags = m.value("flags", uint64_t{0});
      op.data = m.value("data", "");
      op.mode = m.value("mode", uint32_t{0});
      op.uid = m.value("uid", int64_t{-1});
      op.gid = m.value("gid", int64_t{-1});
      op.fd = m.value("fd", -1);
      if (op.kind == MountOp::Kind::kMoveMount && op.fd < 0) {
        return MakeError(Code::kInvalidArgument, "move_mount op without an fd");
      }
      s.mounts.push_back(std::move(op));
    }
    s.root_dir = j.value("root_dir", "");
    s.uid_map = j.value("uid_map", "");
    s.gid_map = j.value("gid_map", "");
    const Json p = j.value("process", Json::object());
    s.process.argv = p.value("argv", std::vector<std::string>{});
    s.process.env = p.value("env", std::vector<std::string>{});
    s.process.cwd = p.value("cwd", "/");
    s.process.uid = p.value("uid", uint32_t{0});
    s.process.gid = p.value("gid", uint32_t{0});
    ASB_ASSIGN_OR_RETURN(s.seccomp_bpf, HexDecode(j.value("seccomp_bpf", "")));
    s.exit_file = j.value("exit_file", "");
    s.log_path = j.value("log_path", "");
    s.log_limit_bytes = j.value("log_limit_bytes", int64_t{0});
    s.join_netns = j.value("join_netns", false);
  } catch (const std::exception& e) {
    return MakeError(Code::kInvalidArgument, std::string("init spec: ") + e.what());
  }
  if (s.mode != "run" && s.mode != "exec") {
    return MakeError(Code::kInvalidArgument, "init spec: mode must be run or exec");
  }
  if (s.process.argv.empty()) return MakeError(Code::kInvalidArgument, "init spec: empty argv");
  return s;
}

Result<InitMessage> ParseInitMessage(std::string_view line) {
  ASB_ASSIGN_OR_RETURN(Json j, ParseJson(line));
  if (!j.is_object()) return MakeError(Code::kInternal, "asb-init sent a non-object message");
  InitMessage m;
  try {
    m.shim_pid = j.value("shim_pid", int64_t{0});
    m.shim_start = j.value("shim_start", uint64_t{0});
    m.init_pid = j.value("init_pid", int64_t{0});
    m.init_start = j.value("init_start", uint64_t{0});
    m.step = j.value("step", "");
    m.err = j.value("errno", 0);
  } catch (const std::exception& e) {
    return MakeError(Code::kInternal, std::string("asb-init message: ") + e.what());
  }
  return m;
}

}  // namespace asb::runtime::native
