#include "runtime/runsc/host_setup.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/strings.h"

namespace asb::runtime::runsc {
namespace {

// Runs fn on a fresh thread and returns its result: namespace changes die with the thread.
template <class T, class F>
T OnFreshThread(F fn) {
  T out = MakeError(Code::kInternal, "thread did not run");
  std::thread t([&] { out = fn(); });
  t.join();
  return out;
}

Status BringUpLoopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return ErrnoUnexpected("socket for lo");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return ErrnoUnexpected("SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return ErrnoUnexpected("SIOCSIFFLAGS lo up");
  return OkStatus();
}

}  // namespace

Status CreatePersistentNetns(const std::string& path) {
  {
    UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!f) return ErrnoUnexpected("create netns file " + path);
  }
  Status st = OnFreshThread<Status>([&]() -> Status {
    if (::unshare(CLONE_NEWNET) != 0) return ErrnoUnexpected("unshare(CLONE_NEWNET)");
    ASB_RETURN_IF_ERROR(BringUpLoopback());
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return ErrnoUnexpected("bind-mount netns onto " + path);
    }
    return OkStatus();
  });
  if (!st) ::unlink(path.c_str());
  return st;
}

Status RemovePersistentNetns(const std::string& path) {
  ASB_RETURN_IF_ERROR(Unmount(path));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoUnexpected("unlink " + path);
  return OkStatus();
}

Result<UniqueFd> DialInNetns(const std::string& netns_path, uint16_t port) {
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return ErrnoUnexpected("open netns " + netns_path);
  return OnFreshThread<Result<UniqueFd>>([&]() -> Result<UniqueFd> {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) return ErrnoUnexpected("setns " + netns_path);
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return ErrnoUnexpected("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc;
    do {
      rc = ::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      int err = errno;
      std::string what = "connect 127.0.0.1:" + std::to_string(port) + " in sandbox";
      if (err == ECONNREFUSED) return MakeError(Code::kUnavailable, what + ": connection refused");
      return tl::unexpected(ErrnoError(err, what));
    }
    return s;
  });
}

ScopedMount& ScopedMount::operator=(ScopedMount&& o) noexcept {
  if (this != &o) {
    if (!target_.empty()) (void)Unmount(target_);
    target_ = std::exchange(o.target_, {});
  }
  return *this;
}

ScopedMount::~ScopedMount() {
  if (!target_.empty()) (void)Unmount(target_);
}

Result<ScopedMount> MountBlockDevice(const std::string& device, const std::string& fstype,
                                     const std::string& data, const std::string& target) {
  if (::mount(device.c_str(), target.c_str(), fstype.c_str(), MS_NOSUID | MS_NODEV,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return ErrnoUnexpected("mount " + fstype + " " + device + " on " + target);
  }
  return ScopedMount(target);
}

Result<ScopedMount> MountOverlay(const std::string& lower, const std::string& upper,
                                 const std::string& work, const std::string& target) {
  for (const std::string* p : {&lower, &upper, &work}) {
    if (p->find_first_of(",:") != std::string::npos) {
      return MakeError(Code::kInvalidArgument, "overlay path must not contain ',' or ':': " + *p);
    }
  }
  std::string data = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", target.c_str(), "overlay", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return ErrnoUnexpected("mount overlay on " + target);
  }
  return ScopedMount(target);
}

Status Unmount(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return OkStatus();
  if (errno == EINVAL || errno == ENOENT) return OkStatus();  // not a mount point / gone
  return ErrnoUnexpected("umount " + target);
}

bool IsMountPoint(const std::string& path) {
  // /proc/self/mountinfo field 5 is the mount point; paths with spaces are octal-escaped, and
  // ours never contain spaces (ids are [a-z0-9-]).
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mnt;
    ls >> id >> parent >> devno >> root >> mnt;
    if (mnt == path) return true;
  }
  return false;
}

}  // namespace asb::runtime::runsc
