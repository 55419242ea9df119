// The daemon/asb-init protocol (init_spec.h): an InitSpec survives the JSON round trip field for
// field, and malformed specs and messages are errors, never crashes.
#include "runtime/native/init_spec.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace asb::runtime::native {
namespace {

InitSpec FullSpec() {
  InitSpec s;
  s.mode = "run";
  s.hostname = "sb-1";
  s.cgroup_procs = {"/sys/fs/cgroup/asb/sb-1/cgroup.procs"};
  s.mounts = {
      {.kind = MountOp::Kind::kMoveMount, .target = "/scratch", .fd = 6},
      {.kind = MountOp::Kind::kIdmapBind, .source = "/layers/a", .target = "/scratch/l0"},
      {.kind = MountOp::Kind::kMount,
       .source = "overlay",
       .target = "/r",
       .fstype = "overlay",
       .flags = 6,
       .data = "lowerdir=lower,upperdir=upper/u,workdir=upper/w"},
      {.kind = MountOp::Kind::kMkdir, .target = "/r/work", .mode = 0755, .uid = 1000, .gid = 1000},
      {.kind = MountOp::Kind::kTouch, .target = "/r/etc/hosts"},
      {.kind = MountOp::Kind::kSymlink, .source = "usr/bin", .target = "/r/bin"},
      {.kind = MountOp::Kind::kChdir, .target = "/scratch"},
      {.kind = MountOp::Kind::kWrite,
       .target = "/r/proc-meminfo",
       .data = "MemTotal: 1 kB\n",
       .mode = 0444},
  };
  s.root_dir = "/r";
  s.uid_map = "0 100000 65536";
  s.gid_map = "0 100000 65536";
  s.process = {.argv = {"/bin/app", "--port=8888"},
               .env = {"A=1"},
               .cwd = "/work",
               .uid = 1000,
               .gid = 1000};
  s.seccomp_bpf = std::string("\x20\x00\x00\x00\x04\x00\xff", 7);  // bytes, including NUL
  s.exit_file = "/state/exit.json";
  s.log_path = "/state/out.log";
  s.log_limit_bytes = 8 << 20;
  return s;
}

TEST(InitSpecTest, RoundTripKeepsEveryField) {
  const InitSpec in = FullSpec();
  // Through text, as it travels on the memfd.
  ASSERT_OK_AND_ASSIGN(Json parsed, ParseJson(DumpJson(InitSpecToJson(in))));
  ASSERT_OK_AND_ASSIGN(InitSpec out, InitSpecFromJson(parsed));
  EXPECT_EQ(out.mode, in.mode);
  EXPECT_EQ(out.hostname, in.hostname);
  EXPECT_EQ(out.cgroup_procs, in.cgroup_procs);
  ASSERT_EQ(out.mounts.size(), in.mounts.size());
  for (size_t i = 0; i < in.mounts.size(); ++i) {
    const MountOp &a = in.mounts[i], &b = out.mounts[i];
    EXPECT_EQ(b.kind, a.kind) << i;
    EXPECT_EQ(b.source, a.source) << i;
    EXPECT_EQ(b.target, a.target) << i;
    EXPECT_EQ(b.fstype, a.fstype) << i;
    EXPECT_EQ(b.flags, a.flags) << i;
    EXPECT_EQ(b.data, a.data) << i;
    EXPECT_EQ(b.mode, a.mode) << i;
    EXPECT_EQ(b.uid, a.uid) << i;
    EXPECT_EQ(b.gid, a.gid) << i;
    EXPECT_EQ(b.fd, a.fd) << i;
  }
  EXPECT_EQ(out.root_dir, in.root_dir);
  EXPECT_EQ(out.uid_map, in.uid_map);
  EXPECT_EQ(out.gid_map, in.gid_map);
  EXPECT_EQ(out.process.argv, in.process.argv);
  EXPECT_EQ(out.process.env, in.process.env);
  EXPECT_EQ(out.process.cwd, in.process.cwd);
  EXPECT_EQ(out.process.uid, in.process.uid);
  EXPECT_EQ(out.process.gid, in.process.gid);
  EXPECT_EQ(out.seccomp_bpf, in.seccomp_bpf);
  EXPECT_EQ(out.exit_file, in.exit_file);
  EXPECT_EQ(out.log_path, in.log_path);
  EXPECT_EQ(out.log_limit_bytes, in.log_limit_bytes);
}

TEST(InitSpecTest, MalformedSpecsAreInvalidArgument) {
  const Json good = InitSpecToJson(FullSpec());
  auto with = [&](const char* key, Json v) {
    Json j = good;
    j[key] = std::move(v);
    return j;
  };
  Json bad_kind = good;
  bad_kind["mounts"][0]["kind"] = "format-disk";
  Json bad_flags = good;
  bad_flags["mounts"][1]["flags"] = "ro";
  Json move_without_fd = good;
  move_without_fd["mounts"][0].erase("fd");
  const Json cases[] = {
      Json::array(),                                   // not an object
      with("mode", "daemonize"),                       // unknown mode
      with("mode", 7),                                 // wrong type
      with("process", Json{{"argv", Json::array()}}),  // nothing to run
      with("process", Json{{"argv", "/bin/sh"}}),      // argv not a list
      with("cgroup_procs", "one"),                     // not a list
      with("seccomp_bpf", "abc"),                      // odd-length hex
      with("seccomp_bpf", "zz"),                       // not hex
      with("log_limit_bytes", "8MiB"),                 // wrong type
      bad_kind,
      bad_flags,
      move_without_fd,
  };
  for (const Json& j : cases) {
    auto r = InitSpecFromJson(j);
    ASSERT_FALSE(r.has_value()) << DumpJson(j);
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << DumpJson(j);
  }
}

TEST(InitMessageTest, ParsesStartedAndFailedMessages) {
  ASSERT_OK_AND_ASSIGN(
      InitMessage started,
      ParseInitMessage(R"({"shim_pid":10,"shim_start":111,"init_pid":11,"init_start":222})"));
  EXPECT_EQ(started.shim_pid, 10);
  EXPECT_EQ(started.shim_start, 111u);
  EXPECT_EQ(started.init_pid, 11);
  EXPECT_EQ(started.init_start, 222u);
  EXPECT_TRUE(started.step.empty());

  ASSERT_OK_AND_ASSIGN(InitMessage failed, ParseInitMessage(R"({"step":"pivot_root","errno":1})"));
  EXPECT_EQ(failed.step, "pivot_root");
  EXPECT_EQ(failed.err, 1);
}

TEST(InitMessageTest, MalformedMessagesAreErrors) {
  for (const char* line : {"", "{", "not json", "[1,2]", "\"step\"", R"({"shim_pid":"ten"})",
                           R"({"step":5})", R"({"errno":"EPERM"})"}) {
    auto r = ParseInitMessage(line);
    EXPECT_FALSE(r.has_value()) << line;
  }
}

TEST(InitSpecTest, HexRoundTrip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  ASSERT_OK_AND_ASSIGN(std::string back, HexDecode(HexEncode(bytes)));
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(HexDecode("0g").has_value());
  EXPECT_FALSE(HexDecode("123").has_value());
}

}  // namespace
}  // namespace asb::runtime::native
